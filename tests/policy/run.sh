#!/usr/bin/env bash
# Policy by environment: the auto heuristic's decisions, the periodic
# flusher seen from the kernel's own account (cachestat), and the shim's
# differential suite under every prewarm/flush/fsync/huge-page setting.
#   tests/policy/run.sh BUILD_DIR
# Ends with "N passed, M failed, K skipped"; exit 1 on failure.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
t_build_dir BUILD_DIR "$@"
B=$BUILD
LIB=$B/libmmapio_preload.so
ACCESS=$B/tests/policy/access
t_clean_env

t_tmpdir policy
T=$TMP
memcg_dir=""
t_cleanup_hook() { if [ -n "$memcg_dir" ]; then rmdir "$memcg_dir" 2>/dev/null; fi; return 0; }

# stat_of KEY FILE...: a field of the (last) stats line, or of its first file entry
stat_of() {
	python3 - "$@" <<'PY'
import json, sys
key, path = sys.argv[1], sys.argv[2]
lines = [json.loads(l) for l in open(path) if l.strip()]
d = lines[-1]
if key.startswith("file."):
    f = [f for f in d["files"] if f["path"].endswith(sys.argv[3])]
    print(f[0][key[5:]] if f else "none")
else:
    print(d[key])
PY
}

head -c $((16 << 20)) /dev/urandom > "$T/big"
head -c 4096 /dev/urandom > "$T/tiny"

# ---- the auto heuristic, decision by decision
auto_case() { # NAME EXPECT_DECISION REASON_SUBSTR EXPECT_SERVED(>0|0) ENV... -- ARGS...
	local name=$1 want=$2 why=$3 served=$4
	shift 4
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	local file=$2 # ARGS: MODE FILE [N]
	rm -f "$T/st"
	local a b
	a=$("$ACCESS" "$@") || { fail "$name" "baseline run failed"; return; }
	b=$(env LD_PRELOAD="$LIB" MMAPIO_STATS="$T/st" "${envs[@]}" "$ACCESS" "$@") ||
		{ fail "$name" "run under the shim failed"; return; }
	[ "$a" = "$b" ] || { fail "$name" "output differs: '$a' vs '$b'"; return; }
	local base=${file##*/} d r s
	d=$(stat_of file.decision "$T/st" "$base")
	r=$(stat_of file.reason "$T/st" "$base")
	s=$(stat_of file.served_calls "$T/st" "$base")
	if [ "$d" != "$want" ] || [[ "$r" != *"$why"* ]]; then
		fail "$name" "decision $d ($r), want $want ($why)"
	elif [ "$served" = ">0" ] && [ "$s" -le 0 ]; then
		fail "$name" "decision $d but nothing served"
	elif [ "$served" = 0 ] && [ "$s" -ne 0 ]; then
		fail "$name" "$s calls served, want none"
	else
		ok "$name ($d: $r, $s served)"
	fi
}
auto_case auto-small-reads map "read often" ">0" MMAPIO_MODE=auto -- small "$T/big" 200
auto_case auto-stream-once kernel "not yet read again" 0 MMAPIO_MODE=auto -- stream "$T/big"
auto_case auto-streaming map "read often" ">0" MMAPIO_MODE=auto -- stream "$T/big" 4
auto_case auto-small-reads-rule map "small reads" ">0" MMAPIO_MODE=auto MMAPIO_SMALL_READ=64K -- small "$T/big" 200
auto_case auto-streaming-rule kernel "large reads" 0 MMAPIO_MODE=auto MMAPIO_SMALL_READ=64K -- stream "$T/big" 4
auto_case auto-small-file kernel "MIN_SIZE" 0 MMAPIO_MODE=auto -- small "$T/tiny" 200
auto_case auto-threads kernel "THREADS" 0 MMAPIO_MODE=auto MMAPIO_MAX_THREADS=0 -- small "$T/big" 200
auto_case auto-max-size kernel "MAX_SIZE" 0 MMAPIO_MODE=auto MMAPIO_MAX_SIZE=1M -- small "$T/big" 200
auto_case auto-exclude kernel "EXCLUDE" 0 MMAPIO_MODE=auto "MMAPIO_EXCLUDE=*/big" -- small "$T/big" 200
auto_case always-streaming map "always" ">0" MMAPIO_MODE=always -- stream "$T/big"

# ---- deciding both ways, growth, and the whole preadv2 family
# history_of FILE NAME: the file's decisions, in order, "decision:reason|..."
history_of() {
	python3 - "$1" "$2" <<'PY'
import json, sys
d = json.loads([l for l in open(sys.argv[1]) if l.strip()][-1])
f = [f for f in d["files"] if f["path"].endswith(sys.argv[2])]
print("|".join(h["decision"] + ":" + h["reason"] for h in f[0]["history"]) if f else "none")
PY
}
# run_access NAME ENV... -- ARGS...: identical output with and without the
# shim (auto), stats checked by tests/preload/stats.py (files add up).
run_access() {
	local name=$1 envs=()
	shift
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	rm -f "$T/st" "$T/db"
	local a b chk
	a=$("$ACCESS" "$@") || { fail "$name" "baseline run failed"; return 1; }
	rm -f "$T/db"
	b=$(env LD_PRELOAD="$LIB" MMAPIO_STATS="$T/st" "${envs[@]}" "$ACCESS" "$@") ||
		{ fail "$name" "run under the shim failed"; return 1; }
	[ "$a" = "$b" ] || { fail "$name" "output differs: '$a' vs '$b'"; return 1; }
	chk=$(python3 "$HERE/../preload/stats.py" "$T/st") ||
		{ fail "$name" "stats: $chk"; return 1; }
}
fs=$(stat -f -c %T "$T")
if [ "$fs" = tmpfs ] || [ "$fs" = ramfs ]; then
	skip auto-demote "$T is on $fs, which keeps dropped pages"
elif run_access auto-demote -- demote "$T/big" 3000; then
	h=$(history_of "$T/st" big)
	s=$(stat_of file.served_calls "$T/st" big)
	case "$h" in
	map:*kernel:*"the map was missing"*map:*) ok "auto-demote ($s served; $h)" ;;
	*) fail auto-demote "want map, then kernel (the map was missing...), then map again: $h" ;;
	esac
