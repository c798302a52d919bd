#!/bin/sh
# Replay the fuzz target over the seed corpus (no libFuzzer needed).
# Usage: tests/fuzz/run.sh BUILD_DIR
B=${1:-build}
exec "$B/tests/fuzz-replay" "$(dirname "$0")/corpus"
