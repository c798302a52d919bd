#!/usr/bin/env bash
# Tests of scripts/mmapio-run and scripts/mmapio-ab on small real programs
# (cat, sh, date) and a small generated file in a temp dir.
#
#   tests/scripts/run.sh BUILD_DIR
#
# Prints "ok NAME" or "FAIL NAME: why" per case and ends with one line
# "N passed, M failed". Exit status 1 if anything failed. About 10-20 s.
# shellcheck disable=SC2016 # check's conditions are strings that eval expands when it runs them
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
t_build_dir BUILD_DIR "$@"
ROOT=$(cd "$HERE/../.." && pwd)
RUN=$ROOT/scripts/mmapio-run
AB=$ROOT/scripts/mmapio-ab

# A clean environment: no inherited preload or shim settings; the build's library.
t_clean_env
export MMAPIO_LIB=$BUILD/libmmapio_preload.so

t_tmpdir scripts-tests
cd "$TMP" || exit 2

# check NAME CONDITION-COMMAND... : ok if the command succeeds, else FAIL with $why
why=""
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else fail "$name" "${why:-condition failed: $*}"; fi
	why=""
}

if [ ! -f "$MMAPIO_LIB" ]; then
	fail "library" "$MMAPIO_LIB not found (build first: make)"
	t_summary
	exit 1
fi

head -c 1048576 /dev/urandom >data.bin # 1 MiB
printf 'hello\nworld\n' >small.txt

# ---------------------------------------------------------------- mmapio-run

"$RUN" -- sh -c 'exit 3'
rc=$?
why="exit status $rc, expected 3"
check "run: exit status passed through" [ "$rc" -eq 3 ]

"$RUN" -- sh -c 'kill -TERM $$' 2>/dev/null
rc=$?
why="exit status $rc, expected 143"
check "run: killed by signal N gives 128+N" [ "$rc" -eq 143 ]

"$RUN" --bogus -- true >out 2>err
rc=$?
why="exit $rc, stderr: $(head -c 200 err)"
check "run: unknown option exits 2 with a message" \
	eval '[ "$rc" -eq 2 ] && grep -q "unknown option" err'

"$RUN" --mode always >out 2>err
rc=$?
why="exit $rc, stderr: $(head -c 200 err)"
check "run: missing command exits 2" eval '[ "$rc" -eq 2 ] && grep -qi "no command" err'

"$RUN" --set NOEQUALS -- true >out 2>err
rc=$?
why="exit $rc, stderr: $(head -c 200 err)"
check "run: --set without = exits 2" eval '[ "$rc" -eq 2 ] && grep -q "VAR=VALUE" err'

"$RUN" --mode sometimes -- true >out 2>err
rc=$?
why="exit $rc"
check "run: bad --mode exits 2" [ "$rc" -eq 2 ]

"$RUN" --help >out 2>&1
rc=$?
why="exit $rc"
check "run: --help" eval '[ "$rc" -eq 0 ] && grep -q "usage: mmapio-run" out'

# cat's stdout is a pipe: with a regular file as stdout, GNU cat copies
# with copy_file_range, which no read is involved in.
"$RUN" --mode always --stats -- cat data.bin 2>err | cat >out
rc=${PIPESTATUS[0]}
served=$(sed -n 's/.*stats: \([0-9]*\) served calls.*/\1/p' err | head -1)
why="exit $rc, served '${served}', stderr: $(head -c 300 err)"
check "run: --stats shows served calls for cat of 1 MiB (--mode always)" \
	eval '[ "$rc" -eq 0 ] && [ "${served:-0}" -gt 0 ] && grep -q "data.bin" err && cmp -s out data.bin'

"$RUN" --mode always --stats="$TMP/stats.jsonl" -- cat data.bin 2>err | cat >out
rc=${PIPESTATUS[0]}
why="exit $rc, stats: $(head -c 300 stats.jsonl 2>/dev/null)"
check "run: --stats=PATH writes the shim's JSON lines" \
	eval '[ "$rc" -eq 0 ] && grep -q "\"served_calls\":[1-9]" stats.jsonl && ! [ -s err ]'

LD_PRELOAD=/nonexistent-preload-marker.so "$RUN" --set FOO=bar=baz -- \
	sh -c 'echo "$LD_PRELOAD|$FOO|$MMAPIO_MODE"' >out 2>/dev/null
