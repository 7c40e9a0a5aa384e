#!/usr/bin/env bash
# The fleet test: four instances of the video service on four hosts of their
# own, a Redis Cluster and PostgreSQL behind PgBouncer on two more, all
# joined by one switch, and faults injected while the seed's load runs.
#
#   bash Examples/VideoService/scripts/fleet-test.sh
#
# Needs root: the hosts are Linux network namespaces (ip netns), each with
# one veth link into a bridge that lives in a namespace of its own
# ("switch"), so nothing is added to this machine's own network. Every
# namespace and interface is named skf-…; one run at a time (a lock), and
# leftovers of an aborted run are removed first.
#
#   skf-drv   10.77.0.2    the test driver (scripts/fleet_scenarios.py)
#   skf-px    10.77.0.4    a slow, lossy TCP proxy (scripts/fleet_proxy.py) on the path of h3
#   skf-h1…h4 10.77.0.11…  one video-service instance each (short leases)
#   skf-redis 10.77.0.20   Redis Cluster: 3 masters + 3 replicas on ports 7001-7006
#   skf-db    10.77.0.30   PostgreSQL (5432) and PgBouncer in front of it (6432)
#
# The instances reach the database only through PgBouncer. h3 reaches every
# server through the proxy: it has the servers' addresses on its loopback
# interface, where the proxy listens, so even the cluster nodes it learns
# from CLUSTER SLOTS are proxied. The driver runs the scenarios and the
# faults (a link cut, kill -9 of an instance, kill -9 of a Redis master, a
# PgBouncer restart) and prints a report; see Docs/Operations.md#the-fleet-test.
# Builds the service only if needed (swift build is incremental). Exits
# non-zero on any violation.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EXAMPLE=$(cd "$HERE/.." && pwd)
ROOT=$(cd "$EXAMPLE/../.." && pwd)
log() { echo "[fleet] $*"; }
START=$SECONDS

if [ "$(id -u)" -ne 0 ]; then
  echo "fleet-test: needs root (it makes network namespaces)" >&2
  exit 2
fi

PREFIX=skf
WORK=${FLEET_WORK:-/tmp/$PREFIX-fleet}
SUBNET=10.77.0
DRIVER_ADDR=$SUBNET.2 PROXY_ADDR=$SUBNET.4 REDIS_ADDR=$SUBNET.20 DB_ADDR=$SUBNET.30
HOSTS=(h1 h2 h3 h4)
SLOW_HOST=h3
REDIS_PORTS=(7001 7002 7003 7004 7005 7006)
# The knobs of the run: short leases so that takeovers come quickly, a short
# stage so that a job takes about a second, limits far above the load (the
# quota scenario brings the day's count near the limit on purpose).
: "${FLEET_VIDEOS:=150}"
LEASE_MS=6000 STAGE_MS=100 MAX_JOBS=8 DAILY_LIMIT=1000000 NODE_TIMEOUT_MS=3000

# One fleet at a time on this machine: the names are fixed.
mkdir -p /run/lock
exec 9>/run/lock/$PREFIX-fleet.lock
if ! flock -w 900 9; then
  echo "fleet-test: another fleet test has held /run/lock/$PREFIX-fleet.lock for 15 minutes" >&2
  exit 1
fi

bash "$ROOT/scripts/setup.sh"
if [ "${SCALEKIT_EXAMPLE_BUILT:-}" = 1 ]; then
  # scripts/test.sh's builder has just built it (with --build-tests too).
  log "using the service as scripts/test.sh built it"
else
  log "building the service (incremental when the example stage has built it)"
  (cd "$EXAMPLE" && swift build --build-tests 2>&1 | tail -1)
fi
BIN="$(cd "$EXAMPLE" && swift build --show-bin-path)/video-service"
PG_BIN=/usr/lib/postgresql/15/bin
[ -x "$PG_BIN/initdb" ] || PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

in_ns() { local ns=$1; shift; ip netns exec "$PREFIX-$ns" "$@"; }

# Stops every process in our namespaces (by pid, listed by `ip netns pids`)
# and deletes the namespaces; PostgreSQL first, politely, so it leaves no
# shared memory behind.
teardown() {
  local ns pids pid postmaster
  postmaster=$(head -1 "$WORK/pgdata/postmaster.pid" 2>/dev/null || true)
  if [ -n "$postmaster" ] && ip netns pids $PREFIX-db 2>/dev/null | grep -qx "$postmaster"; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pgdata" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX-" || true); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
    for pid in $pids; do
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    done
    ip netns del "$ns" 2>/dev/null || true
  done
}

