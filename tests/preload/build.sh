#!/usr/bin/env bash
# Build the differential test programs without the Makefile:
#   tests/preload/build.sh BUILD_DIR
# makes BUILD_DIR/tests/preload/prog_X (-O0) and prog_X.fortify (-O2 -D_FORTIFY_SOURCE=2)
# from every tests/preload/prog_*.c, with the flags the Makefile uses.
set -eu
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: build.sh BUILD_DIR}/tests/preload
mkdir -p "$out"
CC=${CC:-gcc}
for src in "$here"/prog_*.c; do
	n=$(basename "$src" .c)
	$CC -std=gnu11 -Wall -Wextra -pthread -O0 -o "$out/$n" "$src"
	$CC -std=gnu11 -Wall -Wextra -pthread -O2 -D_FORTIFY_SOURCE=2 -o "$out/$n.fortify" "$src"
done
