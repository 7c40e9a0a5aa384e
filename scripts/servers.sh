#!/usr/bin/env bash
# Throwaway redis-server and PostgreSQL on free loopback ports, for tests.
# Source this file, then:
#   start_redis      -> exports REDIS_URL, REDIS_PORT, REDIS_PID
#   start_postgres   -> exports DATABASE_URL, PG_PORT, PG_PID, PGDATA, PG_BIN; with PG_TLS=1 the
#                       server has ssl=on with a certificate from a throwaway CA (PG_TLS_CA;
#                       PG_TLS_WRONG_CA is an unrelated CA, for refusal tests); plain connections
#                       still work. Off by default: the private servers that fault tests kill and
#                       restart stay as cheap to reconnect to as they were
#   start_pgbouncer  -> (after start_postgres) PgBouncer in pool_mode = transaction in front of
#                       that PostgreSQL; exports PGBOUNCER_URL, PGBOUNCER_PORT, PGBOUNCER_PID
#   stop_servers     -> stops all of them by pid and removes their data (call from a trap)
#   restart_redis / restart_postgres -> stop and start again on the same port (fault tests)
#   crash_redis / crash_postgres     -> kill -9 (the server and, for PostgreSQL, every backend
#                                       process) without any shutdown; start again with
#                                       restart_redis / restart_postgres (PostgreSQL then runs
#                                       crash recovery from its WAL)
#   start_redis_tls  -> two TLS-only redis-servers with certificates from a throwaway CA: one
#                       that verifies a client certificate when one is given (REDIS_TLS_URL) and
#                       one that requires it (REDIS_MTLS_URL); exports REDIS_TLS_CA, REDIS_TLS_WRONG_CA,
#                       REDIS_TLS_CLIENT_CERT, REDIS_TLS_CLIENT_KEY, REDIS_TLS_PIDS
#   start_redis_tls_cluster -> after start_redis_tls: a Redis Cluster of 3 masters speaking TLS
#                       only (clients, bus, replication), same certificates; exports
#                       REDIS_TLS_CLUSTER_NODES; stopped by stop_redis_tls
#   start_redis_cluster -> a Redis Cluster of 3 masters and 3 replicas on free loopback ports;
#                       exports REDIS_CLUSTER_NODES (host:port,…) and REDIS_CLUSTER_DIR (one
#                       folder per node, named by its port, holding its pid)
#   crash_cluster_node PORT / restart_cluster_node PORT -> kill -9 one node / start it again
#                       (with its nodes.conf, so it rejoins, as a replica if it was failed over)
# REDIS_CLUSTER_NODE_TIMEOUT (ms, default 15000) is the cluster's failure-detection time:
# failover tests set it low on a private cluster; the shared one keeps it long, so a
# saturated machine never fails a master over behind the other tests' backs.
# REDIS_APPENDONLY=yes REDIS_APPENDFSYNC=always make every write acknowledged by Redis
# durable across a crash (the crash tests use them).
# PostgreSQL and PgBouncer refuse to run as root, so they run as the `postgres` user.

SERVERS_DIR=${SERVERS_DIR:-}
REDIS_PID=${REDIS_PID:-}
PG_PID=${PG_PID:-}
PGBOUNCER_PID=${PGBOUNCER_PID:-}

