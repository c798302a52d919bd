#!/usr/bin/env bash
# Differential tests of libmmapio_preload.so: every case runs once without the
# shim and once with it, in the same freshly emptied scratch directory, and
# the outputs (stdout+stderr and the exit status) must match byte for byte.
#
#   tests/preload/run.sh BUILD_DIR
#
# BUILD_DIR holds libmmapio_preload.so and tests/preload/prog_* (each built
# twice: prog_X at -O0 and prog_X.fortify at -O2 -D_FORTIFY_SOURCE=2).
#
# Cases:
#   prog_X[.fortify]        with MMAPIO_MODE=always: identical output, valid
#                           stats (MMAPIO_STATS JSON Lines), served_calls > 0
#   prog_X[.fortify]/never  with MMAPIO_MODE=never: identical output, nothing served
#   real programs           cat, sha256sum, cmp, cp, dd, head, tail, sqlite3,
#                           python3: identical output; where the program reads
#                           the data file with read/pread the stats must show
#                           served calls on it; where it does not (stdio,
#                           copy_file_range) the case says it was checked for
#                           identical output only
#   include/exclude globs, MMAPIO_STATS=stderr
#
# Prints "ok CASE", "FAIL CASE: reason" or "skip CASE: reason" per case, then
# "N passed, M failed, K skipped". Exits 1 if anything failed.
# Environment knobs (not MMAPIO_*, which are cleared):
#   PRELOAD_TEST_ONLY=REGEX         run only cases whose name matches
#   PRELOAD_TEST_TIMEOUT=SECONDS    per command (default 300)
#   PRELOAD_TEST_DETERMINISM=1      also run every baseline twice and compare
#   PRELOAD_TEST_KEEP=1             keep the artifacts directory even when all pass
#   PRELOAD_TEST_SHIM_ENV="V=x ..." the shim arm's settings (default MMAPIO_MODE=always)
#   PRELOAD_TEST_PRELOAD="a.so b.so" the shim arms' LD_PRELOAD (default the library; for a
#                                   sanitizer build: its runtime first, then the library)
#   PRELOAD_TEST_EXPECT=maybe       only identical output is required (for settings,
#                                   such as auto, under which a case may not be served)
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
t_build_dir BUILD_DIR "$@"
LIB=$BUILD/libmmapio_preload.so
PROGS=$BUILD/tests/preload
PY=${PYTHON:-python3}
TO=${PRELOAD_TEST_TIMEOUT:-300}
ONLY=${PRELOAD_TEST_ONLY:-}
DET=${PRELOAD_TEST_DETERMINISM:-0}

# A clean environment: no inherited preload, no shim settings.
t_clean_env

# The artifacts directory is kept when a case failed, or with PRELOAD_TEST_KEEP=1.
T_KEEP=${PRELOAD_TEST_KEEP:-0} T_KEEP_ON_FAIL=1
t_tmpdir preload-tests
W=$TMP/w          # the scratch directory: same path for both runs of a case
OUT=$TMP/out      # kept outputs
STATS=$TMP/stats.jsonl
SRC=$TMP/src      # input files for the real programs
mkdir -p "$OUT" "$SRC"

have_lib=1
[ -f "$LIB" ] || have_lib=0

# Wrappers: "$RUN cmd args" runs cmd without the shim, with it (always) or with it (never).
cat > "$TMP/run-base" <<EOF
#!/bin/sh
exec timeout -k 5 $TO "\$@"
EOF
cat > "$TMP/run-always" <<EOF
#!/bin/sh
exec timeout -k 5 $TO env LD_PRELOAD='${PRELOAD_TEST_PRELOAD:-$LIB}' ${PRELOAD_TEST_SHIM_ENV:-MMAPIO_MODE=always} MMAPIO_STATS='$STATS' "\$@"
EOF
cat > "$TMP/run-never" <<EOF
#!/bin/sh
exec timeout -k 5 $TO env LD_PRELOAD='${PRELOAD_TEST_PRELOAD:-$LIB}' MMAPIO_MODE=never MMAPIO_STATS='$STATS' "\$@"
EOF
chmod +x "$TMP"/run-*

selected() { [ -z "$ONLY" ] || [[ $1 =~ $ONLY ]]; }

