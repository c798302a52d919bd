#!/usr/bin/env bash
# Tests of scripts/mmapio-run and scripts/mmapio-ab on small real programs
# (cat, sh, date) and a small generated file in a temp dir.
#
#   tests/scripts/run.sh BUILD_DIR
#
# Prints "ok NAME" or "FAIL NAME: why" per case and ends with one line
# "N passed, M failed, K skipped". Exit status 1 if anything failed. About 10-20 s.
# check() evaluates its condition when it is called: the single quotes around
# conditions are meant.
# shellcheck disable=SC2016
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
why="exit $rc; $(head -3 ab.err)"
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

# ---------------------------------------------------------------- mmapio-ab hooks and exports

# --prepare runs before every run (2 arms x (1 warm-up + 3 timed) = 8), each
# time right before it (the command sees the state the prepare command left,
# then spoils it), and outside the shim (the B arm has the shim and
# MMAPIO_MODE=always from the environment; the prepare command has neither).
rm -f prep.log state
MMAPIO_MODE=always "$AB" --runs 3 --warmup 1 \
	--prepare 'echo fresh > state; echo "${LD_PRELOAD:-none} ${MMAPIO_MODE:-unset}" >> prep.log' \
	-- sh -c 'cat state; echo spoiled > state' >ab.out 2>ab.err
rc=$?
n=$(wc -l <prep.log 2>/dev/null || echo 0)
outside=$(grep -c '^none unset$' prep.log 2>/dev/null)
why="exit $rc; prepare ran $n times, $outside without the shim; $(grep -E 'outputs|prepare' ab.out) $(head -3 ab.err)"
check "ab: --prepare runs before each of the 8 runs, outside the shim" \
	eval '[ "$rc" -eq 0 ] && [ "$n" -eq 8 ] && [ "$outside" -eq 8 ] && grep -q "outputs: IDENTICAL in all 8" ab.out && grep -q -- "--prepare (sh -c, without the shim, 8 times)" ab.out'

# The same command without --prepare: the second run sees "spoiled".
rm -f state
"$AB" --runs 2 -- sh -c 'cat state 2>/dev/null; echo spoiled > state' >ab.out 2>ab.err
rc=$?
why="exit $rc; $(grep -A2 outputs ab.out)"
check "ab: (control) without --prepare the same command differs" \
	eval '[ "$rc" -eq 1 ] && grep -q "outputs: DIFFER" ab.out'

# A writer, reset by --prepare instead of a 'sh -c' wrapper: only sqlite3
# runs under the shim (1 process in the stats).
if command -v sqlite3 >/dev/null 2>&1; then
	cat >q.sql <<'SQL'
create table t(k integer primary key, v text);
with recursive n(i) as (select 1 union all select i + 1 from n where i < 2000)
insert into t select i, printf('%08d', i * 7) from n;
select count(*), sum(k), max(v) from t;
SQL
	"$AB" --runs 2 --mode always --prepare 'rm -f t.db t.db-journal' --stdin q.sql -- sqlite3 t.db >ab.out 2>ab.err
	rc=$?
	why="exit $rc; $(grep -E 'outputs|shim stats' ab.out) $(head -3 ab.err)"
	check "ab: --prepare resets a sqlite3 database; only sqlite3 is under the shim" \
		eval '[ "$rc" -eq 0 ] && grep -q "outputs: IDENTICAL" ab.out && grep -qE "shim stats, B \(B warm-up 1, 1 process\): [1-9][0-9]* calls served" ab.out'
	rm -f t.db t.db-journal
	"$AB" --runs 2 --stdin q.sql -- sqlite3 t.db >ab.out 2>ab.err
	rc=$?
	why="exit $rc; $(grep outputs ab.out)"
	check "ab: (control) the sqlite3 writer without --prepare differs" \
		eval '[ "$rc" -eq 1 ] && grep -q "outputs: DIFFER" ab.out'
fi

"$AB" --runs 2 --prepare 'echo prepare-said-this; exit 3' -- true >ab.out 2>ab.err
rc=$?
why="exit $rc; stderr: $(head -c 300 ab.err)"
check "ab: a failing --prepare stops with exit 2 and shows its output" \
	eval '[ "$rc" -eq 2 ] && grep -q -- "--prepare command failed (exit status 3)" ab.err && grep -q "prepare-said-this" ab.err'

