#!/usr/bin/env bash
# Run every external benchmark (fio, sqlite3, ripgrep, coreutils) and print
# ONE summary table: program, workload, A median, B median, B/A, identical
# outputs?, reference arm. About 5 minutes on a 2-core machine (4.5 measured);
# MMAPIO_BENCH_QUICK=1 for a 1-2 minute version (62 s measured). See lib.sh for the knobs.
# Exit status 1 if any output differed under the shim or a check failed.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
bx_need_pkgs fio:fio sqlite3:sqlite3 rg:ripgrep sha256sum:coreutils cmp:diffutils \
	python3:python3 || exit 2

if [ -z "${MMAPIO_BENCH_DIR:-}" ]; then
	BX_DATA_TMP=$(mktemp -d /var/tmp/mmapio-bench.XXXXXX) || exit 2
	export BX_DATA_TMP
	trap 'rm -rf "$BX_DATA_TMP"' EXIT
fi
export MMAPIO_BENCH_OUT=${MMAPIO_BENCH_OUT:-$BX_ROOT/build/bench-external}
mkdir -p "$MMAPIO_BENCH_OUT" || exit 2
export BX_ROWS=$MMAPIO_BENCH_OUT/rows.jsonl BX_CHECKS=$MMAPIO_BENCH_OUT/checks.txt
: >"$BX_ROWS"
: >"$BX_CHECKS"

bx_find_lib
start=$(date +%s)
failed=0
for b in fio sqlite ripgrep coreutils memcg; do
	"$HERE/$b.sh" || failed=1
done
echo
echo "machine: $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs;" \
	"$(date -u '+%Y-%m-%d %H:%M UTC')"
echo "shim: $MMAPIO_LIB; $([ "$QUICK" = 1 ] && echo "quick, $RUNS" || echo "$RUNS (sha256sum, wc -w: 5)") timed runs per arm," \
	"$(($(date +%s) - start)) s in all; outputs in $MMAPIO_BENCH_OUT"
"$PY" "$HERE/summary.py" table "$BX_ROWS" "$BX_CHECKS"
exit "$failed"
