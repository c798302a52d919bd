#!/bin/sh
# Replay the fuzz target over the seed corpus (no libFuzzer needed).
# Usage: tests/fuzz/run.sh BUILD_DIR
# Runs in a scratch directory: corpus values of MMAPIO_LOG_FILE are
# relative paths ("∞", ...) that config_load() really opens.
B=$(cd "${1:-build}" && pwd)
corpus=$(cd "$(dirname "$0")/corpus" && pwd)
scratch=$(mktemp -d) || exit 1
trap 'rm -rf "$scratch"' EXIT
cd "$scratch" && "$B/tests/fuzz-replay" "$corpus"
