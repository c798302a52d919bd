#!/usr/bin/env bash
# The reliability suite of libmmapio_preload.so.
#
#   tests/stress/run.sh BUILD_DIR [--long]
#
# BUILD_DIR holds libmmapio_preload.so and tests/stress/<prog> (built by
# `make` through tests/stress/rules.mk). This script builds nothing except
# the ThreadSanitizer shim (BUILD_DIR-tsan/, with gcc, for the tsan case).
# Every case runs with the shim (MMAPIO_MODE=always, MMAPIO_WRITES=map) and,
# where a comparison makes sense, also without it. One line per case:
#   ok NAME | FAIL NAME: why | skip NAME: why
# then exactly one line "N passed, M failed, K skipped"; exit 1 on failure.
#
# Groups (see RELIABILITY.md for what each checks):
#   selftest-*   the checkers can fail (injected mismatches, a known race)
#   fsx-*        randomized exerciser against a model (100,000 ops per seed;
#                1,000,000 with --long), concurrent truncation (-r)
#   faults-*     truncation under readers/writers, ENOSPC on a 1 MiB tmpfs,
#                kill -9 after fsync, EIO from a loop device
#   badenv-*     invalid values of every MMAPIO_ variable against cat
#   procs-*      fork/exec/posix_spawn/vfork/threads/signals/close_range/>1024 fds
#   load-*       2 threads x 100,000 ops (1,000,000 with --long), and under TSan
#   smallfiles-* auto mode's lock-free open/close: 2 threads x 20,000 small-file
#                rounds (200,000 with --long), and under TSan
#   bug-*        reproducers of shim bugs found by this suite: they fail until fixed
#
# Knobs (environment; MMAPIO_* are cleared): STRESS_ONLY=REGEX runs only the
# matching cases; STRESS_KEEP=1 keeps the scratch directory; STRESS_TIMEOUT
# (seconds per command, default 600).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
t_build_dir "BUILD_DIR [--long]" "$@"
LONG=0
[ "${2:-}" = "--long" ] && LONG=1
ROOT=$(cd "$HERE/../.." && pwd)
LIB=$BUILD/libmmapio_preload.so
P=$BUILD/tests/stress
TO=${STRESS_TIMEOUT:-600}
ONLY=${STRESS_ONLY:-}

t_clean_env

# The scratch directory is kept when a case failed, or with STRESS_KEEP=1;
# the mounts and loop devices made in it are undone first.
MOUNTS=()
LOOPS=()
t_cleanup_hook() {
	local i l
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount "${MOUNTS[$i]}" 2>/dev/null; done
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
}
T_KEEP=${STRESS_KEEP:-0} T_KEEP_ON_FAIL=1
t_tmpdir stress
want() { [ -z "$ONLY" ] || [[ "$1" =~ $ONLY ]]; }

# shim CMD...: run under the shim, stats appended to $STATS.
STATS=$TMP/stats.jsonl
# SHIM_TMPFS=1: map files on tmpfs too (the cases that test the map there).
shim() { timeout -k 5 "$TO" env LD_PRELOAD="$LIB" MMAPIO_MODE=always MMAPIO_WRITES=map \
	MMAPIO_TMPFS="${SHIM_TMPFS:-0}" MMAPIO_STATS="$STATS" "$@"; }
base() { timeout -k 5 "$TO" "$@"; }
# Totals of one field over every process line of the stats file.
stat_sum() { sed -n "s/^{[^[]*\"$1\":\([0-9]*\).*/\1/p" "$STATS" 2>/dev/null |
	awk '{s += $1} END {print s + 0}'; }
reset_stats() { rm -f "$STATS"; }
# Describe an exit status.
status() { if [ "$1" -gt 128 ]; then echo "killed by signal $(($1 - 128))"; else echo "exit $1"; fi; }

mount_tmpfs() { # DIR SIZE
	mkdir -p "$1" && mount -t tmpfs -o "size=$2" tmpfs "$1" 2>/dev/null || return 1
	MOUNTS+=("$1")
}
unmount() {
	umount "$1" 2>/dev/null
	local i
	for i in "${!MOUNTS[@]}"; do [ "${MOUNTS[$i]}" = "$1" ] && unset 'MOUNTS[i]'; done
	MOUNTS=("${MOUNTS[@]}")
}

if [ ! -f "$LIB" ] || [ ! -x "$P/fsx" ]; then
	fail build "missing $LIB or $P/fsx: run make first"
	t_summary
	exit 1
fi

if [ $LONG = 1 ]; then FSX_OPS=1000000 LOAD_OPS=1000000 STORM_OPS=200000 KILL_SEEDS="1 2 3 4 5 6 7 8 9 10"
else FSX_OPS=100000 LOAD_OPS=100000 STORM_OPS=20000 KILL_SEEDS="1 2 3"; fi
SEEDS="1 2 3"

