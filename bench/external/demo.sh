#!/usr/bin/env bash
# make demo: one real program where the shim helps, A/B'd by mmapio-ab.
#
# fio reads a hot 256 MiB file at random, 4 KiB per pread() (ioengine=psync),
# 1 GiB in all: without the shim (A), under it (B, MMAPIO_MODE=auto, what a
# user gets by default), and with fio's own ioengine=mmap as the reference.
# Prints mmapio-ab's table (wall time, B/A, shim stats, identical outputs),
# then fio's own IOPS. Installs fio from Debian if missing. About a minute.
set -u
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bx_need_pkgs fio:fio python3:python3 || exit 2
bx_find_lib
T=$(mktemp -d /var/tmp/mmapio-demo.XXXXXX) || exit 2
trap 'rm -rf "$T"' EXIT
FILE=$T/demo.dat
LOG=$T/iops.log
FACTS=$BX_HERE/fio-facts.sh

echo "demo: generating $FILE (256 MiB)"
fio --name=layout --filename="$FILE" --size=256M --rw=write --bs=1M --ioengine=psync \
	--output-format=terse >/dev/null || exit 1
JOB=(--thread --name=randread --filename="$FILE" --size=256M --io_size=1G --bs=4k --rw=randread
	--ioengine=psync --invalidate=0 --randrepeat=1 --norandommap)
ref="FIO_ARM=ref FIO_IOPS_LOG=$(printf %q "$LOG") $(printf '%q ' "$FACTS" "${JOB[@]}" --ioengine=mmap)"
echo "demo: mmapio-ab, 5 runs per arm after 1 warm-up round"
echo
FIO_IOPS_LOG=$LOG "$AB" --runs 5 --warmup 1 --mode auto --ref "$ref" --json "$T/ab.json" -- \
	"$FACTS" "${JOB[@]}"
rc=$?
"$PY" "$BX_HERE/summary.py" row --json "$T/ab.json" --program fio \
	--workload "randread 4k psync, 256 MiB hot" --iops-log "$LOG" --iops-key read >"$T/rows.jsonl" &&
	"$PY" "$BX_HERE/summary.py" table "$T/rows.jsonl"
exit $rc