want="/nonexistent-preload-marker.so:$(readlink -f "$MMAPIO_LIB")|bar=baz|"
why="got '$(cat out)', expected '$want'"
check "run: appends to LD_PRELOAD, --set VAR=VALUE" [ "$(cat out)" = "$want" ]

"$RUN" --mode never -- sh -c 'echo "$MMAPIO_MODE"' >out 2>/dev/null
why="got '$(cat out)'"
check "run: --mode sets MMAPIO_MODE" [ "$(cat out)" = "never" ]

# The command is a program even when a shell builtin has the same name.
"$RUN" -- echo via-program >out 2>/dev/null
pid_check=$("$RUN" -- sh -c 'tr "\0" "\n" </proc/$$/environ | grep -c "^LD_PRELOAD="' 2>/dev/null)
why="echo output '$(cat out)', LD_PRELOAD seen by child: '$pid_check'"
check "run: runs a program, environment reaches it" \
	eval '[ "$(cat out)" = via-program ] && [ "$pid_check" = 1 ]'

"$RUN" -- no-such-command-xyz >out 2>err
rc=$?
why="exit $rc"
check "run: command not found exits 127" [ "$rc" -eq 127 ]

# ---------------------------------------------------------------- mmapio-ab

"$AB" --runs 3 -- cat data.bin >ab.out 2>ab.err
rc=$?
why="exit $rc; $(tail -5 ab.out) $(tail -3 ab.err)"
check "ab: cat FILE --runs 3 exits 0" [ "$rc" -eq 0 ]
why="$(head -20 ab.out)"
check "ab: prints the table (A and B rows, B/A ratio)" \
	eval 'grep -q "^A  no shim" ab.out && grep -q "^B  MMAPIO_MODE=auto" ab.out && grep -q "B/A" ab.out && grep -q "median" ab.out'
why="$(grep outputs ab.out)"
check "ab: outputs identical" grep -q "outputs: IDENTICAL" ab.out

"$AB" --runs 3 --mode always -- cat data.bin >ab.out 2>ab.err
rc=$?
why="exit $rc; $(grep -A3 'shim stats' ab.out)"
check "ab: B stats show served calls and the per-file decision" \
	eval '[ "$rc" -eq 0 ] && grep -qE "shim stats, B .*: [1-9][0-9]* calls served" ab.out && grep -qE "map .*data.bin  \(MMAPIO_MODE=always\)" ab.out'

"$AB" --runs 3 -- date +%N >ab.out 2>ab.err
rc=$?
why="exit $rc; $(grep -A2 outputs ab.out)"
check "ab: non-deterministic command exits non-zero, outputs differ" \
	eval '[ "$rc" -ne 0 ] && grep -q "outputs: DIFFER" ab.out && grep -q "stdout differs" ab.out'

"$AB" --runs 3 --json ab.json -- cat small.txt >ab.out 2>ab.err
rc=$?
keys=$(python3 - ab.json <<'EOF' 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
need = ["command", "arms", "runs", "medians", "ratios", "stats", "identical", "differences"]
miss = [k for k in need if k not in d]
arms = d.get("arms", [])
if len(arms) != 2 or arms[0]["name"] != "A" or arms[1]["name"] != "B":
    miss.append("arms A,B")
for a in arms:
    if len(a.get("runs", [])) != 3:
        miss.append("3 runs in " + a.get("name", "?"))
    for k in ("wall_s", "user_s", "sys_s", "maxrss_kib"):
        if k not in a.get("summary", {}):
            miss.append(a.get("name", "?") + ".summary." + k)
if "B" not in d.get("ratios", {}) or "median" not in d["ratios"]["B"]:
    miss.append("ratios.B.median")
if d.get("identical") is not True:
    miss.append("identical=true")
if "served_calls" not in (d.get("stats", {}).get("B") or {}):
    miss.append("stats.B.served_calls")
print(" ".join(miss) if miss else "ok")
EOF
)
why="exit $rc; missing: $keys"
check "ab: --json parses and has the expected keys" eval '[ "$rc" -eq 0 ] && [ "$keys" = ok ]'