# ============================================================ self-tests
if want selftest-fsx; then
	d=$TMP/self-fsx; mkdir -p "$d"
	base "$P/fsx" -s 7 -n 5000 -X 3000 -d "$d" -q >"$d/out" 2>"$d/err"; rc=$?
	if [ $rc = 1 ] && grep -q "MISMATCH seed=7 op=3000" "$d/err" && grep -q "last operations" "$d/err" &&
		[ "$(grep -c '^  #' "$d/err")" -ge 20 ]; then
		ok selftest-fsx
	else
		fail selftest-fsx "an injected model mismatch was not reported ($(status $rc))"
	fi
fi
if want selftest-truncstorm; then
	d=$TMP/self-storm
	shim "$P/truncstorm" "$d" 5000 -X -F >"$d.out" 2>&1; rc=$?
	if [ $rc = 1 ] && grep -q "neither 0 nor the pattern" "$d.out"; then
		ok selftest-truncstorm
	else
		fail selftest-truncstorm "bytes outside the pattern went unnoticed ($(status $rc))"
	fi
fi

# ================================================================== fsx
fsx_case() { # NAME SEED EXTRA-ARGS... : under the shim, then cmp without it
	local name=$1 seed=$2; shift 2
	want "$name" || return
	local d=${FSX_DIR:-$TMP/$name}; mkdir -p "$d"; reset_stats
	shim "$P/fsx" -s "$seed" -n "$FSX_OPS" -d "$d" -q "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"; local rc=$?
	local out=$TMP/$name.out err=$TMP/$name.err
	if [ $rc != 0 ]; then
		fail "$name" "$(status $rc): $(grep -m1 MISMATCH "$err" || tail -1 "$err") (log $err)"
		return
	fi
	local f
	for f in "$d"/fsx.?; do
		if ! base cmp -s "$f" "$f.expected"; then
			fail "$name" "$(basename "$f") differs from the model when read without the shim"
			return
		fi
	done
	local served; served=$(stat_sum served_calls)
	[ "$served" -gt 0 ] || { fail "$name" "no call was served from a map"; return; }
	ok "$name ($(head -1 "$out" | sed 's/^fsx: //'); $served calls served, $(stat_sum faults_recovered) faults recovered)"
}
if want fsx-baseline; then
	d=$TMP/fsx-baseline; mkdir -p "$d"
	base "$P/fsx" -s 1 -n "$FSX_OPS" -d "$d" -q >"$d.out" 2>"$d.err"; rc=$?
	if [ $rc = 0 ]; then ok "fsx-baseline (without the shim: the model agrees with the kernel)"
	else fail fsx-baseline "the model disagrees with the kernel: $(grep -m1 MISMATCH "$d.err")"; fi
fi
for s in $SEEDS; do fsx_case "fsx-seed$s" "$s"; done
for s in $SEEDS; do fsx_case "fsx-rdwr-only-seed$s" "$s" -A; done
fsx_case fsx-race-seed4 4 -A -r "$TMP/fsx-race-seed4.raced"
if want fsx-race-baseline; then
	d=$TMP/fsx-race-baseline; mkdir -p "$d"
	base "$P/fsx" -s 4 -n 50000 -d "$d" -q -r "$d/raced" >"$d.out" 2>"$d.err"; rc=$?
	if [ $rc = 0 ]; then ok fsx-race-baseline
	else fail fsx-race-baseline "$(grep -m1 MISMATCH "$d.err")"; fi
fi
if want fsx-tmpfs; then
	if mount_tmpfs "$TMP/fsx-tmpfs-mnt" 64m; then
		SHIM_TMPFS=1 FSX_DIR=$TMP/fsx-tmpfs-mnt fsx_case fsx-tmpfs-seed5 5 -A
		unmount "$TMP/fsx-tmpfs-mnt"
	else
		skip fsx-tmpfs "cannot mount a tmpfs (not root?)"
	fi
fi

# =============================================================== faults
storm_case() { # NAME EXTRA-ARGS
	local name=$1; shift
	want "$name" || return
	local d=$TMP/$name; reset_stats
	base "$P/truncstorm" "$d.base" "$STORM_OPS" "$@" >"$d.base.out" 2>&1; local rb=$?
	shim "$P/truncstorm" "$d" "$STORM_OPS" "$@" >"$d.out" 2>&1; local rc=$?
	local served; served=$(stat_sum served_calls)
	if [ $rb != 0 ]; then
		fail "$name" "fails without the shim: $(tail -1 "$d.base.out")"
	elif [ $rc != 0 ]; then
		fail "$name" "$(status $rc): $(head -3 "$d.out" | tr '\n' ' ')"
	elif [ "$served" -eq 0 ]; then
		fail "$name" "nothing served from the map"
	else
		ok "$name (5 workers x $STORM_OPS ops, $served calls served)"
	fi
}
storm_case faults-truncstorm
storm_case faults-truncstorm-foreign -F
# The shim's faults_recovered only counts faults it handed back to the
# kernel; faults the core absorbed by retrying against the new size are not
# in the stats. Count the SIGBUS/SIGSEGV deliveries with strace instead, to
# show the recovery path really runs.
if want faults-truncstorm-sigbus; then
	d=$TMP/storm-strace
	if ! command -v strace >/dev/null; then
		skip faults-truncstorm-sigbus "no strace to count SIGBUS deliveries"
	else
		timeout -k 5 "$TO" strace -f -qq -e trace=none -e signal=SIGBUS,SIGSEGV -o "$d.strace" \
			env LD_PRELOAD="$LIB" MMAPIO_MODE=always "$P/truncstorm" "$d" 5000 -F >"$d.out" 2>&1; rc=$?
		nbus=$(grep -c 'SIGBUS' "$d.strace"); nsegv=$(grep -c 'SIGSEGV' "$d.strace")
		if [ $rc != 0 ]; then fail faults-truncstorm-sigbus "$(status $rc): $(head -2 "$d.out" | tr '\n' ' ')"
		elif [ "$nbus" -eq 0 ]; then fail faults-truncstorm-sigbus "no SIGBUS happened: the fault path was not exercised"
		else ok "faults-truncstorm-sigbus ($nbus SIGBUS and $nsegv SIGSEGV delivered inside the shim's copies and recovered; 5 workers x 5000 ops)"; fi
	fi
