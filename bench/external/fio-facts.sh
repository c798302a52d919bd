#!/bin/sh
# fio-facts.sh fio-args...
#
# Runs fio with JSON output to a temp file and prints only facts that do not
# depend on timing (per job: I/O counts and bytes, error code, verify result,
# fio's exit status), so that mmapio-ab can check that runs with and without
# the shim are identical. fio's own IOPS go to $FIO_IOPS_LOG, one line per
# run: "ARM JOB READ_IOPS WRITE_IOPS", where ARM is $FIO_ARM if set, else
# "B:<MMAPIO_MODE>" under the shim and "A" without it.
here=$(cd "$(dirname "$0")" && pwd)
case ":${LD_PRELOAD:-}:" in
*libmmapio_preload.so*) arm=${FIO_ARM:-B:${MMAPIO_MODE:-auto}} ;;
*) arm=${FIO_ARM:-A} ;;
esac
out=$(mktemp "${TMPDIR:-/tmp}/fio-facts.XXXXXX") || exit 2
fio --output-format=json --output="$out" "$@"
rc=$?
# The parsing runs without the shim.
unset LD_PRELOAD MMAPIO_STATS
if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; else py=python3; fi
"$py" "$here/summary.py" fio-facts "$out" "$rc" "$arm" "${FIO_IOPS_LOG:-}"
r=$?
rm -f "$out"
exit "$r"
