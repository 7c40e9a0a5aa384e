#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this and nothing else):
#   1. installs the Debian packages (scripts/setup.sh)
#   2. starts a throwaway redis-server, PostgreSQL (ssl=on, a test CA) and PgBouncer
#      (pool_mode = transaction) (scripts/with-servers.sh)
#   3. runs every test against them; server tests fail instead of skipping
#   4. runs the extra stages below, each printing its own summary
# Every stage runs even when an earlier one failed, so one broken stage never
# hides the state of the others; the script ends with a table of the stages
# (result and time), a line `N passed, N failed` counting stages, and exits
# non-zero if any stage failed.
# Stages can be picked with SCALEKIT_TEST_STAGES="unit fuzz ..." (default: all).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
STAGES=${SCALEKIT_TEST_STAGES:-"unit docs packaging audio fuzz example fleet benchmarks tsan asan"}
export SCALEKIT_REQUIRE_SERVERS=1

log() { echo "[test] $*"; }
want() { [[ " $STAGES " == *" $1 "* ]]; }

RESULTS=()
FAILED=0
PASSED=0
stage() {  # NAME COMMAND...
  local name=$1 start=$SECONDS status
  shift
  log "stage $name: $*"
  if "$@"; then status=passed; PASSED=$((PASSED + 1)); else status=FAILED; FAILED=$((FAILED + 1)); fi
  log "stage $name $status in $((SECONDS - start)) s"
  RESULTS+=("$(printf '%-14s %-7s %5d s' "$name" "$status" $((SECONDS - start)))")
}

# The unit suite once more while every core is saturated by other processes:
# no verdict may depend on how fast the machine is. Two CPU hogs per core.
STRESS_PID=""
stop_stress() {
  if [ -n "$STRESS_PID" ]; then kill "$STRESS_PID" 2>/dev/null; wait "$STRESS_PID" 2>/dev/null; STRESS_PID=""; fi
}
trap stop_stress EXIT
under_cpu_stress() {
  local hogs=$(( $(nproc) * 2 )) status
  stress-ng --cpu "$hogs" --timeout 3600s --quiet &
  STRESS_PID=$!
  log "stress-ng: $hogs CPU workers (pid $STRESS_PID)"
  "$@"
  status=$?
  stop_stress
  return $status
}

if ! bash scripts/setup.sh; then
  log "setup failed: nothing can run"
  echo "0 passed, 1 failed"
  exit 1
fi

# The whole suite runs once, on a saturated machine (two CPU hogs per core):
# no verdict may depend on how fast the machine is, and the sanitizer stages
# below run it again on an idle one. The build comes first, unloaded.
# SCALEKIT_TEST_STAGES="plain" runs the suite without the load.
build_then_test_under_stress() {
  swift build --build-tests || return 1
  under_cpu_stress bash scripts/with-servers.sh swift test --skip-build
}
if want unit; then
  stage unit build_then_test_under_stress
fi
if want plain; then
  stage plain bash scripts/with-servers.sh swift test
fi
if want docs; then
  # The DocC catalogs, every warning an error (reads the unit stage's build).
  stage docs bash scripts/docs.sh
fi
if want packaging; then
  # A client package with the server traits off builds, links and runs
  # without libhiredis and libpq (Examples/EmbeddedOnly).
  stage packaging bash scripts/check-embedded-only.sh
fi
# The example service's first build (Hummingbird, swift-otel) is the longest
# single build of the run, and the audio and fuzz stages leave a core idle
# (each fuzz target is one process): build the example beside them, and let
# its stages wait for that build. A failed build is reported by the example
# stage itself, which builds again.
EXAMPLE_BUILD_PID=""
if want example && { want audio || want fuzz; }; then
  log "building the example service in the background (log: Examples/VideoService/.build/prebuild.log)"
  mkdir -p Examples/VideoService/.build
  swift build --package-path Examples/VideoService --build-tests >Examples/VideoService/.build/prebuild.log 2>&1 &
  EXAMPLE_BUILD_PID=$!
fi
if want audio; then
  # scalekit mix against ffmpeg's own rendering of a small speech workload.
  stage audio bash scripts/audio-reference-check.sh
fi
if want fuzz; then
  # 5 s a target in the test run keeps the whole run well under 30 minutes
  # (every committed corpus input runs first); longer runs: FUZZ_SECONDS=300 scripts/fuzz.sh.
  FUZZ_SECONDS=${FUZZ_SECONDS:-5} stage fuzz bash scripts/fuzz.sh
fi
if want example; then
  if [ -n "$EXAMPLE_BUILD_PID" ]; then
    wait "$EXAMPLE_BUILD_PID" && log "example service built" || log "the example's background build failed; its stage builds again"
  fi
  # Two instances of the example service over one Redis and one PostgreSQL:
  # the seed's load scenarios (it starts and stops its own servers).
  stage example bash Examples/VideoService/scripts/load-test.sh
fi
if want fleet; then
  # The service as a fleet: four instances on hosts of their own (network
  # namespaces joined by a switch namespace), a Redis Cluster, PostgreSQL
  # behind PgBouncer, and faults under load: a host cut off, kill -9 of an
  # instance and of a Redis master, PgBouncer restarted, a slow lossy path
  # (Docs/Operations.md#the-fleet-test). Right after the example stage, whose
  # build of the service it reuses (the unit tests' build would rebuild it).
  stage fleet bash Examples/VideoService/scripts/fleet-test.sh
fi
if want example; then
  stage example-unit swift test --package-path Examples/VideoService
fi
if want benchmarks; then
  # The benchmarks are not run here (they are not tests), only built, so they cannot rot.
  stage benchmarks bash scripts/build-benchmarks.sh
fi
# The whole suite under each sanitizer, in scratch folders of their own so
# neither clobbers the other builds (each needs a full build anyway).
# SCALEKIT_TEST_SLOWDOWN stretches pool timeouts and "does not hang" bounds.
# Under ThreadSanitizer the FFmpeg decoding suites take minutes of CPU each
# (every decoded sample is instrumented) and share no state between threads
# that the other audio suites, run here, do not; AddressSanitizer runs them all.
TSAN_SKIPPED="FFmpegAudioMixerTests|FFmpegShapingTests|AudioProbeTests|LoudnessNormalisationTests|FFmpegLoggingTests"
if want tsan; then
  SCALEKIT_TEST_SLOWDOWN=10 SCALEKIT_TEST_SANITIZER=thread stage tsan bash scripts/with-servers.sh \
    swift test --sanitize=thread --scratch-path .build-tsan --skip "$TSAN_SKIPPED"
fi
if want asan; then
  # Leaks fail the stage; only the toolchain's own leaks are suppressed.
  SCALEKIT_TEST_SLOWDOWN=10 SCALEKIT_TEST_SANITIZER=address LSAN_OPTIONS="suppressions=$ROOT/scripts/lsan-suppressions.txt:print_suppressions=0" \
    stage asan bash scripts/with-servers.sh swift test --sanitize=address --scratch-path .build-asan
fi

echo
log "stages:"
for row in "${RESULTS[@]}"; do echo "  $row"; done
echo "stages: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
