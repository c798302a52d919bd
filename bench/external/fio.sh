#!/usr/bin/env bash
# fio: psync 4 KiB random reads and random in-place writes on a hot file
# (1 GiB; 256 MiB with MMAPIO_BENCH_QUICK=1), without the shim (A), under it
# with MMAPIO_MODE=always and auto (B), and fio's own ioengine=mmap as the
# reference; then a write-then-verify job (verify=crc32c, do_verify=1) that
# must pass under the shim.
#
# fio prints timings, so every run goes through fio-facts.sh, which prints
# only I/O counts, errors and the verify result (what mmapio-ab compares) and
# logs fio's own IOPS, which the summary uses for the performance comparison.
# Jobs run as threads (--thread): fio's forked job processes end with _exit(),
# so the shim could not write their stats.
set -u
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bx_need_pkgs fio:fio python3:python3 || exit 2
bx_setup

# Writes: less I/O than reads. Under the shim a written map is flushed with
# msync(MS_SYNC) when the file is closed, which takes seconds per 100 MiB of
# random 4 KiB writes (the wall times in the table show it; fio's IOPS don't).
if [ "$QUICK" = 1 ]; then SIZE=256M IO=256M WIO=128M VSIZE=64M; else SIZE=1G IO=1G WIO=512M VSIZE=256M; fi
FILE=$DATA/fio-$SIZE.dat
VFILE=$DATA/fio-verify-$VSIZE.dat
FACTS=$BX_HERE/fio-facts.sh

# Pre-create the files at full size (fio's layout), so that the measured jobs
# neither extend them nor lay them out again.
[ -f "$FILE" ] || fio --name=layout --filename="$FILE" --size=$SIZE --rw=write --bs=1M \
	--ioengine=psync --output-format=terse >/dev/null || exit 1
[ -f "$VFILE" ] || fio --name=layout --filename="$VFILE" --size=$VSIZE --rw=write --bs=1M \
	--ioengine=psync --output-format=terse >/dev/null || exit 1

# Hot file: no invalidation before the job, random offsets from a fixed seed,
# a fixed amount of I/O (so the wall time and the I/O counts mean something).
COMMON=(--thread --filename="$FILE" --size="$SIZE" --bs=4k --ioengine=psync
	--invalidate=0 --randrepeat=1 --norandommap --fallocate=none)

for rw in randread randwrite; do
	log=$OUT/fio-$rw.iops
	: >"$log"
	key=read io=$IO
	[ $rw = randwrite ] && key=write io=$WIO
	ref="FIO_ARM=ref FIO_IOPS_LOG=$(printf %q "$log") $(printf '%q ' "$FACTS" --name=$rw \
		"${COMMON[@]}" --io_size=$io --rw=$rw --ioengine=mmap)"
	FIO_IOPS_LOG=$log bx_ab "fio-$rw" fio "$rw 4k psync, $io on $SIZE hot" \
		--iops-log "$log" --iops-key $key -- \
		--sweep MMAPIO_MODE=always,auto --ref "$ref" -- \
		"$FACTS" --name=$rw "${COMMON[@]}" --io_size=$io --rw=$rw
done

# Write, then read back and check every block (crc32c) in the same job.
VERIFY=(--thread --name=verify --filename="$VFILE" --size="$VSIZE" --bs=4k --ioengine=psync
	--rw=randwrite --verify=crc32c --do_verify=1 --invalidate=0 --randrepeat=1 --fallocate=none)
log=$OUT/fio-verify.iops
: >"$log"
FIO_IOPS_LOG=$log bx_ab fio-verify fio "randwrite+verify crc32c, $VSIZE" \
	--iops-log "$log" --iops-key write -- --sweep MMAPIO_MODE=always,auto -- \
	"$FACTS" "${VERIFY[@]}"
for m in always auto; do
	bx_check "fio verify=crc32c do_verify=1 under the shim (MMAPIO_MODE=$m)" "ok" -- \
		sh -c '"$@" | sed -n "s/^job verify: verify crc32c: //p"' sh "$RUN" --mode $m -- "$FACTS" "${VERIFY[@]}"
done

bx_finish
