# shellcheck shell=bash
# lib.sh - what the external benchmarks share. Sourced by fio.sh, sqlite.sh,
# ripgrep.sh, coreutils.sh and run-all.sh (bash).
#
# Environment:
#   MMAPIO_BENCH_QUICK=1   smaller data and fewer runs (about 2 minutes in all)
#   MMAPIO_BENCH_DIR=DIR   where the data goes; kept afterwards and reused by
#                          the next run (default: a temp dir under /var/tmp,
#                          removed at the end)
#   MMAPIO_BENCH_OUT=DIR   where the outputs go: one .txt (mmapio-ab's table)
#                          and .json per workload, rows.jsonl, checks.txt
#                          (default: build/bench-external)
#   MMAPIO_BENCH_RUNS=N    timed runs per arm (default 7, quick 3)
#   MMAPIO_LIB=PATH        the shim (default: as mmapio-run finds it)

BX_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BX_ROOT=$(cd "$BX_HERE/../.." && pwd)
AB=$BX_ROOT/scripts/mmapio-ab
# shellcheck disable=SC2034 # used by the scripts that source this file
RUN=$BX_ROOT/scripts/mmapio-run
QUICK=${MMAPIO_BENCH_QUICK:-0}
[ "$QUICK" = 0 ] || QUICK=1
if [ "$QUICK" = 1 ]; then RUNS=${MMAPIO_BENCH_RUNS:-3}; else RUNS=${MMAPIO_BENCH_RUNS:-7}; fi
WARMUP=1
# Debian's python3 when there is one (no shims, quick start).
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi

bx_log() { echo "== $*" >&2; }

# bx_need_pkgs CMD:PACKAGE ...: install the Debian packages whose command is missing.
bx_need_pkgs() {
	local missing="" cp cmd pkg sudo=""
	for cp in "$@"; do
		cmd=${cp%%:*} pkg=${cp#*:}
		command -v "$cmd" >/dev/null 2>&1 || missing="$missing $pkg"
	done
	[ -z "$missing" ] && return 0
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	bx_log "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086 # $missing: package names, split on purpose
	if ! $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
		if ! { $sudo apt-get update -qq &&
			$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null; }; then
			echo "cannot install:$missing" >&2
			return 1
		fi
	fi
}

# bx_setup: data and output directories, rows and checks files.
bx_setup() {
	if [ -n "${MMAPIO_BENCH_DIR:-}" ]; then
		DATA=$MMAPIO_BENCH_DIR
		mkdir -p "$DATA" || exit 2
	elif [ -n "${BX_DATA_TMP:-}" ]; then
		DATA=$BX_DATA_TMP # run-all.sh made it and removes it
	else
		DATA=$(mktemp -d /var/tmp/mmapio-bench.XXXXXX) || exit 2
		BX_OWN_TMP=$DATA
		trap 'rm -rf "$BX_OWN_TMP"' EXIT
	fi
	OUT=${MMAPIO_BENCH_OUT:-$BX_ROOT/build/bench-external}
	mkdir -p "$OUT" || exit 2
	ROWS=${BX_ROWS:-$OUT/rows.jsonl}
	CHECKS=${BX_CHECKS:-$OUT/checks.txt}
	if [ -z "${BX_ROWS:-}" ]; then : >"$ROWS"; : >"$CHECKS"; fi
	BX_FAILED=0
	bx_find_lib
	cd "$DATA" || exit 2
}

# bx_find_lib: export MMAPIO_LIB, found as mmapio-run and mmapio-ab find it.
bx_find_lib() {
	local c
	if [ -z "${MMAPIO_LIB:-}" ]; then
		for c in "$BX_ROOT/build/libmmapio_preload.so" "$BX_ROOT/lib/libmmapio_preload.so" \
			/usr/local/lib/libmmapio_preload.so /usr/lib/libmmapio_preload.so; do
			[ -f "$c" ] && { export MMAPIO_LIB=$c; break; }
		done
	fi
	[ -f "${MMAPIO_LIB:-}" ] || { echo "libmmapio_preload.so not found: run make (or set MMAPIO_LIB)" >&2; exit 2; }
}

# bx_ab NAME PROGRAM WORKLOAD [row options] -- [mmapio-ab options] -- command...
# Runs mmapio-ab (table on stdout and in $OUT/NAME.txt, JSON in $OUT/NAME.json)
# and appends its rows to $ROWS. Row options: --iops-log FILE --iops-key read|write
bx_ab() {
	local name=$1 program=$2 workload=$3
	shift 3
	local rowopts=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do rowopts+=("$1"); shift; done
	shift
	bx_log "$program: $workload"
	"$AB" --runs "$RUNS" --warmup "$WARMUP" --json "$OUT/$name.json" "$@" | tee "$OUT/$name.txt"
	local rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 1 ]; then
		BX_FAILED=1
		echo "$program $workload: outputs DIFFER under the shim (see $OUT/$name.txt)" >>"$CHECKS"
	elif [ "$rc" -ne 0 ]; then
		BX_FAILED=1
		echo "$program $workload: mmapio-ab failed (exit $rc)" >>"$CHECKS"
		return 0
	fi
	"$PY" "$BX_HERE/summary.py" row --json "$OUT/$name.json" --program "$program" \
		--workload "$workload" --warmup "$WARMUP" ${rowopts[@]+"${rowopts[@]}"} >>"$ROWS"
	echo
}

# bx_check NAME EXPECTED -- command...: the command's stdout must be EXPECTED.
bx_check() {
	local name=$1 want=$2 got
	shift 3
	got=$("$@" 2>"$OUT/check.err")
	if [ "$got" = "$want" ]; then
		echo "ok: $name" | tee -a "$CHECKS"
	else
		BX_FAILED=1
		echo "FAILED: $name: got '$(printf %s "$got" | head -c 300)' (stderr: $(head -c 300 "$OUT/check.err"))" |
			tee -a "$CHECKS"
	fi
}

# bx_finish: the summary table of this script's rows (unless run-all.sh prints one for all);
# returns 1 if an output differed or a check failed.
bx_finish() {
	if [ -z "${BX_ROWS:-}" ]; then
		"$PY" "$BX_HERE/summary.py" table "$ROWS" "$CHECKS"
	fi
	return "$BX_FAILED"
}