fi

if want faults-enospc; then
	d=$TMP/enospc; mkdir -p "$d"
	if ! mount_tmpfs "$d/mnt" 1m; then
		skip faults-enospc "mount -t tmpfs -o size=1m failed (not root, or no tmpfs)"
	else
		base "$P/enospc" "$d/mnt" "$d/base.img" >"$d/base.out" 2>&1; rb=$?
		base cmp -s "$d/mnt/sparse.dat" "$d/base.img"; cb=$?
		unmount "$d/mnt"; mount_tmpfs "$d/mnt" 1m; reset_stats
		SHIM_TMPFS=1 shim "$P/enospc" "$d/mnt" "$d/shim.img" >"$d/shim.out" 2>&1; rc=$?
		base cmp -s "$d/mnt/sparse.dat" "$d/shim.img"; cs=$?
		unmount "$d/mnt"
		if [ $rb != 0 ] || [ $cb != 0 ] || ! grep -q ENOSPC "$d/base.out"; then
			fail faults-enospc "the program fails or never hits ENOSPC without the shim ($(status $rb))"
		elif [ $rc != 0 ]; then
			fail faults-enospc "under the shim: $(status $rc): $(tail -1 "$d/shim.out")"
		elif ! cmp -s "$d/base.out" "$d/shim.out"; then
			fail faults-enospc "results differ from the kernel's: $(diff "$d/base.out" "$d/shim.out" | sed -n 2p)"
		elif [ $cs != 0 ]; then
			fail faults-enospc "acknowledged bytes lost (cmp without the shim)"
		else
			ok "faults-enospc (same $(grep -c ENOSPC "$d/shim.out") ENOSPC results as the kernel, acknowledged data intact, $(stat_sum faults_recovered) faults recovered)"
		fi
	fi
fi

killcase() { # MODE SEED
	local name="faults-kill9-$1-seed$2" d=$TMP/kill-$1-$2
	want "$name" || return
	mkdir -p "$d"
	shim "$P/killwriter" run "$d" "$2" "$1" >"$d/run.out" 2>&1; local rc=$?
	base "$P/killwriter" verify "$d" "$2" "$1" >"$d/verify.out" 2>&1; local rv=$?
	if [ $rc != 0 ]; then
		fail "$name" "$(grep -m1 -E 'FAIL|died|ended' "$d/run.out" || status $rc)"
	elif ! grep -q "shared-writable: yes" "$d/run.out"; then
		fail "$name" "the writer did not write through a shared writable map"
	elif [ $rv != 0 ]; then
		fail "$name" "$(tail -1 "$d/verify.out")"
	else
		local extra=""
		[ "$1" = stop ] && extra="; $(grep -o '[0-9]* of [0-9]* pages dirty' "$d/run.out" | tail -1) after fsync"
		ok "$name ($(sed 's/^verify: //' "$d/verify.out")$extra)"
	fi
}
for s in $KILL_SEEDS; do killcase stop "$s"; killcase cont "$s"; done
if want faults-kill9-baseline; then
	d=$TMP/kill-base; mkdir -p "$d"
	if base "$P/killwriter" run "$d" 5 cont >"$d/run.out" 2>&1 &&
		base "$P/killwriter" verify "$d" 5 cont >"$d/v.out" 2>&1; then
		ok faults-kill9-baseline
	else
		fail faults-kill9-baseline "fails without the shim: $(tail -1 "$d/run.out" "$d/v.out" 2>/dev/null | tr '\n' ' ')"
	fi
fi