FAILED_RUN=1
on_exit() {
  local status=$?
  [ "$status" -ne 0 ] || [ "$FAILED_RUN" -eq 0 ] || status=1
  if [ "$status" -ne 0 ] && [ -d "$WORK" ]; then
    for host in "${HOSTS[@]}"; do
      [ -f "$WORK/$host/service.log" ] && { log "last lines of $host's log:"; tail -8 "$WORK/$host/service.log"; }
    done
    log "logs kept in $WORK (removed by the next run)"
  fi
  teardown
  [ "$status" -ne 0 ] || rm -rf "$WORK"
  log "done in $((SECONDS - START)) s"
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

log "removing what an earlier run may have left"
teardown
rm -rf "$WORK"
mkdir -p "$WORK/bin" "$WORK/dubbed"
chmod 755 "$WORK"

# --- the network -------------------------------------------------------------
ip netns add $PREFIX-sw
ip -n $PREFIX-sw link set lo up
ip -n $PREFIX-sw link add br0 type bridge
ip -n $PREFIX-sw link set br0 up
attach() {  # NAME ADDRESS: a host namespace with eth0 plugged into port NAME of the switch
  ip netns add "$PREFIX-$1"
  ip -n "$PREFIX-$1" link set lo up
  ip -n $PREFIX-sw link add "$1" type veth peer name eth0 netns "$PREFIX-$1"
  ip -n $PREFIX-sw link set "$1" master br0 up
  ip -n "$PREFIX-$1" addr add "$2/24" dev eth0
  ip -n "$PREFIX-$1" link set eth0 up
}
attach drv $DRIVER_ADDR
attach px $PROXY_ADDR
attach redis $REDIS_ADDR
attach db $DB_ADDR
for i in "${!HOSTS[@]}"; do attach "${HOSTS[$i]}" "$SUBNET.$((11 + i))"; done
# Each service host knows the servers' and the driver's link addresses for
# good (permanent neighbour entries), as hosts on a real switch behind a
# partition would still have them cached: a cut host's packets then vanish
# and its calls wait, as in a real partition, instead of failing at once
# with "No route to host" once ARP gives up, which would end its jobs
# before they could make the late writes the fence must refuse.
mac_of() { ip -n "$PREFIX-$1" -br link show eth0 | awk '{print $3}'; }
for host in "${HOSTS[@]}"; do
  for peer in "redis $REDIS_ADDR" "db $DB_ADDR" "drv $DRIVER_ADDR"; do
    read -r name addr <<<"$peer"
    ip -n "$PREFIX-$host" neigh replace "$addr" lladdr "$(mac_of "$name")" dev eth0 nud permanent
  done
done
# The slow host has the servers' addresses on its loopback interface, where
# the proxy listens; it must not answer ARP for them on the switch.
in_ns $SLOW_HOST sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
ip -n $PREFIX-$SLOW_HOST addr add $REDIS_ADDR/32 dev lo
ip -n $PREFIX-$SLOW_HOST addr add $DB_ADDR/32 dev lo
log "network: switch $PREFIX-sw, hosts drv px redis db ${HOSTS[*]} on $SUBNET.0/24"

# --- Redis Cluster -----------------------------------------------------------
# Each node is started by a script of its own, which the driver also runs to
# bring a killed node back (it rejoins with its nodes.conf, as a replica).
for port in "${REDIS_PORTS[@]}"; do
  mkdir -p "$WORK/redis/$port"
  cat >"$WORK/bin/redis-$port.sh" <<SH
#!/usr/bin/env bash
exec ip netns exec $PREFIX-redis redis-server --bind $REDIS_ADDR --port $port --protected-mode no \\
  --cluster-enabled yes --cluster-port $((port + 10000)) --cluster-config-file $WORK/redis/$port/nodes.conf \\
  --cluster-node-timeout $NODE_TIMEOUT_MS --save '' --appendonly no --repl-diskless-sync-delay 0 \\
  --dir $WORK/redis/$port --daemonize yes --pidfile $WORK/redis/$port/pid --logfile $WORK/redis/$port/redis.log
SH
  bash "$WORK/bin/redis-$port.sh"
done
for port in "${REDIS_PORTS[@]}"; do
  for _ in $(seq 600); do in_ns drv redis-cli -h $REDIS_ADDR -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
done
in_ns drv redis-cli --cluster create $(printf "$REDIS_ADDR:%s " "${REDIS_PORTS[@]}") --cluster-replicas 1 --cluster-yes \
  >"$WORK/redis/create.log" 2>&1 || { log "redis-cli --cluster create failed:"; tail "$WORK/redis/create.log"; exit 1; }
cluster_ready() {
  local port
  [ "$(in_ns drv redis-cli -h $REDIS_ADDR -p 7001 cluster nodes 2>/dev/null | grep -c slave)" = 3 ] || return 1
  for port in "${REDIS_PORTS[@]}"; do
    in_ns drv redis-cli -h $REDIS_ADDR -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
    if in_ns drv redis-cli -h $REDIS_ADDR -p "$port" role 2>/dev/null | head -1 | grep -q slave; then
      in_ns drv redis-cli -h $REDIS_ADDR -p "$port" info replication 2>/dev/null | grep -q '^master_link_status:up' || return 1
    fi
  done
}
for _ in $(seq 1200); do cluster_ready && break; sleep 0.1; done
cluster_ready || { log "the Redis Cluster did not become ready"; exit 1; }
log "Redis Cluster: 3 masters + 3 replicas on $REDIS_ADDR:${REDIS_PORTS[0]}-${REDIS_PORTS[5]} (cluster-node-timeout $NODE_TIMEOUT_MS ms)"

# --- PostgreSQL and PgBouncer --------------------------------------------------
mkdir -p "$WORK/pgdata" "$WORK/pgrun" "$WORK/pgbouncer"
chown postgres:postgres "$WORK/pgdata" "$WORK/pgrun" "$WORK/pgbouncer"
chmod 700 "$WORK/pgdata"
runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/pgdata" -U postgres --auth=trust -E UTF8 --no-sync >"$WORK/initdb.log" 2>&1 \
  || { log "initdb failed:"; tail "$WORK/initdb.log"; exit 1; }
echo "host all all $SUBNET.0/24 trust" >>"$WORK/pgdata/pg_hba.conf"
in_ns db runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pgdata" -l "$WORK/pgrun/postgres.log" -w -t 120 \
  -o "-c listen_addresses=$DB_ADDR -p 5432 -c unix_socket_directories=$WORK/pgrun -c fsync=off -c max_connections=100" \
  start >/dev/null || { log "PostgreSQL did not start:"; tail "$WORK/pgrun/postgres.log"; exit 1; }
echo '"postgres" ""' >"$WORK/pgbouncer/userlist.txt"
cat >"$WORK/pgbouncer/pgbouncer.ini" <<INI
[databases]
* = host=$DB_ADDR port=5432
[pgbouncer]
listen_addr = $DB_ADDR
listen_port = 6432
unix_socket_dir =
auth_type = trust
auth_file = $WORK/pgbouncer/userlist.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
logfile = $WORK/pgbouncer/pgbouncer.log
pidfile = $WORK/pgbouncer/pgbouncer.pid
INI
chown -R postgres:postgres "$WORK/pgbouncer"
cat >"$WORK/bin/pgbouncer-start.sh" <<SH
#!/usr/bin/env bash
ip netns exec $PREFIX-db runuser -u postgres -- pgbouncer -d -q $WORK/pgbouncer/pgbouncer.ini || exit 1
for _ in \$(seq 600); do
  ip netns exec $PREFIX-db $PG_BIN/pg_isready -q -h $DB_ADDR -p 6432 -d postgres && exit 0
  sleep 0.05
done
exit 1
SH
cat >"$WORK/bin/pgbouncer-stop.sh" <<SH
#!/usr/bin/env bash
# SIGTERM: PgBouncer drops every client and server connection at once.
pid=\$(cat $WORK/pgbouncer/pgbouncer.pid 2>/dev/null) || exit 0
kill -TERM "\$pid" 2>/dev/null
for _ in \$(seq 600); do kill -0 "\$pid" 2>/dev/null || exit 0; sleep 0.05; done
exit 1
SH
bash "$WORK/bin/pgbouncer-start.sh" || { log "PgBouncer did not start:"; tail "$WORK/pgbouncer/pgbouncer.log"; exit 1; }
log "PostgreSQL on $DB_ADDR:5432, PgBouncer (pool_mode = transaction) on $DB_ADDR:6432"

# --- the proxy on the slow host's path ------------------------------------------
targets=()
for port in "${REDIS_PORTS[@]}"; do targets+=(--target "$REDIS_ADDR:$port"); done
in_ns px python3 "$HERE/fleet_proxy.py" --listen-netns $PREFIX-$SLOW_HOST "${targets[@]}" --target $DB_ADDR:6432 \
  --stats "$WORK/proxy.json" >"$WORK/proxy.log" 2>&1 &
for _ in $(seq 600); do [ -s "$WORK/proxy.json" ] && break; sleep 0.05; done
[ -s "$WORK/proxy.json" ] || { log "the proxy did not start:"; cat "$WORK/proxy.log"; exit 1; }
log "proxy on $SLOW_HOST's path to every server: 100 ms +- 50 ms a chunk, one connection in 20 cut"

# --- the service instances ---------------------------------------------------
# Settings every instance shares: the cluster (each tracker write confirmed by
# a replica), PgBouncer (no named statements; connect_timeout long enough that a
# host cut off for a few seconds resumes where it was), short leases.
NODES=$(printf "$REDIS_ADDR:%s," "${REDIS_PORTS[@]}")
cat >"$WORK/bin/service.env" <<ENV
REDIS_CLUSTER_NODES=${NODES%,}
REDIS_WAIT_REPLICAS=1
DATABASE_URL='postgresql://postgres@$DB_ADDR:6432/postgres?statement_cache=off&connect_timeout=30'
DB_POOL_SIZE=4
DB_MAX_OVERFLOW=8
RAPIDAPI_DAILY_LIMIT=$DAILY_LIMIT
RAPIDAPI_HOURLY_LIMIT=$DAILY_LIMIT
SCALEKIT_MAX_ATTEMPTS=25
VIDEO_SERVICE_STAGE_MS=$STAGE_MS
VIDEO_SERVICE_LEASE_MS=$LEASE_MS
VIDEO_SERVICE_MAX_JOBS=$MAX_JOBS
VIDEO_SERVICE_OUTPUT_DIR=$WORK/dubbed
LOG_LEVEL=warning
ENV
for i in "${!HOSTS[@]}"; do
  host=${HOSTS[$i]}
  mkdir -p "$WORK/$host"
  cat >"$WORK/bin/$host.sh" <<SH
#!/usr/bin/env bash
# Starts $host's instance in the background; its pid goes to $WORK/$host/pid.
set -a
source $WORK/bin/service.env
VIDEO_SERVICE_HOST=$SUBNET.$((11 + i)) PORT=8080 VIDEO_SERVICE_INSTANCE=$host
set +a
cd $WORK/$host
ip netns exec $PREFIX-$host $BIN >>$WORK/$host/service.log 2>&1 &
echo \$! >$WORK/$host/pid
SH
  bash "$WORK/bin/$host.sh"
done
deadline=$((SECONDS + 180))
for i in "${!HOSTS[@]}"; do
  host=${HOSTS[$i]} ok=0
  while [ $SECONDS -lt $deadline ]; do
    if in_ns drv curl -s -o /dev/null -w '%{http_code}' -m 5 "http://$SUBNET.$((11 + i)):8080/health" 2>/dev/null | grep -q 200; then ok=1; break; fi
    kill -0 "$(cat "$WORK/$host/pid")" 2>/dev/null || break
    sleep 0.1
  done
  [ "$ok" = 1 ] || { log "instance $host did not become healthy:"; tail -20 "$WORK/$host/service.log"; exit 1; }
done
log "instances ${HOSTS[*]} healthy ($((SECONDS - START)) s since the start)"

# --- the scenarios -------------------------------------------------------------
python3 - "$WORK/fleet.json" <<PY
import json, sys
hosts = "${HOSTS[*]}".split()
config = {
    "work": "$WORK", "prefix": "$PREFIX", "videos": int("$FLEET_VIDEOS"),
    "lease_ms": $LEASE_MS, "stage_ms": $STAGE_MS, "max_jobs": $MAX_JOBS, "daily_limit": $DAILY_LIMIT,
    "slow_host": "$SLOW_HOST",
    "instances": [{"name": h, "url": f"http://$SUBNET.{11 + i}:8080", "start": "$WORK/bin/" + h + ".sh",
                   "pid_file": f"$WORK/{h}/pid", "log": f"$WORK/{h}/service.log"} for i, h in enumerate(hosts)],
    "redis": {"address": "$REDIS_ADDR", "ports": [int(p) for p in "${REDIS_PORTS[*]}".split()],
              "start": "$WORK/bin/redis-{port}.sh", "pid_file": "$WORK/redis/{port}/pid"},
    "database_url": "postgresql://postgres@$DB_ADDR:5432/postgres",
    "pgbouncer": {"start": "$WORK/bin/pgbouncer-start.sh", "stop": "$WORK/bin/pgbouncer-stop.sh",
                  "pid_file": "$WORK/pgbouncer/pgbouncer.pid"},
    "switch_netns": "$PREFIX-sw", "proxy_stats": "$WORK/proxy.json", "output_dir": "$WORK/dubbed",
}
json.dump(config, open(sys.argv[1], "w"), indent=1)
PY
log "running the scenarios from $PREFIX-drv"
if in_ns drv python3 "$HERE/fleet_scenarios.py" --config "$WORK/fleet.json"; then FAILED_RUN=0; fi
