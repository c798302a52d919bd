#!/usr/bin/env bash
# The Linux Test Project's syscall tests against the shim: every entry of
# ltp-entries.txt (the system calls a program's file I/O goes through, and
# what the shim interposes or depends on: the directories in ltp-dirs.txt)
# runs without the shim, under MMAPIO_MODE=always and under the default
# (auto); the arms must report the same results.
#
#   tests/external/ltp.sh BUILD_DIR LTP_DIR [ENTRY_REGEX]
#
# LTP_DIR is a checkout of https://github.com/linux-test-project/ltp (the
# figures in the README are from its 20260529 release). What is not yet
# built there is built first, in that checkout (a few minutes; needs the
# Debian packages autoconf, automake, m4, pkgconf, make and gcc). Not part of `make test` (it needs the checkout and about 20
# minutes on 2 CPUs): `make test-external LTP=...` runs it. Run as root, as
# LTP expects (some entries need it; without, they report TCONF in every arm).
#
# Compared per entry (ltp-compare.py): the counts of passed, failed, broken,
# skipped and warnings, and every TPASS/TFAIL/TBROK/TWARN line with times,
# pids and temporary paths taken out. Logs stay in the temporary directory
# when an entry differs (T_KEEP_ON_FAIL).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
t_build_dir "BUILD_DIR LTP_DIR [ENTRY_REGEX]" "$@"
LTP=${2:-}
ONLY=${3:-.}
[ -f "$LTP/runtest/syscalls" ] || { echo "$0: no runtest/syscalls in '$LTP'" >&2; exit 2; }
LTP=$(cd "$LTP" && pwd)
SHIM=$BUILD/libmmapio_preload.so
[ -f "$SHIM" ] || { echo "$0: no $SHIM (run make)" >&2; exit 2; }
t_clean_env
T_KEEP_ON_FAIL=1
t_tmpdir ltp
SC=$LTP/testcases/kernel/syscalls

build() {
	local d
	if [ ! -f "$LTP/include/config.h" ]; then
		(cd "$LTP" && make autotools && ./configure) > "$TMP/configure.log" 2>&1 ||
			{ echo "$0: LTP configure failed (see $TMP/configure.log)" >&2; return 1; }
	fi
	make -C "$LTP/lib" -j2 > "$TMP/lib.log" 2>&1 || { echo "$0: LTP lib failed" >&2; return 1; }
	while read -r d; do
		make -C "$SC/$d" -j2 > "$TMP/build-$d.log" 2>&1 ||
			{ echo "$0: LTP $d failed (see $TMP/build-$d.log)" >&2; return 1; }
	done < "$HERE/ltp-dirs.txt"
}
if ! build; then
	T_KEEP=1
	fail build "LTP could not be built"
	t_summary
	exit
fi

path=$(while read -r d; do printf '%s:' "$SC/$d"; done < "$HERE/ltp-dirs.txt")
export PATH="$path$LTP/testcases/bin:$PATH" LTPROOT=$LTP LTP_TIMEOUT_MUL=3 LTP_RUNTIME_MUL=0.1
mkdir -p "$TMP/scratch"
export TMPDIR=$TMP/scratch

run() { # ARM NAME CMD: one entry, in the directory of its program (some read data files there)
	local arm=$1 name=$2 cmd=$3 bin dir
	bin=${cmd%% *}
	dir=$(dirname "$(command -v "$bin" || echo "$SC/x")")
	mkdir -p "$TMP/$arm"
	case $arm in
	none) (cd "$dir" && timeout -k 10 900 sh -c "$cmd") ;;
	always) (cd "$dir" && LD_PRELOAD=$SHIM MMAPIO_MODE=always MMAPIO_STATS=$TMP/$arm/$name.stats \
		timeout -k 10 900 sh -c "$cmd") ;;
	auto) (cd "$dir" && LD_PRELOAD=$SHIM MMAPIO_STATS=$TMP/$arm/$name.stats \
		timeout -k 10 900 sh -c "$cmd") ;;
	esac > "$TMP/$arm/$name.log" 2>&1 < /dev/null
}

n=0
while read -r name; do
	[[ $name =~ $ONLY ]] || continue
	cmd=$(awk -v n="$name" '$1 == n { $1 = ""; sub(/^ /, ""); print; exit }' "$LTP/runtest/syscalls")
	if [ -z "$cmd" ]; then
		skip "ltp-$name" "not in this LTP's runtest/syscalls"
		continue
	fi
	for arm in none always auto; do
		run $arm "$name" "$cmd"
	done
	if why=$(python3 "$HERE/ltp-compare.py" "$TMP" "$name"); then
		ok "ltp-$name ($why)"
	else
		fail "ltp-$name" "$why"
	fi
	n=$((n + 1))
done < "$HERE/ltp-entries.txt"
echo "# ltp: $n entries run in 3 arms"
t_summary
