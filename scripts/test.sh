#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs packages, starts throwaway
# redis-server and PostgreSQL, runs every test against them, stops them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# Server tests fail instead of skipping when their server is missing.
export SCALEKIT_REQUIRE_SERVERS=1
bash scripts/with-servers.sh swift test
