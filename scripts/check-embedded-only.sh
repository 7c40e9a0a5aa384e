#!/usr/bin/env bash
# A service that turns ScaleKit's server traits off (Examples/EmbeddedOnly,
# `traits: []`) builds without the Redis and PostgreSQL targets, links
# neither libhiredis nor libpq, runs on the embedded backends, and refuses a
# REDIS_URL or a postgresql:// DATABASE_URL with `unsupported` (exit 69)
# instead of falling back to a backend other workers cannot see.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../Examples/EmbeddedOnly"
fail() { echo "[embedded-only] FAILED: $*"; exit 1; }

swift build 2>&1 | grep -v "found 1 file(s) which are unhandled" | tail -3
BIN="$(swift build --show-bin-path)/embedded-only"
MODULES="$(swift build --show-bin-path)/Modules"
for module in ScaleKitRedis ScaleKitPostgres; do
  [ ! -e "$MODULES/$module.swiftmodule" ] || fail "$module was built although its trait is off"
done
if ldd "$BIN" | grep -E "libhiredis|libpq"; then fail "the binary links a server client library"; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() { (cd "$work" && env -u REDIS_URL -u DATABASE_URL API_TRACKER_FILE="$work/api.json" "$@" "$BIN" 2>/dev/null); }

out=$(run DATABASE_URL="sqlite:///$work/v.sqlite") || fail "the embedded run exited $?: $out"
grep -q "video repository: sqlite" <<<"$out" || fail "no SQLite repository: $out"
grep -q "claim: created, api call allowed: true" <<<"$out" || fail "the claim or the count did not happen: $out"

for variable in "REDIS_URL=redis://127.0.0.1:1/0" "DATABASE_URL=postgresql://app@127.0.0.1:1/videos"; do
  status=0
  out=$(run "$variable") || status=$?
  [ "$status" -eq 69 ] || fail "$variable: exit $status, expected 69 (unsupported): $out"
  grep -q "was built without its .* trait" <<<"$out" || fail "$variable: the refusal does not name the trait: $out"
done
echo "[embedded-only] builds without Redis and PostgreSQL, links neither client library, refuses both servers by name"
