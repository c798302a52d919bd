#!/usr/bin/env bash
# The memory-limited regime: every arm runs inside a memory cgroup the data
# does not fit in, from a cold page cache (mmapio-ab --cold drops the file
# before every run):
#   fio psync 4 KiB random reads and random in-place writes on a 1 GiB file
#   in a 256 MiB cgroup (512 MiB in 128 MiB with MMAPIO_BENCH_QUICK=1), with
#   fio's own ioengine=mmap as the reference;
#   sqlite3 point lookups (index and rowid) on sqlite.sh's database, in a
#   cgroup of a quarter of its size.
# A = no shim, B = MMAPIO_MODE=auto and always. Needs root and a memory
# cgroup controller (v2, or v1 as on the development machine); skipped with
# the reason otherwise.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bx_need_pkgs fio:fio sqlite3:sqlite3 python3:python3 || exit 2
bx_setup

CG=""
# cg_make BYTES: a fresh memory cgroup in $CG (v2, else v1).
cg_make() {
	local root
	[ -n "$CG" ] && rmdir "$CG" 2>/dev/null
	CG=""
	for root in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		grep -qw memory "$root/cgroup.controllers" 2>/dev/null || continue
		echo +memory >"$root/cgroup.subtree_control" 2>/dev/null
		if mkdir "$root/mmapio-bench-$$" 2>/dev/null &&
			echo "$1" >"$root/mmapio-bench-$$/memory.max"; then
			CG=$root/mmapio-bench-$$
			echo 0 >"$CG/memory.swap.max" 2>/dev/null
			return 0
		fi
		rmdir "$root/mmapio-bench-$$" 2>/dev/null
	done
	if mkdir /sys/fs/cgroup/memory/mmapio-bench-$$ 2>/dev/null &&
		echo "$1" >/sys/fs/cgroup/memory/mmapio-bench-$$/memory.limit_in_bytes; then
		CG=/sys/fs/cgroup/memory/mmapio-bench-$$
		return 0
	fi
	rmdir /sys/fs/cgroup/memory/mmapio-bench-$$ 2>/dev/null
	return 1
}
trap '[ -n "$CG" ] && rmdir "$CG" 2>/dev/null' EXIT
# $IN_CG cmd...: cmd, moved into $CG before it starts (a script, so that
# mmapio-ab's command lines stay plain words).
IN_CG=$DATA/in-memcg
in_cg() { printf '#!/bin/sh\necho $$ >%s/cgroup.procs && exec "$@"\n' "$CG" >"$IN_CG"; chmod +x "$IN_CG"; }

if [ "$(id -u)" != 0 ] || ! cg_make $((64 << 20)); then
	echo "skip: the memory-limited rows need root and a memory cgroup controller (v2 or v1)" |
		tee -a "$CHECKS"
	bx_finish
	exit 0
fi

# Writes are absorbed by the page cache until the cgroup's dirty limit: they
# need more I/O than reads to measure anything.
if [ "$QUICK" = 1 ]; then
	SIZE=512M LIMIT=$((128 << 20)) RIO=32M WIO=256M
else
	SIZE=1G LIMIT=$((256 << 20)) RIO=64M WIO=512M
fi
FILE=$DATA/fio-$SIZE.dat
FACTS=$BX_HERE/fio-facts.sh
[ -f "$FILE" ] || fio --name=layout --filename="$FILE" --size=$SIZE --rw=write --bs=1M \
	--ioengine=psync --output-format=terse >/dev/null || exit 1
cg_make "$LIMIT" || exit 2
in_cg
COMMON=(--thread --filename="$FILE" --size="$SIZE" --bs=4k --ioengine=psync
	--invalidate=0 --randrepeat=1 --norandommap --fallocate=none)
for rw in randread randwrite; do
	log=$OUT/memcg-fio-$rw.iops
	: >"$log"
	key="read" io=$RIO
	[ $rw = randwrite ] && key="write" io=$WIO
	ref="FIO_ARM=ref FIO_IOPS_LOG=$(printf %q "$log") $(printf '%q ' "$IN_CG" "$FACTS" \
		--name=$rw "${COMMON[@]}" --io_size="$io" --rw=$rw --ioengine=mmap)"
	FIO_IOPS_LOG=$log bx_ab "memcg-fio-$rw" fio \
		"$rw 4k psync, $io on $SIZE cold, $((LIMIT >> 20)) MiB cgroup" \
		--iops-log "$log" --iops-key $key -- \
		--cold "$FILE" --sweep MMAPIO_MODE=auto,always --ref "$ref" -- \
		"$IN_CG" "$FACTS" --name=$rw "${COMMON[@]}" --io_size="$io" --rw=$rw
done

# sqlite3: sqlite.sh's database (made here if it is not there yet).
if [ "$QUICK" = 1 ]; then ROWS_N=400000 LOOKUPS=5000; else ROWS_N=2000000 LOOKUPS=20000; fi
DB=$DATA/bench-$ROWS_N.db
[ -f "$DB" ] || MMAPIO_BENCH_DIR=$DATA BX_ROWS=/dev/null BX_CHECKS=/dev/null \
	"$BX_HERE/sqlite.sh" >/dev/null || exit 1
KMOD=$((ROWS_N * 2 + 37))
SQL=$DATA/memcg-lookups-$ROWS_N.sql
cat >"$SQL" <<EOF
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<$LOOKUPS)
SELECT 'index lookups', count(*), sum(length(v)) FROM c JOIN t ON t.k = (x*7919) % $KMOD;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<$LOOKUPS)
SELECT 'rowid lookups', count(*), sum(t.k % 1000) FROM c JOIN t ON t.id = 1 + (x*104729) % $ROWS_N;
EOF
size=$(stat -c %s "$DB")
cg_make $((size / 4)) || exit 2
in_cg
bx_ab memcg-sqlite sqlite3 "$LOOKUPS+$LOOKUPS lookups, $((size >> 20)) MiB db cold, $((size >> 22)) MiB cgroup" -- \
	--cold "$DB" --sweep MMAPIO_MODE=auto,always -- "$IN_CG" sqlite3 "$DB" ".read $SQL"

bx_finish
