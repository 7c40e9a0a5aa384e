#!/usr/bin/env bash
# The seed's load scenarios against two instances of the video service.
#
#   bash Examples/VideoService/scripts/load-test.sh              # one redis-server + one PostgreSQL
#   bash Examples/VideoService/scripts/load-test.sh --embedded   # no servers: one SQLite file + one API tracker file
#
# Installs the Debian packages (../../scripts/setup.sh), builds the service,
# starts the servers (../../scripts/servers.sh) and two instances on
# loopback, runs scripts/load_scenarios.py (5 concurrent POSTs for one video,
# 10 concurrent, 100 distinct videos over both instances, status across
# instances, API counters, graceful shutdown), then checks the traces both
# instances exported over OTLP/HTTP to a small receiver of its own
# (scripts/otlp_receiver.py), prints a summary and exits non-zero on any
# violation. Everything it started is stopped on exit.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EXAMPLE=$(cd "$HERE/.." && pwd)
ROOT=$(cd "$EXAMPLE/../.." && pwd)
MODE=servers
case "${1:-}" in
  "") ;;
  --embedded) MODE=embedded ;;
  *) echo "usage: $0 [--embedded]" >&2; exit 2 ;;
esac
log() { echo "[load-test] $*"; }
START=$SECONDS

bash "$ROOT/scripts/setup.sh"
if [ "${SCALEKIT_EXAMPLE_BUILT:-}" = 1 ]; then
  # scripts/test.sh's builder has just built it (with --build-tests too).
  log "using the service as scripts/test.sh built it"
else
  log "building the service (swift build in $EXAMPLE)"
  (cd "$EXAMPLE" && swift build --build-tests 2>&1 | tail -3)
fi
BIN="$(cd "$EXAMPLE" && swift build --show-bin-path)/video-service"

WORK=$(mktemp -d /tmp/video-service-load.XXXXXX)
PID_A="" PID_B="" OTLP_PID=""
# Our own servers on fresh ports, even when run under scripts/with-servers.sh.
unset SERVERS_DIR REDIS_PORT REDIS_PID PG_PORT PG_PID PGDATA
# shellcheck source=../../../scripts/servers.sh
source "$ROOT/scripts/servers.sh"
stop_instance() {  # PID: SIGTERM (graceful shutdown), then wait for it
  local pid=$1 status=0
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || status=$?
  return $status
}
cleanup() {
  local status=$?
  [ -n "$PID_A" ] && kill -KILL "$PID_A" 2>/dev/null
  [ -n "$PID_B" ] && kill -KILL "$PID_B" 2>/dev/null
  [ -n "$OTLP_PID" ] && kill "$OTLP_PID" 2>/dev/null
  stop_servers
  if [ $status -ne 0 ]; then
    for name in a b; do
      [ -f "$WORK/$name.log" ] && { log "last lines of instance ${name^^}'s log:"; tail -15 "$WORK/$name.log"; }
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$MODE" = servers ]; then
  start_redis
  start_postgres
else
  unset REDIS_URL
  export DATABASE_URL="sqlite:///$WORK/videos.sqlite" API_TRACKER_FILE="$WORK/api_usage.json"
  log "no servers: both instances share $DATABASE_URL and $API_TRACKER_FILE"
fi
# Limits high enough for the 104 jobs; a short stage keeps the run quick.
export RAPIDAPI_DAILY_LIMIT=100000 RAPIDAPI_HOURLY_LIMIT=100000 VIDEO_SERVICE_STAGE_MS=100 LOG_LEVEL=warning
export VIDEO_SERVICE_OUTPUT_DIR="$WORK/dubbed"

# Both instances export traces and metrics (swift-otel, OTLP/HTTP JSON) to
# one receiver; short export delays so the load test need not wait.
OTLP_PORT=$(free_port)
python3 "$HERE/otlp_receiver.py" --port "$OTLP_PORT" --out "$WORK/otlp" &
OTLP_PID=$!
export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$OTLP_PORT" OTEL_EXPORTER_OTLP_PROTOCOL=http/json
export OTEL_BSP_SCHEDULE_DELAY=200 OTEL_METRIC_EXPORT_INTERVAL=1000 OTEL_TRACES_SAMPLER=always_on

start_instance() {  # NAME PORT -> sets LAST_PID
  (cd "$WORK" && PORT=$2 VIDEO_SERVICE_INSTANCE=$1 exec "$BIN") >"$WORK/${1,,}.log" 2>&1 &
  LAST_PID=$!
  for _ in $(seq 300); do
    curl -s -o /dev/null "http://127.0.0.1:$2/health" && { log "instance $1 pid $LAST_PID on 127.0.0.1:$2"; return 0; }
    kill -0 "$LAST_PID" 2>/dev/null || { log "instance $1 exited:"; cat "$WORK/${1,,}.log"; return 1; }
    sleep 0.1
  done
  log "instance $1 did not answer within 30 s"
  return 1
}
PORT_A=$(free_port)
start_instance A "$PORT_A"; PID_A=$LAST_PID
PORT_B=$(free_port)
start_instance B "$PORT_B"; PID_B=$LAST_PID

run() { python3 "$HERE/load_scenarios.py" "$1" --a "http://127.0.0.1:$PORT_A" --b "http://127.0.0.1:$PORT_B" \
  --mode "$MODE" --database-url "$DATABASE_URL" --state "$WORK/state.json" --output-dir "$VIDEO_SERVICE_OUTPUT_DIR" | tee -a "$WORK/results.txt"; }

failed=0
run scenarios || failed=1
log "stopping instance A (SIGTERM: graceful shutdown)"
if stop_instance "$PID_A"; then echo "PASS 6. instance A exited cleanly" | tee -a "$WORK/results.txt"
else echo "FAIL 6. instance A exited with status $?" | tee -a "$WORK/results.txt"; failed=1; fi
PID_A=""
run after-stop-a || failed=1
log "stopping instance B"
if stop_instance "$PID_B"; then echo "PASS 7. instance B exited cleanly" | tee -a "$WORK/results.txt"
else echo "FAIL 7. instance B exited with status $?" | tee -a "$WORK/results.txt"; failed=1; fi
PID_B=""
run after-stop-b || failed=1
python3 "$HERE/load_scenarios.py" traces --a "http://127.0.0.1:$PORT_A" --b "http://127.0.0.1:$PORT_B" \
  --mode "$MODE" --database-url "$DATABASE_URL" --state "$WORK/state.json" --output-dir "$VIDEO_SERVICE_OUTPUT_DIR" \
  --otlp-dir "$WORK/otlp" | tee -a "$WORK/results.txt" || failed=1

passed=$(grep -c '^PASS' "$WORK/results.txt" || true)
failures=$(grep -c '^FAIL' "$WORK/results.txt" || true)
log "summary ($MODE backends, two instances, $((SECONDS - START)) s including the build):"
grep '^FAIL' "$WORK/results.txt" | sed 's/^/  /' || true
echo "load-test: $passed passed, $failures failed"
[ "$failed" -eq 0 ] && [ "$failures" -eq 0 ]