# An ext4 on a loop device backed by a file on a small tmpfs.
loopfs_up() { # DIR [MKFS_OPTION...] -> sets LOOPMNT LOOPBACK LOOPDEV
	LOOPBACK=$1/back LOOPMNT=$1/mnt
	shift
	mkdir -p "$LOOPBACK" "$LOOPMNT"
	command -v losetup >/dev/null && command -v mkfs.ext4 >/dev/null || return 1
	mount_tmpfs "$LOOPBACK" 24m || return 1
	truncate -s 64M "$LOOPBACK/img" && mkfs.ext4 -q -F "$@" "$LOOPBACK/img" >/dev/null 2>&1 || return 1
	LOOPDEV=$(losetup -f --show "$LOOPBACK/img" 2>/dev/null) || return 1
	LOOPS+=("$LOOPDEV")
	mount -o errors=continue "$LOOPDEV" "$LOOPMNT" 2>/dev/null || return 1
	MOUNTS+=("$LOOPMNT")
}
loopfs_down() {
	unmount "$LOOPMNT"
	[ -n "${LOOPDEV:-}" ] && losetup -d "$LOOPDEV" 2>/dev/null
	unmount "$LOOPBACK"
	LOOPDEV=""
	LOOPS=()
}
eio_case() { # NAME SUBCOMMAND [known]
	local name=$1 sub=$2 known=${3:-} d=$TMP/$1
	want "$name" || return
	local m
	for m in base shim; do
		if ! loopfs_up "$d/$m"; then
			loopfs_down 2>/dev/null
			skip "$name" "no loop device / mkfs.ext4 / tmpfs here (dm-error is not available either)"
			return
		fi
		local args=("$LOOPMNT"); [ "$sub" = writeback ] && args+=("$LOOPBACK")
		$m "$P/eio" "$sub" "${args[@]}" >"$d/$m.out" 2>&1; echo "exit $?" >>"$d/$m.out"
		loopfs_down
	done
	if grep -q SKIP "$d/base.out"; then
		skip "$name" "$(grep -m1 SKIP "$d/base.out")"
	elif ! grep -q EIO "$d/base.out"; then
		skip "$name" "could not provoke EIO here"
	elif cmp -s "$d/base.out" "$d/shim.out"; then
		ok "$name (the shim reports the kernel's $(grep -c EIO "$d/base.out") EIO results)"
	elif [ -n "$known" ]; then
		skip "$name" "known limitation (README, Limitations): $(diff "$d/base.out" "$d/shim.out" | grep '^[<>]' | head -1)"
	else
		fail "$name" "results differ from the kernel's: $(diff "$d/base.out" "$d/shim.out" | grep '^[<>]' | head -2 | tr '\n' ' ')"
	fi
}
eio_case faults-eio-writeback writeback

# Writes into holes on ext4 with 1 KiB blocks (smaller than a page): the
# blocks allocated, the hole layout and what fits near a full disk.
if want subpage-blocks; then
	d=$TMP/subpage
	for m in base shim; do
		if ! loopfs_up "$d/$m" -b 1024 -O ^extent,^64bit; then
			loopfs_down 2>/dev/null
			skip subpage-blocks "no loop device / mkfs.ext4 / tmpfs here"
			break
		fi
		reset_stats
		$m "$P/subpage" "$LOOPMNT" >"$d/$m.out" 2>&1
		echo "exit $?" >>"$d/$m.out"
		[ $m = shim ] && served=$(stat_sum served_calls)
		loopfs_down
	done
	if [ -f "$d/shim.out" ]; then
		if ! cmp -s "$d/base.out" "$d/shim.out"; then
			fail subpage-blocks "differs from the kernel: $(diff "$d/base.out" "$d/shim.out" | grep '^[<>]' | head -2 | tr '\n' ' ')"
		elif [ "${served:-0}" -le 0 ]; then
			fail subpage-blocks "identical, but nothing was served from the map"
		else
			ok "subpage-blocks ($(grep -c pwrite "$d/base.out") writes, allocation as the kernel's; $served reads served)"
		fi
	fi
fi
# Reproducer: after an ext4 shutdown the shim keeps serving the page cache.
eio_case bug-eio-after-shutdown shutdown known