"$AB" --runs 2 --json sweep.json --sweep MMAPIO_MIN_SIZE=4K,1G -- cat data.bin >ab.out 2>ab.err
rc=$?
narms=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(a["kind"]=="B" for a in d["arms"]), d["best"] is not None)' sweep.json 2>&1)
why="exit $rc; B arms/best: $narms; $(grep -E '^B\[' ab.out)"
check "ab: --sweep with two values gives two B arms and names the best" \
	eval '[ "$rc" -eq 0 ] && [ "$narms" = "2 True" ] && grep -q "^B\[MMAPIO_MIN_SIZE=4K\]" ab.out && grep -q "^B\[MMAPIO_MIN_SIZE=1G\]" ab.out && grep -q "^best: MMAPIO_MIN_SIZE=" ab.out'

# The command writes whether it ran under the shim into a file: stdout is
# identical (empty), the file is not.
"$AB" --runs 2 --compare-file marker.txt -- sh -c 'echo "${LD_PRELOAD:-none}" > marker.txt' >ab.out 2>ab.err
rc=$?
why="exit $rc; $(grep -A3 outputs ab.out)"
check "ab: --compare-file detects a difference (which run, which file)" \
	eval '[ "$rc" -eq 1 ] && grep -q "outputs: DIFFER" ab.out && grep -q "B run 1: file marker.txt differs" ab.out'

"$AB" --runs 2 --compare-file copy.bin -- sh -c 'cat data.bin > copy.bin' >ab.out 2>ab.err
rc=$?
why="exit $rc; $(grep -A3 outputs ab.out)"
check "ab: --compare-file identical file exits 0" \
	eval '[ "$rc" -eq 0 ] && grep -q "outputs: IDENTICAL" ab.out && grep -q "copy.bin sha256" ab.out'

"$AB" --runs 2 -- sh -c 'exit 4' >ab.out 2>ab.err
rc=$?
why="exit $rc; $(grep -A1 outputs ab.out)"
check "ab: same non-zero exit status in every run is identical" \
	eval '[ "$rc" -eq 0 ] && grep -q "exit status 4" ab.out'

"$AB" --runs 2 --cold data.bin --cold "$TMP" -- cat data.bin >ab.out 2>ab.err
rc=$?
why="exit $rc; $(cat ab.err | head -3)"
check "ab: --cold FILE and DIR" eval '[ "$rc" -eq 0 ] && grep -q "page cache dropped" ab.out'

"$AB" --runs 2 --ref 'cat small.txt' -- cat small.txt >ab.out 2>ab.err
rc=$?
why="exit $rc; $(grep -E '^ref' ab.out)"
check "ab: --ref adds a reference arm" eval '[ "$rc" -eq 0 ] && grep -q "^ref  (no shim) cat small.txt" ab.out && grep -q "ref outputs: same as A" ab.out'

"$AB" --bogus -- true >ab.out 2>ab.err
rc1=$?
"$AB" --runs 2 >ab.out 2>ab.err
rc2=$?
"$AB" --set NOEQ -- true >ab.out 2>ab.err
rc3=$?
why="exits $rc1 $rc2 $rc3"
check "ab: usage errors exit 2" eval '[ "$rc1" -eq 2 ] && [ "$rc2" -eq 2 ] && [ "$rc3" -eq 2 ]'

"$AB" --help >ab.out 2>&1
rc=$?
why="exit $rc"
check "ab: --help" eval '[ "$rc" -eq 0 ] && grep -q -- "--compare-file" ab.out'

# --plot: with gnuplot, a PNG; without it, exit 2 and how to install it.
if command -v gnuplot >/dev/null 2>&1; then
	"$AB" --runs 2 --plot plot.png -- cat small.txt >ab.out 2>ab.err
	rc=$?
	magic=$(head -c 4 plot.png 2>/dev/null | od -An -c | tr -d ' ')
	why="exit $rc, magic '$magic', $(head -3 ab.err)"
	check "ab: --plot writes a PNG" eval '[ "$rc" -eq 0 ] && [ "$magic" = "211PNG" ]'
fi
mkdir -p nognuplot
ln -sf "$(python3 -c "import sys; print(sys.executable)")" nognuplot/python3
PATH=$TMP/nognuplot "$TMP/nognuplot/python3" "$AB" --runs 1 --plot p.svg -- /bin/true >ab.out 2>ab.err
rc=$?
why="exit $rc, $(cat ab.err)"
check "ab: --plot without gnuplot exits 2 and says how to install it" \
	eval '[ "$rc" -eq 2 ] && grep -q "gnuplot-nox" ab.err'

t_summary
