# shellcheck shell=bash
# tests/lib.sh - what the shell test runners (tests/*/run.sh, tests/run-all.sh)
# share. Sourced, after `set -u`, with: . "$HERE/../lib.sh"
#
#   t_build_dir USAGE "$@"  BUILD = the absolute path of $1 (the build directory);
#                           with no $1, "usage: $0 USAGE" and exit 2
#   t_clean_env             no inherited LD_PRELOAD or MMAPIO_* variable; LC_ALL=C
#   t_tmpdir NAME           TMP = a new directory ${TMPDIR:-/tmp}/mmapio-NAME.XXXXXX, made
#                           the current directory (whatever a test writes to a
#                           relative path lands there, not in the checkout) and
#                           removed at exit by a trap (normal exit, exit on error,
#                           SIGINT, SIGTERM, SIGHUP). Kept, and its path printed on
#                           stderr, when T_KEEP=1, or when T_KEEP_ON_FAIL=1 and a
#                           case failed. A runner with more to undo first (mounts,
#                           loop devices) defines t_cleanup_hook.
#   ok NAME                 "ok NAME"
#   fail NAME WHY           "FAIL NAME: WHY"
#   skip NAME WHY           "skip NAME: WHY"
#   t_summary               the last line, parsed by tests/run-all.sh:
#                           "N passed, M failed, K skipped"; status 1 if a case failed

pass=0 failn=0 skipn=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
fail() { echo "FAIL $1: $2"; failn=$((failn + 1)); }
skip() { echo "skip $1: $2"; skipn=$((skipn + 1)); }

t_summary() {
	echo "$pass passed, $failn failed, $skipn skipped"
	[ "$failn" -eq 0 ]
}

t_build_dir() {
	local usage=$1
	shift
	if [ $# -lt 1 ]; then
		echo "usage: $0 $usage" >&2
		exit 2
	fi
	# shellcheck disable=SC2034 # for the runner that sourced this file
	BUILD=$(cd "$1" 2>/dev/null && pwd) || { echo "$0: no such directory: $1" >&2; exit 2; }
}

t_clean_env() {
	local v
	unset LD_PRELOAD
	for v in $(compgen -e MMAPIO_); do unset "$v"; done
	export LC_ALL=C
}

t_tmpdir() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/mmapio-$1.XXXXXX") || { echo "$0: mktemp failed" >&2; exit 2; }
	cd "$TMP" || exit 2
	trap t_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

# The EXIT trap: the script's exit status is kept.
t_exit() {
	if declare -F t_cleanup_hook >/dev/null; then
		t_cleanup_hook
	fi
	if [ -z "${TMP:-}" ] || [ ! -d "$TMP" ]; then
		return 0
	fi
	if [ "${T_KEEP:-0}" = 1 ] || { [ "${T_KEEP_ON_FAIL:-0}" = 1 ] && [ "$failn" -gt 0 ]; }; then
		echo "(artifacts kept in $TMP)" >&2
	else
		rm -rf "$TMP"
	fi
}