# =============================================================== badenv
if want badenv; then
	d=$TMP/badenv; mkdir -p "$d"
	seq 1 40000 >"$d/input.txt"           # 229 KiB: mapped under MMAPIO_MODE=always
	base cat "$d/input.txt" >"$d/base.out" 2>"$d/base.err"; brc=$?
	# The value lists are read through the nameref "vals" below (SC2034 does
	# not see that use).
	# shellcheck disable=SC2034
	{
		WORDS=("" garbage -1 99999999999999999999999 "4Kx" "４K" "∞" " auto" "always always")
		SIZES=("" garbage -1 99999999999999999999999 "4Kx" "４K" "∞" "17179869184G" "4 K" "1.5M" "0x10" "4KiBx")
		THREADS=("" garbage -1 99999999999999999999999 "4K" "４" "∞" "2000000" "8x")
		DURATIONS=("" garbage -1 99999999999999999999999 "50msx" "５0ms" "∞" "1h" "99999999999999999s" "2 s")
		BOOLS=("" garbage -1 2 99999999999999999999999 "onx" "１" "∞" "yes please")
		GLOBS=("" ":" "a::b" "*.txt:" ":*.txt")
		PATHS=("")
	}
	declare -A TABLE=(
		[MMAPIO_MODE]=WORDS [MMAPIO_PREWARM]=WORDS [MMAPIO_WRITES]=WORDS [MMAPIO_FSYNC]=WORDS
		[MMAPIO_HUGEPAGES]=WORDS [MMAPIO_LOG]=WORDS
		[MMAPIO_MIN_SIZE]=SIZES [MMAPIO_MAX_SIZE]=SIZES [MMAPIO_PREWARM_MAX]=SIZES [MMAPIO_RESERVE]=SIZES
		[MMAPIO_SMALL_READ]=SIZES [MMAPIO_LARGE_READ]=SIZES
		[MMAPIO_MAX_THREADS]=THREADS [MMAPIO_FLUSH_INTERVAL]=DURATIONS [MMAPIO_NETFS]=BOOLS [MMAPIO_TMPFS]=BOOLS
		[MMAPIO_INCLUDE]=GLOBS [MMAPIO_EXCLUDE]=GLOBS [MMAPIO_STATS]=PATHS [MMAPIO_LOG_FILE]=PATHS
	)
	# Every variable the shim reads must be in the table.
	missing=""
	for var in $(grep -oh '"MMAPIO_[A-Z0-9_]*"' "$ROOT"/preload/*.c 2>/dev/null | tr -d '"' | sort -u); do
		[ -n "${TABLE[$var]:-}" ] || missing+=" $var"
	done
	if [ -z "$missing" ]; then
		ok "badenv-coverage (all ${#TABLE[@]} variables read by preload/*.c are in the table)"
	else
		fail badenv-coverage "variables without a bad-value table:$missing"
	fi
	tried=0
	badenv_run() { # -> rc in $rc, stderr in $d/err
		timeout -k 5 "$TO" env LD_PRELOAD="$LIB" "$@" cat "$d/input.txt" >"$d/out" 2>"$d/err"; rc=$?
	}
	for var in $(printf '%s\n' "${!TABLE[@]}" | sort); do
		declare -n vals=${TABLE[$var]}
		why=""
		for val in "${vals[@]}"; do
			tried=$((tried + 1))
			mode=(MMAPIO_MODE=always); [ "$var" = MMAPIO_MODE ] && mode=()
			badenv_run "${mode[@]}" "$var=$val"
			lines=$(wc -l <"$d/err"); named=$(grep -c "$var" "$d/err")
			if [ $rc != $brc ]; then why+=" '$val': $(status $rc);"
			elif ! cmp -s "$d/out" "$d/base.out"; then why+=" '$val': output differs;"
			elif [ "$lines" != 1 ] || [ "$named" != 1 ]; then
				why+=" '$val': $lines stderr lines, $named naming $var ($(head -c 150 "$d/err" | tr '\n' '|'));"
			fi
		done
		nvals=${#vals[@]}
		unset -n vals
		if [ -z "$why" ]; then ok "badenv-$var ($nvals invalid values: output and exit status as without the shim, one line naming the variable)"
		else fail "badenv-$var" "$why"; fi
	done
	# Every variable bad at once: one line each.
	all=()
	for var in "${!TABLE[@]}"; do all+=("$var="); done
	badenv_run "${all[@]}"
	why=""
	[ $rc != $brc ] && why+=" $(status $rc);"
	cmp -s "$d/out" "$d/base.out" || why+=" output differs;"
	[ "$(wc -l <"$d/err")" = "${#TABLE[@]}" ] || why+=" $(wc -l <"$d/err") stderr lines for ${#TABLE[@]} bad variables;"
	for var in "${!TABLE[@]}"; do
		[ "$(grep -c "$var=" "$d/err")" = 1 ] || why+=" $var not named exactly once;"
	done
	if [ -z "$why" ]; then ok "badenv-all-at-once (${#TABLE[@]} bad variables, ${#TABLE[@]} lines)"
	else fail badenv-all-at-once "$why"; fi
	# Valid but extreme values: correct output, silence.
	why=""
	for combo in "MMAPIO_RESERVE=1" "MMAPIO_RESERVE=16T" "MMAPIO_MODE=auto MMAPIO_MAX_SIZE=1G" \
		"MMAPIO_MODE=auto MMAPIO_MIN_SIZE=0" "MMAPIO_MAX_THREADS=0" \
		"MMAPIO_PREWARM=populate MMAPIO_PREWARM_MAX=1" "MMAPIO_PREWARM=async" \
		"MMAPIO_FLUSH_INTERVAL=1ms" "MMAPIO_HUGEPAGES=auto" "MMAPIO_FSYNC=range" \
		"MMAPIO_MODE=ALWAYS" "MMAPIO_NETFS=yes" "MMAPIO_INCLUDE=*.nomatch" "MMAPIO_EXCLUDE=*" \
		"MMAPIO_STATS=$d/extreme.json" "MMAPIO_LOG=error MMAPIO_MIN_SIZE=junk"; do
		tried=$((tried + 1))
		read -ra settings <<<"$combo" # split on blanks, no pathname expansion (MMAPIO_EXCLUDE=*)
		badenv_run MMAPIO_MODE=always "${settings[@]}"
		if [ $rc != $brc ] || ! cmp -s "$d/out" "$d/base.out" || [ -s "$d/err" ]; then
			why+=" '$combo': $(status $rc), $(wc -l <"$d/err") stderr lines;"
		fi
	done
	if [ -z "$why" ]; then ok "badenv-extreme-valid (16 valid extreme settings: output as without the shim, nothing on stderr)"
	else fail badenv-extreme-valid "$why"; fi
	# MMAPIO_MAX_SIZE alone, below the default minimum: a valid value. The
	# shim reports MMAPIO_MIN_SIZE, which is unset, with its value: a NULL
	# pointer (printed as '(null)' by one version, a SIGSEGV at start in
	# config.c bad() by the next, which walks the value's bytes).
	badenv_run MMAPIO_MODE=auto MMAPIO_MAX_SIZE=1K
	tried=$((tried + 1))
	if [ $rc = $brc ] && cmp -s "$d/out" "$d/base.out" && [ "$(wc -l <"$d/err")" -le 1 ] &&
		! grep -q '(null)' "$d/err" && ! grep -q "MMAPIO_MIN_SIZE=" "$d/err"; then
		ok "badenv-max-size-below-default-min"
	else
		fail bug-badenv-max-size-below-default-min "MMAPIO_MAX_SIZE=1K alone: $(status $rc) (without the shim: exit $brc): $(head -c 160 "$d/err" | tr '\n' '|')"
	fi
	# A stats path that cannot be written: the message should name the
	# variable. It is only noticed at exit, and cat (like every coreutils
	# program) has closed stderr by then: nothing at all is said.
	badenv_run MMAPIO_MODE=always MMAPIO_STATS=/nonexistent-dir/stats.json
	tried=$((tried + 1))
	if [ $rc = $brc ] && cmp -s "$d/out" "$d/base.out" && [ "$(wc -l <"$d/err")" = 1 ] &&
		[ "$(grep -c MMAPIO_STATS "$d/err")" = 1 ]; then
		ok "badenv-unwritable-stats"
	else
		fail bug-badenv-unwritable-stats "MMAPIO_STATS=/nonexistent-dir/stats.json: $(wc -l <"$d/err") stderr line(s), $(grep -c MMAPIO_STATS "$d/err") naming MMAPIO_STATS: $(head -c 160 "$d/err" | tr '\n' '|')"
	fi
	echo "# badenv: $tried environments tried"
fi

# ================================================================ procs
for c in fork exec spawn vfork threads signals closerange manyfiles; do
	name=procs-$c
	want "$name" || continue
	d=$TMP/procs-$c; mkdir -p "$d"
	rm -rf "$d/w"; base "$P/procs" "$c" "$d/w" >"$d.base" 2>&1; rb=$?
	rm -rf "$d/w"; reset_stats
	shim "$P/procs" "$c" "$d/w" >"$d.shim" 2>&1; rs=$?
	served=$(stat_sum served_calls)
	if [ $rb = 77 ]; then skip "$name" "$(head -1 "$d.base")"
	elif [ $rb != 0 ]; then fail "$name" "fails without the shim: $(status $rb): $(tail -1 "$d.base")"
	elif [ $rs != $rb ]; then fail "$name" "$(status $rs) under the shim, $(status $rb) without: $(tail -1 "$d.shim")"
	elif ! cmp -s "$d.base" "$d.shim"; then
		fail "$name" "output differs: $(diff "$d.base" "$d.shim" | grep '^[<>]' | head -2 | tr '\n' ' ')"
	elif [ "$served" -eq 0 ]; then fail "$name" "nothing served from a map (stats)"
	else ok "$name ($(wc -l <"$d.shim") identical lines, $served calls served)"; fi
done

# ================================================================= load
# load_case NAME WHAT PROG N [VAR=VALUE...]: PROG DIR N under the shim
# (MMAPIO_MODE=always unless a VAR says otherwise) and without it: both exit
# 0 with the same output, and the shim served calls.
load_case() {
	local name=$1 what=$2 prog=$3 n=$4; shift 4
	want "$name" || return
	local d=$TMP/$name; reset_stats
	shim env "$@" "$P/$prog" "$d" "$n" >"$d.out" 2>&1; local rc=$?
	base "$P/$prog" "$d.base" "$n" >"$d.base.out" 2>&1; local rb=$?
	local served; served=$(stat_sum served_calls)
	if [ $rb != 0 ]; then fail "$name" "fails without the shim: $(tail -1 "$d.base.out")"
	elif [ $rc != 0 ]; then fail "$name" "$(status $rc): $(tail -1 "$d.out")"
	elif ! cmp -s "$d.out" "$d.base.out"; then fail "$name" "output differs from the run without the shim"
	elif [ "$served" -eq 0 ]; then fail "$name" "nothing served"
	else ok "$name (2 threads x $n $what, $served calls served)"; fi
}
load_case load-shim ops load "$LOAD_OPS"
# Auto mode's lock-free open/close of small files (preload/fdtable.c); the
# served calls are the 1 MiB file's, which auto maps.
SMALL_ROUNDS=20000; [ $LONG = 1 ] && SMALL_ROUNDS=200000
load_case smallfiles-auto "open-read-close rounds" smallfiles "$SMALL_ROUNDS" MMAPIO_MODE=auto

# ThreadSanitizer: the shim built with -fsanitize=thread, preloaded behind
# the TSan runtime. TSan must not install its own SIGSEGV/SIGBUS handlers
# (handle_segv=0 ...): at its initialization it calls sigaction, which is
# the shim's (instrumented) interposer, before TSan can run instrumented
# code: a crash in __tsan_func_entry. With those handlers off, the shim's
# fault handler is the one installed, as in production. For the same
# reason TSan must not turn core dumps off (disable_coredump=0): it would
# call setrlimit, which the shim interposes (limits.c).
TSAN_DIR=${BUILD}-tsan
tsan_build() {
	local tsan_lib
	tsan_lib=$(gcc -print-file-name=libtsan.so)
	[ -e "$tsan_lib" ] || { echo "no libtsan.so for gcc"; return 1; }
	mkdir -p "$TSAN_DIR/obj" "$TSAN_DIR/tests/stress"
	local src objs=() flags=(-std=gnu11 -D_GNU_SOURCE -DMMAPIO_DEBUG -Iinclude -DMMAPIO_EMBEDDED -fPIC
		-fvisibility=hidden -fsanitize=thread -O1 -g -pthread -w)
	(
		cd "$ROOT" || exit 1
		for src in preload/*.c core/*.c core/copy_x86_64.S preload/vfork_x86_64.S; do
			local o="$TSAN_DIR/obj/${src//\//_}.o"
			if [ ! -e "$o" ] || [ "$src" -nt "$o" ] || [ -n "$(find include core preload -name '*.h' -newer "$o" 2>/dev/null | head -1)" ]; then
				gcc "${flags[@]}" -c "$src" -o "$o" || exit 1
			fi
		done
	) || return 1
	for src in "$ROOT"/preload/*.c "$ROOT"/core/*.c "$ROOT"/core/copy_x86_64.S "$ROOT"/preload/vfork_x86_64.S; do
		src=${src#"$ROOT"/}
		objs+=("$TSAN_DIR/obj/${src//\//_}.o")
	done
	gcc -shared -fsanitize=thread -o "$TSAN_DIR/libmmapio_preload.so" "${objs[@]}" -ldl -pthread || return 1
	gcc -std=gnu11 -Wall -Wextra -O1 -g -pthread -fsanitize=thread "$HERE/load.c" -o "$TSAN_DIR/tests/stress/load" || return 1
	gcc -std=gnu11 -Wall -Wextra -O1 -g -pthread -fsanitize=thread "$HERE/smallfiles.c" -o "$TSAN_DIR/tests/stress/smallfiles" || return 1
}
if want load-tsan; then
	d=$TMP/tsan
	if [ "$(uname -m)" != x86_64 ]; then
		skip load-tsan "x86_64 only (the shim's assembly)"
	elif ! tsan_build >"$d.build" 2>&1; then
		skip load-tsan "cannot build the TSan shim: $(tail -1 "$d.build")"
	else
		export TSAN_OPTIONS="handle_segv=0:handle_sigbus=0:handle_abort=0:handle_sigill=0:handle_sigfpe=0:handle_sigtrap=0:disable_coredump=0:exitcode=66:report_signal_unsafe=0"
		TPRE="$(gcc -print-file-name=libtsan.so) $TSAN_DIR/libmmapio_preload.so"
		tsan_ops=$((LOAD_OPS / 2)); [ $LONG = 1 ] && tsan_ops=$LOAD_OPS
		reset_stats
		timeout -k 5 "$TO" env LD_PRELOAD="$TPRE" MMAPIO_MODE=always MMAPIO_STATS="$STATS" \
			"$TSAN_DIR/tests/stress/load" "$d" "$tsan_ops" >"$d.out" 2>"$d.err"; rc=$?
		served=$(stat_sum served_calls)
		races=$(grep -c "WARNING: ThreadSanitizer" "$d.err")
		if [ $rc != 0 ] || [ "$races" != 0 ]; then
			fail load-tsan "$(status $rc), $races ThreadSanitizer reports (see $d.err): $(grep -m1 -A3 'WARNING: ThreadSanitizer' "$d.err" | tr '\n' ' ' | head -c 300)"
		elif [ "$served" -eq 0 ]; then
			fail load-tsan "nothing served: the TSan shim was not active"
		else
			ok "load-tsan (TSan shim preloaded after libtsan: 2 threads x $tsan_ops ops, $served calls served, no report)"
		fi
		if want smallfiles-tsan; then
			reset_stats
			timeout -k 5 "$TO" env LD_PRELOAD="$TPRE" MMAPIO_MODE=auto MMAPIO_STATS="$STATS" \
				"$TSAN_DIR/tests/stress/smallfiles" "$d.small" $((SMALL_ROUNDS / 4)) >"$d.small.out" 2>"$d.small.err"; rc=$?
			served=$(stat_sum served_calls)
			races=$(grep -c "WARNING: ThreadSanitizer" "$d.small.err")
			if [ $rc != 0 ] || [ "$races" != 0 ]; then
				fail smallfiles-tsan "$(status $rc), $races ThreadSanitizer reports (see $d.small.err): $(grep -m1 -A3 'WARNING: ThreadSanitizer' "$d.small.err" | tr '\n' ' ' | head -c 300)"
			elif [ "$served" -eq 0 ]; then
				fail smallfiles-tsan "nothing served: the TSan shim was not active"
			else
				ok "smallfiles-tsan (auto mode, 2 threads x $((SMALL_ROUNDS / 4)) rounds, $served calls served, no report)"
			fi
		fi
		# Forks and every way out (prog_exits): the fork handlers of the
		# core and the shim, the exit report. A lock the child inherits
		# held must be unlocked, not re-initialised (core/prewarm.c).
		if want exits-tsan; then
			pe=$BUILD/tests/preload/prog_exits
			if [ ! -x "$pe" ]; then
				skip exits-tsan "$pe not built (tests/preload/build.sh)"
			else
				reset_stats
				mkdir -p "$d.exits"
				timeout -k 5 "$TO" env LD_PRELOAD="$TPRE" MMAPIO_MODE=always MMAPIO_STATS="$STATS" \
					"$pe" "$d.exits" >"$d.exits.out" 2>"$d.exits.err"; rc=$?
				races=$(grep -c "WARNING: ThreadSanitizer" "$d.exits.err")
				if [ $rc != 0 ] || [ "$races" != 0 ]; then
					fail exits-tsan "$(status $rc), $races ThreadSanitizer reports (see $d.exits.err): $(grep -m1 -A3 'WARNING: ThreadSanitizer' "$d.exits.err" | tr '\n' ' ' | head -c 300)"
				else
					ok "exits-tsan (prog_exits: $(grep -c . "$STATS") stats lines, no report)"
				fi
			fi
		fi
		if want selftest-tsan; then
			timeout -k 5 "$TO" env LD_PRELOAD="$TPRE" MMAPIO_MODE=always \
				"$TSAN_DIR/tests/stress/load" "$d.canary" 2000 -R >"$d.canary.out" 2>"$d.canary.err"
			if grep -q "WARNING: ThreadSanitizer: data race" "$d.canary.err"; then
				ok "selftest-tsan (a deliberate race is reported in this setup)"
			else
				fail selftest-tsan "the deliberate race of load -R was not reported"
			fi
		fi
		unset TSAN_OPTIONS
	fi
fi

# ================================================================= bugs
# Reproducers of shim bugs: each must pass without the shim (else the
# reproducer is wrong) and fails under it until the bug is fixed.
bug_case() { # NAME PROG [DIR-SETUP: tmpfs|-] [known]
	local name=$1 prog=$2 kind=${3:-} known=${4:-}
	want "$name" || return
	local d=$TMP/$name; mkdir -p "$d/base" "$d/shim"
	if [ "$kind" = tmpfs ]; then
		if ! { mount_tmpfs "$d/base" 1m && mount_tmpfs "$d/shim" 1m; }; then
			skip "$name" "cannot mount a tmpfs"
			return
		fi
	fi
	base "$P/$prog" "$d/base" >"$d/base.out" 2>&1; local rb=$?
	shim "$P/$prog" "$d/shim" >"$d/shim.out" 2>&1; local rs=$?
	[ "$kind" = tmpfs ] && { unmount "$d/base"; unmount "$d/shim"; }
	if [ $rb != 0 ]; then fail "$name" "the reproducer fails without the shim: $(head -1 "$d/base.out")"
	elif [ $rs != 0 ] && [ -n "$known" ]; then
		skip "$name" "known limitation (README, Limitations): $(head -1 "$d/shim.out")"
	elif [ $rs != 0 ]; then fail "$name" "$(head -1 "$d/shim.out")"
	else ok "$name (fixed)"; fi
}
bug_case bug-wronly-extend bug_wronly_extend
bug_case bug-rdonly-rebind bug_rdonly_rebind
bug_case bug-hugelen-efault bug_hugelen_efault
bug_case bug-raw-close-stale-fd bug_raw_close_stale_fd
bug_case bug-foreign-resize bug_foreign_resize
SHIM_TMPFS=1 bug_case bug-tmpfs-hole-read bug_tmpfs_hole_read tmpfs
# Not fixable while tmpfs is mapped (README: MMAPIO_TMPFS): the default
# hands tmpfs files to the kernel; with MMAPIO_TMPFS=1 it is a named limit.
bug_case bug-tmpfs-foreign-punch bug_tmpfs_foreign_punch tmpfs
SHIM_TMPFS=1 bug_case bug-tmpfs-foreign-punch-optin bug_tmpfs_foreign_punch tmpfs known

t_summary