fi
# The same as a user who may not see the page cache (cachestat says EPERM
# for a file one neither owns nor may write): major faults tell instead.
if [ "$fs" = tmpfs ] || [ "$fs" = ramfs ]; then
	skip auto-demote-faults "$T is on $fs, which keeps dropped pages"
elif [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	skip auto-demote-faults "needs root (to run as another user) and setpriv"
else
	chmod 755 "$T" && chmod 644 "$T/big" && : >"$T/st" && chmod 666 "$T/st"
	a=$("$ACCESS" demote "$T/big" 3000)
	b=$(setpriv --reuid=65534 --regid=65534 --clear-groups env LD_PRELOAD="$LIB" \
		MMAPIO_STATS="$T/st" "$ACCESS" demote "$T/big" 3000)
	h=$(history_of "$T/st" big)
	r=$(python3 -c 'import json,sys; f=[f for f in json.loads(open(sys.argv[1]).readline())["files"] if f["path"].endswith("big")]; print(f[0].get("residency") if f else "none")' "$T/st")
	if [ "$a" != "$b" ]; then
		fail auto-demote-faults "output differs: '$a' vs '$b'"
	elif [ "$r" = "major faults" ] && [[ "$h" == map:*kernel:*"the map was missing"*map:* ]]; then
		ok "auto-demote-faults (residency from $r; $h)"
	else
		fail auto-demote-faults "want residency from major faults and map, kernel, map: $r; $h"
	fi
fi
if run_access auto-grow -- grow "$T/db" 2000; then
	h=$(history_of "$T/st" db)
	s=$(stat_of file.served_calls "$T/st" db)
	case "$h" in
	*"watching it grow"*map:*)
		if [ "$s" -gt 0 ]; then ok "auto-grow ($s served; $h)"; else fail auto-grow "mapped but nothing served: $h"; fi ;;
	*) fail auto-grow "want watching it grow, then map: $h" ;;
	esac