# run_side MODE OUTFILE FUNC: empty the scratch dir, run FUNC in it with RUN set for MODE.
run_side() {
	local mode=$1 out=$2 fn=$3
	rm -rf "$W"
	mkdir -p "$W"
	rm -f "$STATS"
	RUN=$TMP/run-$mode
	(
		cd "$W" || exit 99
		"$fn"
	) > "$out" 2>&1
	local rc=$?
	echo "exit=$rc" >> "$out"
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "(timed out after ${TO}s)" >> "$out"
	fi
}

# Describe the first difference between two output files in one line.
first_diff() { # A B [LABEL_A LABEL_B]
	local a=$1 b=$2 na=${3:-without shim} nb=${4:-with shim} line
	line=$(cmp "$a" "$b" 2>&1 | sed -n 's/.*line \([0-9]*\).*/\1/p' | head -n 1)
	[ -n "$line" ] || line=1
	if cmp "$a" "$b" 2>&1 | grep -q EOF; then
		line=$((line + 1))
	fi
	local la lb
	la=$(sed -n "${line}p" "$a" | cut -c1-200)
	lb=$(sed -n "${line}p" "$b" | cut -c1-200)
	local nd
	nd=$(diff "$a" "$b" | grep -c '^[<>]')
	printf 'line %s: %s [%s] %s [%s]; %s differing lines' "$line" "$na" "$la" "$nb" "$lb" "$nd"
}

# value KEY from a stats.py summary line
sval() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<< "$1"; }

