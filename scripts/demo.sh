#!/usr/bin/env bash
# Sets up what ScaleKit builds with and runs `scalekit demo` on the embedded
# defaults: no servers, a SQLite file and an API counter file in ./scalekit-data.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
swift build --product scalekit
mkdir -p scalekit-data
cd scalekit-data
env -u REDIS_URL -u DATABASE_URL ../.build/debug/scalekit demo "$@"