fi
if run_access auto-preadv2 -- v2 "$T/big" 500; then
	d=$(stat_of file.decision "$T/st" big)
	s=$(stat_of file.served_calls "$T/st" big)
	if [ "$d" = map ] && [ "$s" -gt 0 ]; then
		ok "auto-preadv2 ($s of 500 preadv2 served)"
	else
		fail auto-preadv2 "preadv2 calls must be watched and served: $d, $s served"
	fi
fi

# ---- memory: cold data, and a memory cgroup the file does not fit in
# memcg_make BYTES: a new memory cgroup (v2, else v1) in $memcg_dir; needs root.
memcg_make() {
	[ "$(id -u)" = 0 ] || return 1
	local root d
	for root in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		grep -qw memory "$root/cgroup.controllers" 2>/dev/null || continue
		echo +memory >"$root/cgroup.subtree_control" 2>/dev/null
		d=$root/mmapio-test-$$
		if mkdir "$d" 2>/dev/null && echo "$1" >"$d/memory.max"; then
			echo 0 >"$d/memory.swap.max" 2>/dev/null
			memcg_dir=$d
			return 0
		fi
		rmdir "$d" 2>/dev/null
	done
	d=/sys/fs/cgroup/memory/mmapio-test-$$
	if mkdir "$d" 2>/dev/null && echo "$1" >"$d/memory.limit_in_bytes"; then
		memcg_dir=$d
		return 0
	fi
	rmdir "$d" 2>/dev/null
	return 1
}
# in_memcg CMD...: run CMD inside $memcg_dir.
in_memcg() { sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$memcg_dir" "$@"; }
drop_cache() { python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$1"; }
# cold_case NAME PREFIX...: random 4 KiB reads of a cold 256 MiB file (run
# under PREFIX) stay with the kernel, as auto mode's decisions say.
cold_case() {
	local name=$1 a b
	shift
	drop_cache "$T/cold"
	a=$("$@" "$ACCESS" small "$T/cold" 4000) || { fail "$name" "baseline run failed"; return; }
	drop_cache "$T/cold"
	rm -f "$T/st"
	b=$("$@" env LD_PRELOAD="$LIB" MMAPIO_STATS="$T/st" "$ACCESS" small "$T/cold" 4000) ||
		{ fail "$name" "run under the shim failed"; return; }
	[ "$a" = "$b" ] || { fail "$name" "output differs: '$a' vs '$b'"; return; }
	local d h s p n
	d=$(stat_of file.decision "$T/st" cold)
	h=$(history_of "$T/st" cold)
	s=$(stat_of file.served_calls "$T/st" cold)
	p=$(stat_of file.passthrough_calls "$T/st" cold)
	n=$(stat_of file.sampled_calls "$T/st" cold)
	# A watched file whose windows miss is probed less and less often
	# (sample.c: 16 calls a probe, doubling to 256): a probe every 16
	# calls throughout would be 250 probes of 4,000 calls.
	if [ "$d" != kernel ] || [[ "$h" != *cache* ]] || [ "$s" -ge 200 ]; then
		fail "$name" "want kernel for a page cache reason, few served: $d, $s served, $p passed; $h"
	elif [ $((n * 20)) -ge "$p" ]; then
		fail "$name" "probed $n of $p calls: the period did not grow while the windows missed"
	else
		ok "$name ($s served, $p passed through, $n probed; $h)"
	fi
}
fs=$(stat -f -c %T "$T")
if [ "$fs" = tmpfs ] || [ "$fs" = ramfs ]; then
	skip auto-cold-random "$T is on $fs: nothing is ever cold there"
	skip auto-memcg-random "$T is on $fs: nothing is ever cold there"
else
	head -c $((256 << 20)) /dev/urandom >"$T/cold"
	cold_case auto-cold-random
	if memcg_make $((64 << 20)); then
		cold_case auto-memcg-random in_memcg
		# Streaming a file four times the cgroup's limit: the kernel's.
		drop_cache "$T/cold"
		rm -f "$T/st"
		a=$("$ACCESS" stream "$T/cold" 3)
		b=$(in_memcg env LD_PRELOAD="$LIB" MMAPIO_STATS="$T/st" "$ACCESS" stream "$T/cold" 3)
		h=$(history_of "$T/st" cold)
		if [ "$a" != "$b" ]; then
			fail auto-memcg-streaming "output differs: '$a' vs '$b'"
		elif [[ "$h" == *streaming* ]] && [ "$(stat_of file.decision "$T/st" cold)" = kernel ]; then
			ok "auto-memcg-streaming ($h)"
		else
			fail auto-memcg-streaming "want kernel (streaming a file larger than the page cache it can keep): $h"
		fi
	else
		skip auto-memcg-random "needs root and a memory cgroup controller (v2 or v1)"
		skip auto-memcg-streaming "needs root and a memory cgroup controller (v2 or v1)"
	fi
	rm -f "$T/cold"
fi

# ---- the periodic flusher, from the kernel's own account of dirty pages
flush_case() { # NAME WANT(clean|dirty) ENV...
	local name=$1 want=$2
	shift 2
	cp "$T/big" "$T/w" && sync "$T/w"
	rm -f "$T/st"
	local out rc
	out=$(env LD_PRELOAD="$LIB" MMAPIO_MODE=always MMAPIO_STATS="$T/st" "$@" "$ACCESS" write "$T/w" 256)
	rc=$?
	if [ $rc = 3 ]; then
		skip "$name" "cachestat(2) not available (Linux 6.5+)"
		return
	fi
	local dirty=${out#dirty }
	dirty=${dirty%% *}
	local flushed
	flushed=$(stat_of flushed_bytes "$T/st")
	if [ "$want" = clean ] && [ "$dirty" = 0 ] && [ "$flushed" -gt 0 ]; then
		ok "$name ($out; $flushed bytes flushed by the shim)"
	elif [ "$want" = dirty ] && [ "$dirty" -gt 0 ]; then
		ok "$name (control: $out without the flusher)"
	elif [ "$want" = dirty ] && [ "$flushed" = 0 ]; then
		# Clean without our flusher: the kernel's own writeback got there
		# first (other I/O on the machine crossed its thresholds). The
		# control proves nothing this time; the flusher case above still
		# required the shim's flushed-bytes counter.
		skip "$name" "the kernel wrote the pages back by itself ($out): control inconclusive"
	else
		fail "$name" "$out, flushed_bytes=$flushed, want $want"
	fi
}
flush_case flush-interval-50ms clean MMAPIO_FLUSH_INTERVAL=50ms
flush_case flush-interval-off dirty

# ---- the differential suite under each setting (program cases only)
variant() { # NAME EXPECT SETTINGS
	local name=$1 expect=$2 settings=$3 out
	out=$(PRELOAD_TEST_ONLY='^prog_[a-z]*$' PRELOAD_TEST_SHIM_ENV="$settings" \
		PRELOAD_TEST_EXPECT=$expect "$HERE/../preload/run.sh" "$B" 2>&1)
	local last
	last=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
	case "$last" in
	*" 0 failed"*) ok "differential $name ($last)" ;;
	"") fail "differential $name" "no summary line: $(echo "$out" | tail -1)" ;;
	*) fail "differential $name" "$(echo "$out" | grep FAIL | head -3)" ;;
	esac
}
variant auto maybe "MMAPIO_MODE=auto MMAPIO_MIN_SIZE=0"
variant auto-streaming-rules maybe "MMAPIO_MODE=auto MMAPIO_MIN_SIZE=0 MMAPIO_SMALL_READ=64K MMAPIO_LARGE_READ=64K"
for s in MMAPIO_PREWARM=willneed MMAPIO_PREWARM=populate MMAPIO_PREWARM=async \
	"MMAPIO_PREWARM=populate MMAPIO_PREWARM_MAX=4K" MMAPIO_FLUSH_INTERVAL=5ms \
	MMAPIO_FSYNC=range MMAPIO_HUGEPAGES=auto MMAPIO_WRITES=kernel; do
	variant "$s" served "MMAPIO_MODE=always $s"
done

t_summary