# check_case CASE FUNC [EXPECT NAME...]
#   EXPECT: "served" - served_calls > 0 (total, or on NAME when given)
#           "maybe"  - report whether NAME was served; only identical output required
check_case() {
	local case=$1 fn=$2 expect=${3:-served}
	[ -n "${PRELOAD_TEST_EXPECT:-}" ] && expect=$PRELOAD_TEST_EXPECT
	shift 3 2>/dev/null || shift $#
	local names=("$@")
	local base=$OUT/$case.base shim=$OUT/$case.shim never=$OUT/$case.never
	selected "$case" || return 0

	run_side base "$base" "$fn"
	if ! grep -q '^exit=0$' "$base"; then
		fail "$case" "baseline run (no shim) failed: $(tail -n 2 "$base" | tr '\n' ' ')(see $base)"
		[ -n "${WITH_NEVER:-}" ] && fail "$case/never" "baseline run (no shim) failed"
		return
	fi
	if [ "$DET" = 1 ]; then
		run_side base "$base.again" "$fn"
		if ! cmp -s "$base" "$base.again"; then
			fail "$case" "baseline is not deterministic: $(first_diff "$base" "$base.again" "first run" "second run")"
			return
		fi
	fi
	if [ "$have_lib" = 0 ]; then
		fail "$case" "shim library $LIB not found"
		[ -n "${WITH_NEVER:-}" ] && fail "$case/never" "shim library $LIB not found"
		return
	fi

	# with the shim, MMAPIO_MODE=always
	run_side always "$shim" "$fn"
	local st rc
	st=$("$PY" "$HERE/stats.py" "$STATS" "${names[@]}" 2>&1)
	rc=$?
	cp -f "$STATS" "$OUT/$case.stats.jsonl" 2>/dev/null
	if ! cmp -s "$base" "$shim"; then
		fail "$case" "output differs with the shim: $(first_diff "$base" "$shim") (full: $base vs $shim)"
	elif [ $rc = 2 ]; then
		fail "$case" "identical output, but no stats were written to MMAPIO_STATS"
	elif [ $rc != 0 ]; then
		fail "$case" "identical output, but stats are malformed: $st (see $OUT/$case.stats.jsonl)"
	else
		local served note=""
		served=$(sval "$st" served)
		if [ ${#names[@]} -gt 0 ]; then
			local n v nserved=0
			for n in "${names[@]}"; do
				v=$(sval "$st" "$n")
				nserved=$((nserved + ${v##*:}))
				note="$note $n=$v"
			done
			if [ "$expect" = served ]; then
				if [ "$nserved" -gt 0 ]; then
					ok "$case"
				else
					fail "$case" "identical output, but the shim served no calls on${note} (stats: $st)"
				fi
			else
				if [ "$nserved" -gt 0 ]; then
					ok "$case (served:${note})"
				else
					ok "$case (identical output only: not served by the shim: ${note# }; $EXPLAIN)"
				fi
			fi
		elif [ "$served" -gt 0 ]; then
			ok "$case"
		elif [ "$expect" = maybe ]; then
			ok "$case (identical output; nothing served under these settings)"
		else
			fail "$case" "identical output, but served_calls is 0 (stats: $st)"
		fi
	fi

	# with the shim, MMAPIO_MODE=never
	if [ -n "${WITH_NEVER:-}" ]; then
		run_side never "$never" "$fn"
		st=$("$PY" "$HERE/stats.py" "$STATS" 2>&1)
		rc=$?
		if ! cmp -s "$base" "$never"; then
			fail "$case/never" "output differs with MMAPIO_MODE=never: $(first_diff "$base" "$never") (full: $base vs $never)"
		elif [ $rc = 1 ]; then
			fail "$case/never" "identical output, but stats are malformed: $st"
		elif [ $rc = 0 ] && [ "$(sval "$st" served)" != 0 ]; then
			fail "$case/never" "identical output, but MMAPIO_MODE=never served calls: $st"
		else
			ok "$case/never"
		fi
	fi
}

# ---------------------------------------------------------------- programs
progs=()
for p in "$PROGS"/prog_*; do
	if [ ! -f "$p" ] || [ ! -x "$p" ]; then
		continue
	fi
	case ${p##*/} in
	prog_execchild | prog_execchild.*) continue ;; # helper of prog_procs, not a test
	*.c | *.o | *.d) continue ;;
	esac
	progs+=("$p")
done
if [ ${#progs[@]} -eq 0 ]; then
	fail "programs" "no test programs found in $PROGS (build them: make, or tests/preload/build.sh $BUILD)"
fi
nfn=0
for p in "${progs[@]}"; do
	name=${p##*/}
	eval "prog_fn_$((++nfn))() { \"\$RUN\" '$p' \"\$PWD/d\"; }"
	WITH_NEVER=1 check_case "$name" "prog_fn_$nfn" served
done

# ---------------------------------------------------------------- real programs
"$PY" - "$SRC" <<'PYEOF'
import os, random, sys
d = sys.argv[1]
r = random.Random(20240601)
data = r.randbytes(3_000_000)
open(os.path.join(d, "data.bin"), "wb").write(data)
b = bytearray(data); b[1_234_567] ^= 0x40
open(os.path.join(d, "data2.bin"), "wb").write(bytes(b))
open(os.path.join(d, "other.bin"), "wb").write(r.randbytes(700_000))
open(os.path.join(d, "small.txt"), "w").write("".join(f"line {i} {i * i}\n" for i in range(5000)))
open(os.path.join(d, "small2.txt"), "w").write("".join(f"line {i} {i * i + (i == 4321)}\n" for i in range(5000)))
PYEOF
prep() { cp "$SRC"/* .; }

r_cat_pipe() { prep; "$RUN" cat data.bin small.txt | sha256sum; echo "rc=${PIPESTATUS[*]}"; }
r_cat_file() { prep; "$RUN" cat data.bin small.txt > out.bin; echo "rc=$?"; sha256sum out.bin; }
r_sha256sum() { prep; "$RUN" sha256sum data.bin small.txt; echo "rc=$?"; }
r_cmp() {
	prep
	cp data.bin copy.bin
	"$RUN" cmp data.bin copy.bin; echo "rc=$?"
	"$RUN" cmp data.bin data2.bin; echo "rc=$?"
	"$RUN" cmp -l small.txt small2.txt; echo "rc=$?"
	"$RUN" cmp -i 1000:1000 data.bin data2.bin; echo "rc=$?"
	"$RUN" cmp data.bin other.bin; echo "rc=$?"
}
r_cp() {
	prep
	"$RUN" cp data.bin c1.bin; echo "rc=$?"
	"$RUN" cp --sparse=always other.bin c2.bin; echo "rc=$?"
	sha256sum c1.bin c2.bin
}
r_dd() {
	prep
	"$RUN" dd if=data.bin bs=1000 skip=7 count=50 status=none | sha256sum
	"$RUN" dd if=data.bin of=dd.out bs=4096 skip=5 seek=3 count=20 status=none; echo "rc=$?"
	"$RUN" dd if=data.bin bs=65536 status=none | sha256sum
	"$RUN" dd if=other.bin of=dd.out bs=1000 count=30 conv=notrunc status=none; echo "rc=$?"
	sha256sum dd.out
}
r_head_tail() {
	prep
	"$RUN" head -c 100000 data.bin | sha256sum
	"$RUN" tail -c 12345 data.bin | sha256sum
	"$RUN" tail -n 3 small.txt
	"$RUN" head -n 2 small.txt
}
r_sqlite() {
	prep
	"$RUN" sqlite3 -bail test.db < "$HERE/sqlite_workload.sql"; echo "rc=$?"
	"$RUN" sqlite3 -bail test.db < "$HERE/sqlite_reopen.sql"; echo "rc=$?"
	sha256sum test.db
	ls
}
r_sqlite_wal() {
	prep
	"$RUN" sqlite3 -bail wal.db < "$HERE/sqlite_wal.sql"; echo "rc=$?"
	"$RUN" sqlite3 -bail wal.db 'PRAGMA integrity_check; SELECT count(*), sum(a) FROM w;'; echo "rc=$?"
	sqlite3 wal.db .dump | sha256sum
	ls
}
r_python() { prep; "$RUN" /usr/bin/python3 -I "$HERE/py_io.py"; echo "rc=$?"; }
r_include() { prep; MMAPIO_INCLUDE='*data.bin' "$RUN" cat data.bin other.bin | sha256sum; }
r_exclude() { prep; MMAPIO_EXCLUDE='*data.bin' "$RUN" cat data.bin other.bin | sha256sum; }

need() { command -v "$1" > /dev/null 2>&1; }
real() { # CASE FUNC EXPECT EXPLAIN NAME... ; skipped when a tool is missing
	local tool=$1
	shift
	if ! need "$tool"; then
		selected "$1" && skip "$1" "$tool is not installed"
		return
	fi
	local case=$1 fn=$2 expect=$3
	EXPLAIN=$4
	shift 4
	check_case "$case" "$fn" "$expect" "$@"
}
real cat cat-pipe r_cat_pipe served "" data.bin
real cat cat-file r_cat_file maybe "cat copies file to file with copy_file_range" data.bin
real sha256sum sha256sum r_sha256sum maybe "sha256sum reads through stdio (fopen/fread), which no preload sees" data.bin
real cmp cmp r_cmp served "" data.bin
real cp cp r_cp maybe "cp copies with copy_file_range/FICLONE" data.bin
real dd dd r_dd served "" data.bin
real head head-tail r_head_tail served "" data.bin
real sqlite3 sqlite3 r_sqlite served "" test.db
real sqlite3 sqlite3-wal r_sqlite_wal served "" wal.db
if [ -x /usr/bin/python3 ]; then
	real /usr/bin/python3 python3 r_python served "" py.bin
else
	selected python3 && skip python3 "/usr/bin/python3 is not installed"
fi

# include/exclude globs: served must follow the globs
glob_case() { # CASE FUNC SERVED_NAME UNSERVED_NAME
	local case=$1 fn=$2 yes=$3 no=$4
	selected "$case" || return 0
	local base=$OUT/$case.base shim=$OUT/$case.shim
	run_side base "$base" "$fn"
	if [ "$have_lib" = 0 ]; then
		fail "$case" "shim library $LIB not found"
		return
	fi
	run_side always "$shim" "$fn"
	local st
	st=$("$PY" "$HERE/stats.py" "$STATS" "$yes" "$no" 2>&1)
	local vy vn
	vy=$(sval "$st" "$yes")
	vn=$(sval "$st" "$no")
	if ! cmp -s "$base" "$shim"; then
		fail "$case" "output differs with the shim: $(first_diff "$base" "$shim")"
	elif [ "${st%% *}" != ok ]; then
		fail "$case" "stats: $st"
	elif [ "${vy##*:}" -le 0 ] 2>/dev/null || [ -z "$vy" ]; then
		fail "$case" "$yes should be served ($st)"
	elif [ "${vn##*:}" != 0 ]; then
		fail "$case" "$no should not be served ($st)"
	else
		ok "$case"
	fi
}
if need cat; then
	glob_case include-glob r_include data.bin other.bin
	glob_case exclude-glob r_exclude other.bin data.bin
fi

# can_run CASE PROG: PROG is built and the shim found; else CASE fails (status 1).
can_run() {
	if [ ! -x "$2" ]; then
		fail "$1" "$2 not built"
	elif [ "$have_lib" = 0 ]; then
		fail "$1" "shim library $LIB not found"
	else
		return 0
	fi
	return 1
}

# MMAPIO_STATS=stderr: stdout unchanged, one valid JSON line per process on stderr
if selected stats-stderr; then
	p=$PROGS/prog_rw
	if can_run stats-stderr "$p"; then
		rm -rf "$W" && mkdir -p "$W"
		(cd "$W" && timeout -k 5 "$TO" "$p" "$W/d" > "$OUT/stats-stderr.base" 2> /dev/null)
		rm -rf "$W" && mkdir -p "$W"
		(cd "$W" && timeout -k 5 "$TO" env LD_PRELOAD="$LIB" MMAPIO_MODE=always MMAPIO_STATS=stderr \
			"$p" "$W/d" > "$OUT/stats-stderr.out" 2> "$OUT/stats-stderr.err")
		st=$("$PY" "$HERE/stats.py" "$OUT/stats-stderr.err" 2>&1)
		if ! cmp -s "$OUT/stats-stderr.base" "$OUT/stats-stderr.out"; then
			fail stats-stderr "stdout differs: $(first_diff "$OUT/stats-stderr.base" "$OUT/stats-stderr.out")"
		elif [ "${st%% *}" != ok ] || [ "$(sval "$st" lines)" != 1 ] || [ "$(sval "$st" served)" = 0 ]; then
			fail stats-stderr "stderr should hold exactly one stats line with served calls: $st"
		else
			ok stats-stderr
		fi
	fi
fi

# Stats of a process tree: each process counts its own calls only, so the
# lines add up to what was served (a fork child used to report its parent's
# counts again; a vfork child used to write and reset its parent's).
if selected stats-fork; then
	p=$PROGS/prog_statsfork
	if can_run stats-fork "$p"; then
		rm -rf "$W" && mkdir -p "$W" && : > "$STATS"
		(cd "$W" && timeout -k 5 "$TO" env LD_PRELOAD="$LIB" MMAPIO_MODE=always MMAPIO_STATS="$STATS" \
			"$p" "$W/d" > "$OUT/stats-fork.out" 2>&1)
		st=$("$PY" "$HERE/stats.py" "$STATS" 2>&1)
		cp -f "$STATS" "$OUT/stats-fork.stats.jsonl" 2>/dev/null
		if [ "${st%% *}" != ok ] || [ "$(sval "$st" served)" != 72 ]; then
			fail stats-fork "the tree served 72 preads; its stats lines add up to: $st"
		else
			ok "stats-fork (72 served over $(sval "$st" lines) lines)"
		fi
	fi
fi

# Every way out writes one line (exitreport.c): prog_exits ends 16 fork
# children in 16 ways (exit, _exit, _Exit, quick_exit, abort, default-action
# SIGTERM/SIGINT/SIGHUP/SIGALRM/SIGPIPE, its own handlers, ...); child i
# does 10 + i preads (all served under always; child 14 has a thread that
# preads until SIGTERM ends it), the parent 5. Named prog_* so that the
# sanitizer run (make test-asan) has it too.
# stats_run CASE PROG: PROG under the shim (always) in a fresh scratch
# directory; its output in $OUT/CASE.out, the stats kept. Status 1 (and the
# case failed) when it cannot run.
stats_run() {
	local case=$1 p=$PROGS/$2
	can_run "$case" "$p" || return 1
	rm -rf "$W" && mkdir -p "$W" && rm -f "$STATS"
	(cd "$W" && "$TMP/run-always" "$p" "$W/d" > "$OUT/$case.out" 2>&1)
	cp -f "$STATS" "$OUT/$case.stats.jsonl" 2>/dev/null
}
if selected prog_exits.lines && stats_run prog_exits.lines prog_exits; then
	procs=$(sed -n 's/^processes: //p' "$OUT/prog_exits.lines.out")
	st=$("$PY" "$HERE/stats.py" "$STATS" 2>&1)
	served=$("$PY" -c 'import json, sys
print(" ".join(sorted((str(json.loads(l)["served_calls"]) for l in open(sys.argv[1]) if l.strip()), key=int)))' "$STATS" 2>/dev/null)
	want="5 $(seq -s ' ' 10 23) 25"
	if [ -z "$procs" ]; then
		fail prog_exits.lines "the program did not finish: $(tail -n 2 "$OUT/prog_exits.lines.out" | tr '\n' ' ')"
	elif [ "${st%% *}" != ok ] || [ "$(sval "$st" lines)" != "$procs" ]; then
		fail prog_exits.lines "$procs processes, one stats line each expected; stats: $st (see $OUT/prog_exits.lines.stats.jsonl)"
	elif [ -n "${PRELOAD_TEST_EXPECT:-}" ]; then
		ok "prog_exits.lines ($procs processes, $procs lines)"
	elif [ "${served% *}" != "$want" ] || [ "${served##* }" -lt 24 ]; then
		fail prog_exits.lines "served calls per line: $served; want $want and one of 24 or more"
	else
		ok "prog_exits.lines ($procs processes, one line each, each with its own calls)"
	fi
fi

# Descriptors a program inherits (inherit.c). prog_inherit: the exec'd
# child's line shows inherit_b.bin, which only it reads, served.
if selected prog_inherit.served && stats_run prog_inherit.served prog_inherit; then
	st=$("$PY" "$HERE/stats.py" "$STATS" inherit_b.bin 2>&1)
	v=$(sval "$st" inherit_b.bin)
	if [ "${st%% *}" != ok ]; then
		fail prog_inherit.served "stats: $st"
	elif [ -z "${PRELOAD_TEST_EXPECT:-}" ] && { [ -z "$v" ] || [ "${v##*:}" -le 0 ]; }; then
		fail prog_inherit.served "descriptor 3, inherited, was not served: inherit_b.bin=$v"
	else
		ok "prog_inherit.served (inherit_b.bin=$v)"
	fi
fi

# Real programs given a file by a shell redirection, under always and auto:
# identical output, and the stats say what was served. The programs of a
# group share one description: each starts where the one before left the
# offset (head -n reads ahead and seeks back).
cat > "$TMP/run-auto" <<EOF
#!/bin/sh
exec timeout -k 5 $TO env LD_PRELOAD='${PRELOAD_TEST_PRELOAD:-$LIB}' MMAPIO_MODE=auto MMAPIO_STATS='$STATS' "\$@"
EOF
chmod +x "$TMP/run-auto"
r_inherit_wc() { prep; "$RUN" wc -l < data.bin; "$RUN" wc -l < small.txt; echo "rc=$?"; }
r_inherit_sha() { prep; "$RUN" sha256sum < data.bin; echo "rc=$?"; }
r_inherit_shared() {
	prep
	{ "$RUN" head -c 1000 > /dev/null; "$RUN" cat; } < data.bin | sha256sum
	{ "$RUN" head -n 3; "$RUN" cat; } < small.txt | sha256sum
	{ "$RUN" dd bs=4000 count=5 status=none; "$RUN" head -c 50000; "$RUN" wc -c; } < data.bin | sha256sum
}
inherit_case() { # CASE MODE FUNC EXPECT NAME
	local case=$1 mode=$2 fn=$3 expect=$4 name=$5
	selected "$case" || return 0
	local base=$OUT/$case.base shim=$OUT/$case.shim st v
	run_side base "$base" "$fn"
	if [ "$have_lib" = 0 ]; then
		fail "$case" "shim library $LIB not found"
		return
	fi
	run_side "$mode" "$shim" "$fn"
	st=$("$PY" "$HERE/stats.py" "$STATS" "$name" 2>&1)
	cp -f "$STATS" "$OUT/$case.stats.jsonl" 2>/dev/null
	v=$(sval "$st" "$name")
	if ! cmp -s "$base" "$shim"; then
		fail "$case" "output differs with the shim: $(first_diff "$base" "$shim")"
	elif [ "${st%% *}" != ok ]; then
		fail "$case" "stats: $st"
	elif [ "$expect" = served ] && { [ -z "$v" ] || [ "${v##*:}" -le 0 ]; }; then
		fail "$case" "identical output, but $name was not served: $st"
	elif [ "$expect" = kernel ] && [ "$v" != kernel:0 ]; then
		fail "$case" "identical output, but $name was not left to the kernel: $st"
	else
		ok "$case ($name=$v)"
	fi
}
# Under auto, each command reads data.bin once, in order, in calls of a
# page or more: the kernel's (policy.c, read once); always serves them.
for m in always auto; do
	once=served
	[ "$m" = auto ] && once=kernel
	if need wc; then
		inherit_case "inherited-wc-$m" "$m" r_inherit_wc "$once" data.bin
	fi
	if need sha256sum; then
		inherit_case "inherited-sha256sum-$m" "$m" r_inherit_sha maybe data.bin
	fi
	if need head && need cat && need dd; then
		inherit_case "inherited-shared-offset-$m" "$m" r_inherit_shared "$once" data.bin
	fi
done

rm -rf "$W"
t_summary