_servers_dir() {
  if [ -z "$SERVERS_DIR" ]; then
    SERVERS_DIR=$(mktemp -d /tmp/scalekit-servers.XXXXXX)
    chmod 755 "$SERVERS_DIR"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until the redis-server PID answers PING (redis-cli with the given
# arguments), up to about a minute: on a saturated machine each try is slow
# to start. Fails at once when the server has exited.
_await_redis() {  # PID WHAT LOG REDIS-CLI-ARGUMENTS...
  local pid=$1 what=$2 log=$3
  shift 3
  for _ in $(seq 1200); do
    redis-cli "$@" ping >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "[servers] $what did not start; log: $log" >&2
  return 1
}

_redis_launch() {
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly "${REDIS_APPENDONLY:-no}" \
    --appendfsync "${REDIS_APPENDFSYNC:-everysec}" --dir "$SERVERS_DIR/redis" --daemonize no \
    --logfile "$SERVERS_DIR/redis.log" &
  REDIS_PID=$!
  _await_redis "$REDIS_PID" redis-server "$SERVERS_DIR/redis.log" -p "$REDIS_PORT"
}

start_redis() {
  _servers_dir
  mkdir -p "$SERVERS_DIR/redis"
  REDIS_PORT=${REDIS_PORT:-$(free_port)}
  # Kept, so restart_redis starts it with the same durability.
  export REDIS_APPENDONLY=${REDIS_APPENDONLY:-no} REDIS_APPENDFSYNC=${REDIS_APPENDFSYNC:-everysec}
  _redis_launch || return 1
  export REDIS_PORT REDIS_PID
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  echo "[servers] redis-server pid $REDIS_PID on $REDIS_URL"
}

stop_redis() {
  if [ -n "$REDIS_PID" ]; then
    kill "$REDIS_PID" 2>/dev/null
    wait "$REDIS_PID" 2>/dev/null
    REDIS_PID=""
  fi
}

restart_redis() { stop_redis; _redis_launch; export REDIS_PID; }

# SIGKILL by pid: no shutdown, no final save; only what Redis already wrote survives.
crash_redis() {
  if [ -n "$REDIS_PID" ]; then
    kill -9 "$REDIS_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.05; done
    REDIS_PID=""
  fi
}

# The Redis TLS certificates: a CA, a server certificate it signs for 127.0.0.1 and
# localhost, a client certificate it signs, and an unrelated CA. EC keys (milliseconds).
_redis_tls_certificates() {
  local dir="$SERVERS_DIR/redistls"
  mkdir -p "$dir"
  (
    cd "$dir" || exit 1
    ec() { echo "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1"; }
    for ca in ca wrong-ca; do
      openssl req -x509 -new -nodes $(ec) -keyout "$ca.key" -out "$ca.crt" -days 2 -subj "/CN=ScaleKit Redis test $ca" 2>/dev/null || exit 1
    done
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    for who in server client; do
      openssl req -new -nodes $(ec) -keyout "$who.key" -out "$who.csr" -subj "/CN=ScaleKit test $who" 2>/dev/null || exit 1
      openssl x509 -req -in "$who.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$who.crt" -days 2 \
        -extfile "$who.ext" 2>/dev/null || exit 1
    done
  ) || { echo "[servers] openssl could not make the Redis test certificates" >&2; return 1; }
  export REDIS_TLS_CA="$dir/ca.crt" REDIS_TLS_WRONG_CA="$dir/wrong-ca.crt"
  export REDIS_TLS_CLIENT_CERT="$dir/client.crt" REDIS_TLS_CLIENT_KEY="$dir/client.key"
}

_redis_tls_launch() {  # PORT CLIENT_AUTH(optional|yes) NAME
  local dir="$SERVERS_DIR/redistls" pid
  mkdir -p "$dir/$3"
  redis-server --bind 127.0.0.1 --port 0 --tls-port "$1" --tls-cert-file "$dir/server.crt" --tls-key-file "$dir/server.key" \
    --tls-ca-cert-file "$dir/ca.crt" --tls-auth-clients "$2" --save '' --appendonly no --dir "$dir/$3" --daemonize no \
    --logfile "$dir/$3/redis.log" &
  pid=$!
  REDIS_TLS_PIDS="${REDIS_TLS_PIDS:-} $pid"
  _await_redis "$pid" "TLS redis-server ($3)" "$dir/$3/redis.log" \
    --tls --cacert "$dir/ca.crt" --cert "$dir/client.crt" --key "$dir/client.key" -p "$1"
}

start_redis_tls() {
  _servers_dir
  _redis_tls_certificates || return 1
  local port
  port=$(free_port)
  _redis_tls_launch "$port" optional tls || return 1
  export REDIS_TLS_URL="rediss://127.0.0.1:$port/0"
  port=$(free_port)
  _redis_tls_launch "$port" yes mtls || return 1
  export REDIS_MTLS_URL="rediss://127.0.0.1:$port/0" REDIS_TLS_PIDS
  echo "[servers] TLS redis-servers on $REDIS_TLS_URL and (client certificate required) $REDIS_MTLS_URL"
}

# Three masters (no replicas) serving TLS only, on every link: clients, the
# cluster bus, replication. Call after start_redis_tls, whose certificates it uses.
start_redis_tls_cluster() {
  _servers_dir
  local dir="$SERVERS_DIR/redistls" ports=() port bus node pid ready
  for node in 1 2 3; do
    port=$(free_port)
    bus=$(free_port)
    mkdir -p "$dir/cluster-$node"
    redis-server --bind 127.0.0.1 --port 0 --tls-port "$port" --tls-cert-file "$dir/server.crt" --tls-key-file "$dir/server.key" \
      --tls-ca-cert-file "$dir/ca.crt" --tls-auth-clients no --tls-cluster yes --tls-replication yes \
      --cluster-enabled yes --cluster-port "$bus" --cluster-config-file "$dir/cluster-$node/nodes.conf" \
      --save '' --appendonly no --dir "$dir/cluster-$node" --daemonize no --logfile "$dir/cluster-$node/redis.log" &
    pid=$!
    REDIS_TLS_PIDS="${REDIS_TLS_PIDS:-} $pid"
    _await_redis "$pid" "TLS cluster node $node" "$dir/cluster-$node/redis.log" --tls --cacert "$dir/ca.crt" -p "$port" || return 1
    ports+=("$port")
  done
  if ! redis-cli --tls --cacert "$dir/ca.crt" --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas 0 \
      --cluster-yes >"$dir/cluster-create.log" 2>&1; then
    echo "[servers] redis-cli --cluster create (TLS) failed; log: $dir/cluster-create.log" >&2
    return 1
  fi
  for _ in $(seq 1200); do
    ready=1
    for port in "${ports[@]}"; do
      redis-cli --tls --cacert "$dir/ca.crt" -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || { ready=0; break; }
    done
    [ "$ready" = 1 ] && break
    sleep 0.1
  done
  if [ "$ready" != 1 ]; then
    echo "[servers] the TLS Redis Cluster did not become ready; logs under $dir/cluster-*" >&2
    return 1
  fi
  REDIS_TLS_CLUSTER_NODES=$(printf '127.0.0.1:%s,' "${ports[@]}")
  export REDIS_TLS_CLUSTER_NODES=${REDIS_TLS_CLUSTER_NODES%,} REDIS_TLS_PIDS
  echo "[servers] Redis Cluster over TLS only (3 masters) on $REDIS_TLS_CLUSTER_NODES"
}

stop_redis_tls() {
  local pid
  for pid in ${REDIS_TLS_PIDS:-}; do kill "$pid" 2>/dev/null; done
  for pid in ${REDIS_TLS_PIDS:-}; do for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done; done
  REDIS_TLS_PIDS=""
}

_cluster_node_launch() {  # PORT
  local port=$1 dir="$REDIS_CLUSTER_DIR/$1" bus pid
  mkdir -p "$dir"
  # The bus port is kept in the folder, so a restarted node binds the same one.
  [ -s "$dir/bus" ] || free_port >"$dir/bus"
  bus=$(cat "$dir/bus")
  redis-server --bind 127.0.0.1 --port "$port" --cluster-enabled yes --cluster-port "$bus" \
    --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout "${REDIS_CLUSTER_NODE_TIMEOUT:-15000}" \
    --save '' --appendonly no --repl-diskless-sync-delay 0 --dir "$dir" --daemonize no --logfile "$dir/redis.log" &
  pid=$!
  echo "$pid" >"$dir/pid"
  _await_redis "$pid" "cluster node $port" "$dir/redis.log" -p "$port"
}

start_redis_cluster() {
  _servers_dir
  REDIS_CLUSTER_DIR="$SERVERS_DIR/cluster"
  mkdir -p "$REDIS_CLUSTER_DIR"
  local ports=() port ready
  for _ in 1 2 3 4 5 6; do
    port=$(free_port)
    ports+=("$port")
    _cluster_node_launch "$port" || return 1
  done
  if ! redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas 1 --cluster-yes \
      >"$REDIS_CLUSTER_DIR/create.log" 2>&1; then
    echo "[servers] redis-cli --cluster create failed; log: $REDIS_CLUSTER_DIR/create.log" >&2
    return 1
  fi
  # Ready when every node sees every slot served and each replica has synced with its master.
  for _ in $(seq 1200); do
    ready=1
    [ "$(redis-cli -p "${ports[0]}" cluster nodes 2>/dev/null | grep -c slave)" = 3 ] || { ready=0; sleep 0.1; continue; }
    for port in "${ports[@]}"; do
      redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || { ready=0; break; }
      if redis-cli -p "$port" role 2>/dev/null | head -1 | grep -q slave; then
        redis-cli -p "$port" info replication 2>/dev/null | grep -q '^master_link_status:up' || { ready=0; break; }
      fi
    done
    [ "$ready" = 1 ] && break
    sleep 0.1
  done
  if [ "$ready" != 1 ]; then
    echo "[servers] the Redis Cluster did not become ready; logs under $REDIS_CLUSTER_DIR" >&2
    return 1
  fi
  REDIS_CLUSTER_NODES=$(printf '127.0.0.1:%s,' "${ports[@]}")
  export REDIS_CLUSTER_NODES=${REDIS_CLUSTER_NODES%,} REDIS_CLUSTER_DIR
  echo "[servers] Redis Cluster (3 masters, 3 replicas) on $REDIS_CLUSTER_NODES"
}

crash_cluster_node() {  # PORT
  local pidfile="$REDIS_CLUSTER_DIR/$1/pid" pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 0
  kill -9 "$pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  rm -f "$pidfile"
}

restart_cluster_node() { crash_cluster_node "$1"; _cluster_node_launch "$1"; }

stop_redis_cluster() {
  local dir=${REDIS_CLUSTER_DIR:-${SERVERS_DIR:+$SERVERS_DIR/cluster}} pidfile
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  for pidfile in "$dir"/*/pid; do
    [ -f "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null
  done
  for pidfile in "$dir"/*/pid; do
    [ -f "$pidfile" ] || continue
    for _ in $(seq 100); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.05; done
    rm -f "$pidfile"
  done
}

_pg_bin() {
  PG_BIN=/usr/lib/postgresql/15/bin
  [ -x "$PG_BIN/initdb" ] || PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  export PG_BIN
}

# A test CA, a server certificate it signs for 127.0.0.1 and localhost
# (subjectAltName, which verify-full checks), and a second, unrelated CA.
# EC keys: made in milliseconds, where RSA keys would slow every test run.
_pg_tls() {
  local dir="$SERVERS_DIR/pgtls"
  mkdir -p "$dir"
  (
    cd "$dir" || exit 1
    for ca in ca wrong-ca; do
      openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout "$ca.key" \
        -out "$ca.crt" -days 2 -subj "/CN=ScaleKit test $ca" 2>/dev/null || exit 1
    done
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout server.key -out server.csr \
      -subj "/CN=localhost" 2>/dev/null || exit 1
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 \
      -extfile server.ext 2>/dev/null || exit 1
  ) || { echo "[servers] openssl could not make the test certificates" >&2; return 1; }
  chown postgres:postgres "$dir/server.key" "$dir/server.crt"
  chmod 600 "$dir/server.key"
  chmod 644 "$dir/ca.crt" "$dir/wrong-ca.crt"
  export PG_TLS_CA="$dir/ca.crt" PG_TLS_WRONG_CA="$dir/wrong-ca.crt"
}

_pg_launch() {
  local tls=""
  [ -f "$SERVERS_DIR/pgtls/server.crt" ] &&
    tls="-c ssl=on -c ssl_cert_file=$SERVERS_DIR/pgtls/server.crt -c ssl_key_file=$SERVERS_DIR/pgtls/server.key"
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$SERVERS_DIR/pgrun/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$SERVERS_DIR/pgrun -c fsync=off -c max_connections=300 $tls" \
    start >/dev/null || { echo "[servers] pg_ctl start failed; log: $SERVERS_DIR/pgrun/postgres.log" >&2; return 1; }
  PG_PID=$(head -1 "$PGDATA/postmaster.pid")
}

start_postgres() {
  _servers_dir
  _pg_bin
  PG_PORT=${PG_PORT:-$(free_port)}
  PGDATA="$SERVERS_DIR/pgdata"
  mkdir -p "$PGDATA" "$SERVERS_DIR/pgrun"
  chown postgres:postgres "$PGDATA" "$SERVERS_DIR/pgrun"
  chmod 700 "$PGDATA"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --no-sync \
    >"$SERVERS_DIR/initdb.log" 2>&1 || { echo "[servers] initdb failed; log: $SERVERS_DIR/initdb.log" >&2; return 1; }
  if [ "${PG_TLS:-0}" = 1 ]; then _pg_tls || return 1; fi
  _pg_launch || return 1
  export PG_PORT PG_PID PGDATA
  export DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "[servers] postgres pid $PG_PID on $DATABASE_URL"
}

stop_postgres() {
  if [ -n "$PG_PID" ]; then
    kill -INT "$PG_PID" 2>/dev/null   # fast shutdown, by pid
    for _ in $(seq 100); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
    PG_PID=""
  fi
}

restart_postgres() { stop_postgres; _pg_launch; export PG_PID; }

# SIGKILL of the postmaster and of every process it started (backends,
# checkpointer, WAL writer), all at once by pid: a crash, as a power cut
# would look to clients. With fsync=off committed data survives only
# because the operating system keeps running (the page cache is not lost).
crash_postgres() {
  if [ -n "$PG_PID" ]; then
    local children
    # From /proc rather than ps, which a minimal machine may lack.
    children=$(grep -l "^PPid:[[:space:]]*$PG_PID\$" /proc/[0-9]*/status 2>/dev/null | cut -d/ -f3 | tr '\n' ' ')
    # shellcheck disable=SC2086
    kill -9 "$PG_PID" $children 2>/dev/null
    for pid in "$PG_PID" $children; do
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    done
    PG_PID=""
  fi
}

# Transaction pooling, as deployed in front of a busy database: each
# transaction may run on a different server connection, so a client that
# relies on session state (named prepared statements, SET) breaks here.
start_pgbouncer() {
  _servers_dir
  local dir="$SERVERS_DIR/pgbouncer"
  mkdir -p "$dir"
  PGBOUNCER_PORT=${PGBOUNCER_PORT:-$(free_port)}
  # auth_type trust still looks the user up in auth_file.
  echo '"postgres" ""' >"$dir/userlist.txt"
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$PG_PORT
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 40
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  chown -R postgres:postgres "$dir"
  runuser -u postgres -- pgbouncer -d -q "$dir/pgbouncer.ini" \
    || { echo "[servers] pgbouncer did not start; log: $dir/pgbouncer.log" >&2; return 1; }
  for _ in $(seq 600); do
    [ -s "$dir/pgbouncer.pid" ] && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PGBOUNCER_PORT" -d postgres && break
    sleep 0.05
  done
  PGBOUNCER_PID=$(cat "$dir/pgbouncer.pid" 2>/dev/null)
  [ -n "$PGBOUNCER_PID" ] || { echo "[servers] pgbouncer wrote no pid; log: $dir/pgbouncer.log" >&2; return 1; }
  export PGBOUNCER_PORT PGBOUNCER_PID
  export PGBOUNCER_URL="postgresql://postgres@127.0.0.1:$PGBOUNCER_PORT/postgres"
  echo "[servers] pgbouncer pid $PGBOUNCER_PID on $PGBOUNCER_URL (pool_mode = transaction)"
}

stop_pgbouncer() {
  if [ -n "$PGBOUNCER_PID" ]; then
    kill -TERM "$PGBOUNCER_PID" 2>/dev/null   # immediate shutdown, by pid
    for _ in $(seq 100); do kill -0 "$PGBOUNCER_PID" 2>/dev/null || break; sleep 0.05; done
    PGBOUNCER_PID=""
  fi
}

stop_servers() {
  stop_redis
  stop_redis_tls
  stop_redis_cluster
  stop_pgbouncer
  stop_postgres
  if [ -n "$SERVERS_DIR" ]; then rm -rf "$SERVERS_DIR"; SERVERS_DIR=""; fi
}
