#!/usr/bin/env bash
# Replay the fuzz target over the seed corpus (no libFuzzer needed).
# Usage: tests/fuzz/run.sh BUILD_DIR
# Runs in a scratch directory: the target creates the MMAPIO_STATS files
# its inputs name (relative paths such as "∞", ":", "auto").
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
t_build_dir BUILD_DIR "$@"
t_tmpdir fuzz
"$BUILD/tests/fuzz-replay" "$HERE/corpus"