# --prepare is not timed: 0.3 s of it before each run of 'true'.
"$AB" --runs 2 --warmup 0 --prepare 'sleep 0.3' --json slow.json -- true >ab.out 2>ab.err
rc=$?
slowest=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(max(r["wall_s"] for r in d["runs"]))' slow.json 2>&1)
why="exit $rc; slowest run's wall time $slowest s"
check "ab: --prepare time is not in the timings" \
	eval '[ "$rc" -eq 0 ] && python3 -c "import sys; sys.exit(not float(sys.argv[1]) < 0.25)" "$slowest"'

# --setup once before the first run (the command needs its file), --cleanup
# once after the last (the file is gone afterwards).
rm -f setup.count cleanup.count input.txt
"$AB" --runs 2 --setup 'echo x >> setup.count; echo data > input.txt' \
	--cleanup 'rm input.txt; echo x >> cleanup.count' -- cat input.txt >ab.out 2>ab.err
rc=$?
ns=$(wc -l <setup.count 2>/dev/null || echo 0)
nc=$(wc -l <cleanup.count 2>/dev/null || echo 0)
left=$([ -e input.txt ] && echo left || echo removed)
why="exit $rc; setup ran $ns, cleanup $nc times; input.txt $left; $(grep outputs ab.out)"
check "ab: --setup once before, --cleanup once after all runs" \
	eval '[ "$rc" -eq 0 ] && [ "$ns" -eq 1 ] && [ "$nc" -eq 1 ] && [ "$left" = removed ] && grep -q "stdout sha256 [0-9a-f]*, 5 bytes" ab.out'

rm -f cleaned
"$AB" --runs 2 --prepare 'exit 1' --cleanup 'touch cleaned' -- true >ab.out 2>ab.err
rc1=$?
c1=$([ -e cleaned ] && echo yes || echo no)
rm -f cleaned ran
"$AB" --runs 2 --setup 'exit 4' --cleanup 'touch cleaned' -- touch ran >ab.out 2>ab.err
rc2=$?
c2=$([ -e cleaned ] && echo yes || echo no)
r2=$([ -e ran ] && echo yes || echo no)
why="prepare failure: exit $rc1, cleanup ran: $c1; setup failure: exit $rc2, cleanup ran: $c2, command ran: $r2"
check "ab: --cleanup also after a failed --prepare; a failed --setup runs nothing" \
	eval '[ "$rc1" -eq 2 ] && [ "$c1" = yes ] && [ "$rc2" -eq 2 ] && [ "$c2" = no ] && [ "$r2" = no ] && grep -q -- "--setup command failed (exit status 4)" ab.err'

"$AB" --runs 2 --cleanup 'exit 5' -- true >ab.out 2>ab.err
rc=$?
why="exit $rc; $(head -3 ab.err)"
check "ab: a failing --cleanup exits 2 after the report" \
	eval '[ "$rc" -eq 2 ] && grep -q "outputs: IDENTICAL" ab.out && grep -q -- "--cleanup command failed (exit status 5)" ab.err'

"$AB" --runs 2 --warmup 3 --json w3.json -- cat small.txt >ab.out 2>ab.err
rc1=$?
"$AB" --runs 2 --warmup 0 --json w0.json -- cat small.txt >ab.out 2>ab.err
rc2=$?
phases=$(python3 - w3.json w0.json <<'PY' 2>&1
import collections, json, sys
out = []
for p in sys.argv[1:]:
    d = json.load(open(p))
    c = collections.Counter((r["arm"], r["phase"]) for r in d["runs"])
    out.append("%d:%d,%d,%d,%d" % (d["warmup_rounds"], c[("A", "warmup")], c[("B", "warmup")],
                                   c[("A", "timed")], c[("B", "stats")]))
print(" ".join(out))
PY
)
why="exits $rc1 $rc2; warmup:A warm-ups,B warm-ups,A timed,B stats runs = $phases"
check "ab: --warmup N runs N warm-up rounds per arm (0: an extra stats run)" \
	eval '[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ] && [ "$phases" = "3:3,3,2,0 0:0,0,2,1" ]'

