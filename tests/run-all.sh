#!/usr/bin/env bash
# Run every test of a build directory and end with one summary line:
#   N passed, M failed, K skipped
# Usage: tests/run-all.sh BUILD_DIR [--core-only]
# Counts cmocka test cases of the core suites and cases of the shim's
# differential runner. Exit status 1 if anything failed.
# Every suite runs in a scratch directory (removed at exit), so that nothing
# a test writes to a relative path, not even a core dump, lands in the checkout.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
t_build_dir "BUILD_DIR [--core-only]" "${1:-build}"
B=$BUILD
core_only=${2:-}
passed=0 failed=0 skipped=0
failures=()
t_tmpdir run-all
scratch=$TMP
mkdir "$scratch/cwd" && cd "$scratch/cwd" || exit 2

count() { # $1 = output file, $2 = suite name, $3 = exit status
	local p f s
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -1)
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$1" | tail -1)
	passed=$((passed + ${p:-0})) skipped=$((skipped + ${s:-0}))
	if [ -n "$f" ]; then
		failed=$((failed + f)); failures+=("$2")
	elif [ "$3" -ne 0 ] || [ -z "$p" ]; then
		failed=$((failed + 1)); failures+=("$2 (exit $3)")
	fi
}

for t in "$B"/tests/test_* ; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	out=$scratch/out
	timeout 300 "$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	count "$out" "$name" "$rc"
	rm -f "$out"
done

# Every other area's runner: tests/<area>/run.sh BUILD_DIR, ending with
# "N passed, M failed[, K skipped]".
if [ "$core_only" != "--core-only" ]; then
	for runner in "$here"/*/run.sh; do
		[ -x "$runner" ] || continue
		area=$(basename "$(dirname "$runner")")
		echo "== $area"
		out=$scratch/out
		"$runner" "$B" 2>&1 | tee "$out"
		line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
		if [ -z "$line" ]; then
			failed=$((failed + 1)); failures+=("$area/run.sh (no summary)")
		else
			p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
			s=$(echo "$line" | sed -n 's/.*, \([0-9]*\) skipped.*/\1/p')
			passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
			[ "$f" -gt 0 ] && failures+=("$area/run.sh")
		fi
		rm -f "$out"
	done
fi

echo
[ ${#failures[@]} -gt 0 ] && printf 'failed suites: %s\n' "${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
