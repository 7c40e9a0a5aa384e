#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ and runs each for FUZZ_SECONDS
# (default 60) from its committed corpus. A crash fails the script and leaves
# the input in Fuzz/Findings/ for a regression test.
#   FUZZ_SECONDS=300 scripts/fuzz.sh            # longer run
#   scripts/fuzz.sh FuzzYouTubeURL              # one target
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../Fuzz"
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(FuzzYouTubeURL FuzzConfiguration FuzzMergePatch FuzzAudioDecoder FuzzTimeline FuzzTrackerFile FuzzWAVReader FuzzNumericOptions)
swift build -c debug --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld >/dev/null
BIN=$(swift build -c debug --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld --show-bin-path)
mkdir -p Findings
# A crash is reported by the sanitizer; Swift's own backtracer would only add noise.
export SWIFT_BACKTRACE=enable=no
status=0
for target in "${TARGETS[@]}"; do
  work=$(mktemp -d)
  cp Corpus/"$target"/* "$work"/ 2>/dev/null || true
  echo "[fuzz] $target for ${SECONDS_EACH}s"
  if ! "$BIN/$target" "$work" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 \
       -artifact_prefix="Findings/$target-" -print_final_stats=1 >"$work.log" 2>&1; then
    echo "[fuzz] $target FAILED; see Fuzz/Findings/ and the log:"; tail -40 "$work.log"; status=1
  else
    grep -E 'stat::number_of_executed_units|cov:' "$work.log" | tail -2 | sed "s/^/[fuzz] $target: /"
  fi
  rm -rf "$work" "$work.log"
done
exit $status