"$AB" --runs 3 --sweep MMAPIO_MIN_SIZE=4K,1G --export-json hf.json -- cat small.txt >ab.out 2>ab.err
rc=$?
hf=$(python3 - hf.json <<'PY' 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
res = d.get("results", [])
bad = []
if [r.get("arm") for r in res] != ["A", "B[MMAPIO_MIN_SIZE=4K]", "B[MMAPIO_MIN_SIZE=1G]"]:
    bad.append("arms %s" % [r.get("arm") for r in res])
for r in res:
    for k in ("command", "mean", "stddev", "median", "user", "system", "min", "max", "times",
              "exit_codes", "parameters", "identical"):
        if k not in r:
            bad.append("%s.%s" % (r.get("arm"), k))
    if len(r.get("times", [])) != 3 or r.get("exit_codes") != [0, 0, 0]:
        bad.append("%s: times/exit_codes" % r.get("arm"))
    elif not r["min"] <= r["median"] <= r["max"] or abs(r["mean"] - sum(r["times"]) / 3) > 1e-9:
        bad.append("%s: statistics" % r.get("arm"))
if len(res) == 3 and res[2]["parameters"].get("MMAPIO_MIN_SIZE") != "1G":
    bad.append("parameters of the 1G arm: %s" % res[2]["parameters"])
if len(res) == 3 and "cat small.txt" not in res[1]["command"]:
    bad.append("command: %s" % res[1]["command"])
print(" ".join(bad) if bad else "ok")
PY
)
why="exit $rc; $hf"
check "ab: --export-json in hyperfine's layout, one result per arm" eval '[ "$rc" -eq 0 ] && [ "$hf" = ok ]'

# A '|' in a label (the --ref command) must not break the table.
"$AB" --runs 2 --ref 'cat small.txt | cat' --export-markdown ab.md -- cat small.txt >ab.out 2>ab.err
rc=$?
rows=$(grep -c -e '^| A  ' -e '^| B  ' -e '^| ref  ' ab.md)
cols=$(grep '^|' ab.md | sed 's/\\|//g' | awk -F'|' '{print NF}' | sort -u | tr '\n' ' ')
why="exit $rc; $rows arm rows, field counts '$cols'; $(cat ab.md)"
check "ab: --export-markdown writes a table (3 arms, 6 columns each) and the proof" \
	eval '[ "$rc" -eq 0 ] && [ "$rows" -eq 3 ] && [ "$cols" = "8 " ] && grep -q "^| :--- | ---: |" ab.md && grep -q "^outputs: IDENTICAL" ab.md && grep -q "^.cat small.txt., 2 timed runs" ab.md'

# The progress line: only when stderr is a terminal.
progress=$(python3 - "$AB" <<'PY' 2>&1
import os, pty, subprocess, sys
master, slave = pty.openpty()
p = subprocess.Popen([sys.argv[1], "--runs", "2", "--", "cat", "small.txt"],
                     stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL)
os.close(slave)
buf = b""
while True:
    try:
        b = os.read(master, 4096)
    except OSError:
        break
    if not b:
        break
    buf += b
p.wait()
t = buf.decode("utf-8", "replace")
print("exit=%d tty_runs=%d last=%s cleared=%s" % (
    p.returncode, t.count("mmapio-ab: run "), "run 6/6: B run 2" in t, t.endswith("\r")))
PY
)
"$AB" --runs 2 -- cat small.txt >ab.out 2>ab.err
rc=$?
why="on a pty: $progress; stderr to a file: exit $rc, '$(tr '\r' '~' <ab.err | head -c 200)'"
check "ab: live progress line on a terminal only" \
	eval '[ "$progress" = "exit=0 tty_runs=6 last=True cleared=True" ] && [ "$rc" -eq 0 ] && ! [ -s ab.err ]'

# Without '--': the command starts after the new options' values.
"$AB" --runs 1 --prepare true --cleanup true cat small.txt >ab.out 2>ab.err
rc=$?
why="exit $rc; $(head -3 ab.err)"
check "ab: new options without '--' before the command" \
	eval '[ "$rc" -eq 0 ] && grep -q "^mmapio-ab: cat small.txt" ab.out'

t_summary
