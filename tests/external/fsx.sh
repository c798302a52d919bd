#!/usr/bin/env bash
# xfstests' fsx against the shim: every run without the shim, under
# MMAPIO_MODE=always and under the default (auto) must end the same way.
#
#   tests/external/fsx.sh BUILD_DIR XFSTESTS_DIR
#
# XFSTESTS_DIR is a checkout of xfstests (git://git.kernel.org/pub/scm/fs/xfs/xfstests-dev.git
# or a mirror); only ltp/fsx.c and its headers are used, compiled here into the
# temporary directory (libaio and liburing left out). Older releases read and
# write after lseek (before 2023 fsx used pread/pwrite only for some operations):
# check one out to run them. Not part of `make test` (it needs the checkout):
# `make test-external XFSTESTS=...` runs it.
#
# Variants x seeds 1-3 x FSX_OPS operations (default 100,000):
#   default  fsx as it comes: its own mmap reads and writes, fallocate,
#            punch hole, zero/collapse/insert range, copy_file_range, ...
#   rw       -R -W: no mmap of its own, every byte through read/write
#   plain    only read, write and truncate (every other operation off)
# A case passes when every arm exits 0 with fsx's "operations completed A-OK"
# and the always arm's stats show calls served from the map (else the run
# proves nothing about the shim).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
t_build_dir "BUILD_DIR XFSTESTS_DIR" "$@"
XFS=${2:-}
[ -f "$XFS/ltp/fsx.c" ] || { echo "$0: no ltp/fsx.c in '$XFS'" >&2; exit 2; }
XFS=$(cd "$XFS" && pwd)
SHIM=$BUILD/libmmapio_preload.so
[ -f "$SHIM" ] || { echo "$0: no $SHIM (run make)" >&2; exit 2; }
t_clean_env
t_tmpdir fsx
OPS=${FSX_OPS:-100000}

# The configure results fsx.c's global.h looks for, on any glibc Linux.
for h in SYS_TYPES_H SYS_STAT_H SYS_STATVFS_H SYS_TIME_H SYS_IOCTL_H SYS_WAIT_H MALLOC_H \
	DIRENT_H STDLIB_H UNISTD_H ERRNO_H STRING_H FCNTL_H SYS_PARAM_H LIBGEN_H ASSERT_H \
	STRINGS_H LINUX_FALLOC_H SYS_MMAN_H ERR_H COPY_FILE_RANGE; do
	echo "#define HAVE_$h 1"
done > config.h
if ! gcc -O2 -D_GNU_SOURCE -include getopt.h -I. -I"$XFS/include" -I"$XFS/src" \
	"$XFS/ltp/fsx.c" -o fsx 2> build.log; then
	fail build "fsx.c did not compile: $(head -3 build.log)"
	t_summary
	exit
fi

arm() { # ARM NAME OPTS...: run fsx under ARM, status and last line in NAME.*
	local a=$1 name=$2
	shift 2
	mkdir -p "$name.d"
	case $a in
	none) ./fsx "$@" -P "$name.d" "$name.d/f" > "$name.out" 2>&1 ;;
	always) LD_PRELOAD=$SHIM MMAPIO_MODE=always MMAPIO_STATS=$TMP/$name.stats \
		./fsx "$@" -P "$name.d" "$name.d/f" > "$name.out" 2>&1 ;;
	auto) LD_PRELOAD=$SHIM MMAPIO_STATS=$TMP/$name.stats \
		./fsx "$@" -P "$name.d" "$name.d/f" > "$name.out" 2>&1 ;;
	esac
	echo $? > "$name.rc"
}

served() { # STATS FILE: calls served, summed over its lines (tests/preload/stats.py,
	# which also checks that every line's files add up to its totals), 0
	# without stats, else stats.py's complaint
	local st
	st=$(python3 "$HERE/../preload/stats.py" "$1" 2>&1)
	case $st in
	ok*) sed -n 's/.* served=\([0-9]*\).*/\1/p' <<< "$st" ;;
	missing) echo 0 ;;
	*) echo "$st" ;;
	esac
}

for variant in default rw plain; do
	case $variant in
	default) opts=() ;;
	rw) opts=(-R -W) ;;
	plain) opts=(-R -W -F -H -z -C -I -E -J -B -0 -u -a -K) ;;
	esac
	for seed in 1 2 3; do
		name=$variant-$seed why=""
		for a in none always auto; do
			arm $a "$name-$a" -q -N "$OPS" -S "$seed" "${opts[@]}"
			if [ "$(cat "$name-$a.rc")" != 0 ] || ! grep -q "operations completed A-OK" "$name-$a.out"; then
				why="$why $a: exit $(cat "$name-$a.rc"), $(tail -1 "$name-$a.out");"
			fi
		done
		n=$(served "$name-always.stats")
		if [ -n "$why" ]; then
			fail "fsx-$name" "$why"
		elif ! [[ $n =~ ^[0-9]+$ ]]; then
			fail "fsx-$name" "stats of the always arm: $n"
		elif [ "$n" -eq 0 ]; then
			fail "fsx-$name" "the always arm served no call (stats: $(head -c 300 "$name-always.stats" 2>/dev/null))"
		else
			ok "fsx-$name ($OPS ops each arm; always served $n calls, auto $(served "$name-auto.stats"))"
		fi
	done
done
t_summary
