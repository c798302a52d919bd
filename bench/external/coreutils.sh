#!/usr/bin/env bash
# coreutils over large files: sha256sum (512 MiB), cmp of two identical
# 512 MiB files, wc -l of a 320 MiB text file and wc -w (CPU-bound) of a
# 64 MiB one (128/64/64 MiB with MMAPIO_BENCH_QUICK=1), without the shim (A) and under it with
# MMAPIO_MODE=always and auto (B). No reference arm: these tools have no mmap
# mode of their own.
#
# sha256sum reads through stdio (fread), whose reads happen inside glibc where
# no preload can see them: its stats show 0 served calls, and B measures only
# the shim's presence. cmp and wc use read() and are served.
set -u
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bx_need_pkgs sha256sum:coreutils cmp:diffutils python3:python3 || exit 2
bx_setup

if [ "$QUICK" = 1 ]; then RMIB=128 MIB=64; else RMIB=512 MIB=320; fi
R1=$DATA/random-$RMIB-1.bin
R2=$DATA/random-$RMIB-2.bin
BIG=$DATA/text-$MIB.txt
SMALL=$DATA/text-64.txt
if [ ! -f "$R2" ]; then
	bx_log "coreutils: generating $R1 and $R2"
	head -c $((RMIB << 20)) /dev/urandom >"$R1.tmp" && mv "$R1.tmp" "$R1" || exit 1
	# A real second copy (not a reflink): cmp must read two files.
	cat "$R1" >"$R2.tmp" && mv "$R2.tmp" "$R2" || exit 1
fi
for n in $MIB 64; do
	f=$DATA/text-$n.txt
	if [ ! -f "$f" ]; then
		bx_log "coreutils: generating $f"
		"$PY" "$BX_HERE/gen_text.py" big "$f" "$n" || exit 1
	fi
done

# wc counts words by the locale's rules: the same C locale in every arm.
export LC_ALL=C
RUNS_SAVED=$RUNS
[ "$QUICK" = 1 ] || RUNS=5 # sha256sum and wc -w take seconds per run
bx_ab sha256sum sha256sum "$RMIB MiB" -- --sweep MMAPIO_MODE=always,auto -- sha256sum "$R1"
bx_ab wc-w wc "-w, 64 MiB text" -- --sweep MMAPIO_MODE=always,auto -- wc -w "$SMALL"
RUNS=$RUNS_SAVED
bx_ab cmp cmp "2 x $RMIB MiB, equal" -- --sweep MMAPIO_MODE=always,auto -- cmp "$R1" "$R2"
bx_ab wc-l wc "-l, $MIB MiB text" -- --sweep MMAPIO_MODE=always,auto -- wc -l "$BIG"

bx_finish
