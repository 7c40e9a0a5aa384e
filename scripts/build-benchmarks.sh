#!/usr/bin/env bash
# Builds the nested Benchmarks package (debug, nothing is run) so that the
# benchmarks keep compiling against the library: the test suite calls this.
# The full measurements are `bash scripts/bench.sh`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../Benchmarks"
swift build "$@"
