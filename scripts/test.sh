#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this and nothing else):
#   1. installs the Debian packages (scripts/setup.sh)
#   2. starts a throwaway redis-server and PostgreSQL (scripts/with-servers.sh)
#   3. runs every test against them; server tests fail instead of skipping
#   4. runs the extra stages below: each prints its own summary
# Stages can be picked with SCALEKIT_TEST_STAGES="unit fuzz ..." (default: all).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
STAGES=${SCALEKIT_TEST_STAGES:-"unit audio fuzz example benchmarks tsan asan"}
export SCALEKIT_REQUIRE_SERVERS=1

log() { echo "[test] $*"; }
want() { [[ " $STAGES " == *" $1 "* ]]; }
timed() {  # NAME COMMAND...
  local name=$1 start=$SECONDS
  shift
  log "stage $name: $*"
  "$@"
  log "stage $name passed in $((SECONDS - start)) s"
}

bash scripts/setup.sh

if want unit; then
  timed unit bash scripts/with-servers.sh swift test
fi
if want audio; then
  # scalekit mix against ffmpeg's own rendering of a small speech workload.
  timed audio bash scripts/audio-reference-check.sh
fi
if want fuzz; then
  FUZZ_SECONDS=${FUZZ_SECONDS:-30} timed fuzz bash scripts/fuzz.sh
fi
if want example; then
  # Two instances of the example service over one Redis and one PostgreSQL:
  # the seed's load scenarios (it starts and stops its own servers).
  timed example bash Examples/VideoService/scripts/load-test.sh
  timed example-unit swift test --package-path Examples/VideoService
fi
if want benchmarks; then
  # The benchmarks are not run here (they are not tests), only built, so they cannot rot.
  timed benchmarks bash scripts/build-benchmarks.sh
fi
# The whole suite under each sanitizer, in scratch folders of their own so
# neither clobbers the other builds (each needs a full build anyway).
# SCALEKIT_TEST_SLOWDOWN stretches pool timeouts and "does not hang" bounds.
if want tsan; then
  SCALEKIT_TEST_SLOWDOWN=10 timed tsan bash scripts/with-servers.sh \
    swift test --sanitize=thread --scratch-path .build-tsan
fi
if want asan; then
  # Leaks fail the stage; only the toolchain's own leaks are suppressed.
  SCALEKIT_TEST_SLOWDOWN=10 LSAN_OPTIONS="suppressions=$ROOT/scripts/lsan-suppressions.txt:print_suppressions=0" \
    timed asan bash scripts/with-servers.sh swift test --sanitize=address --scratch-path .build-asan
fi
log "all stages passed: $STAGES"
