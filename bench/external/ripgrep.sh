#!/usr/bin/env bash
# ripgrep: one large generated text file (320 MiB; 64 MiB with
# MMAPIO_BENCH_QUICK=1) searched for a literal and for a regex, and a tree of
# 20000 small files (1-16 KiB; 3000 quick). A is "rg --no-mmap" (read()
# calls), B the same under the shim with MMAPIO_MODE=always and auto, and the
# reference is "rg --mmap" (ripgrep's own memory maps). The tree search runs
# rg with its default threads and sorts the output, which is in thread order.
set -u
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bx_need_pkgs rg:ripgrep python3:python3 || exit 2
bx_setup

if [ "$QUICK" = 1 ]; then MIB=64 NFILES=3000; else MIB=320 NFILES=20000; fi
BIG=$DATA/text-$MIB.txt
TREE=$DATA/tree-$NFILES
if [ ! -f "$BIG" ]; then
	bx_log "ripgrep: generating $BIG"
	"$PY" "$BX_HERE/gen_text.py" big "$BIG" $MIB || exit 1
fi
if [ ! -d "$TREE" ]; then
	bx_log "ripgrep: generating $TREE"
	"$PY" "$BX_HERE/gen_text.py" tree "$TREE.tmp" $NFILES && mv "$TREE.tmp" "$TREE" || exit 1
fi
qbig=$(printf %q "$BIG")
qtree=$(printf %q "$TREE")

bx_ab rg-literal rg "literal, 1 file $MIB MiB" -- --sweep MMAPIO_MODE=always,auto \
	--ref "rg --mmap 'needle-[0-9]+' $qbig" -- rg --no-mmap 'needle-[0-9]+' "$BIG"
bx_ab rg-regex rg "regex -c, 1 file $MIB MiB" -- --sweep MMAPIO_MODE=always,auto \
	--ref "rg --mmap -c 'kernel \\w+ cache' $qbig" -- rg --no-mmap -c 'kernel \w+ cache' "$BIG"
# shellcheck disable=SC2016 # $1 is sh -c's argument, expanded by that shell
bx_ab rg-tree rg "$NFILES small files" -- --sweep MMAPIO_MODE=always,auto \
	--ref "rg --mmap -c 'needle-[0-9]+' $qtree | sort" -- \
	sh -c 'rg --no-mmap -c "needle-[0-9]+" "$1" | sort' sh "$TREE"

bx_finish
