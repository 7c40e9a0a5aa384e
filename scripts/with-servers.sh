#!/usr/bin/env bash
# Runs a command with a throwaway redis-server, a Redis Cluster (3 masters,
# 3 replicas: SCALEKIT_TEST_REDIS_CLUSTER_NODES), two TLS-only redis-servers
# (SCALEKIT_TEST_REDIS_TLS_URL, _MTLS_URL and their certificates), a Redis Cluster
# speaking TLS only (3 masters: SCALEKIT_TEST_REDIS_TLS_CLUSTER_NODES), PostgreSQL and PgBouncer
# (transaction pooling, in front of that PostgreSQL), exported as
# SCALEKIT_TEST_REDIS_URL, SCALEKIT_TEST_DATABASE_URL and
# SCALEKIT_TEST_PGBOUNCER_URL (plus more SCALEKIT_TEST_* for the server tests),
# and stops them afterwards, also when the command fails.
#   scripts/with-servers.sh swift test --filter Redis
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=servers.sh
source "$HERE/servers.sh"
trap stop_servers EXIT
trap 'exit 130' INT TERM
start_redis || exit 1
start_redis_cluster || exit 1
start_redis_tls || exit 1
start_redis_tls_cluster || exit 1
PG_TLS=1 start_postgres || exit 1
start_pgbouncer || exit 1
export SCALEKIT_TEST_PGBOUNCER_URL="$PGBOUNCER_URL"
export SCALEKIT_TEST_PG_TLS_CA="$PG_TLS_CA" SCALEKIT_TEST_PG_TLS_WRONG_CA="$PG_TLS_WRONG_CA"
export SCALEKIT_TEST_REDIS_URL="$REDIS_URL" SCALEKIT_TEST_DATABASE_URL="$DATABASE_URL"
export SCALEKIT_TEST_REDIS_CLUSTER_NODES="$REDIS_CLUSTER_NODES" SCALEKIT_TEST_REDIS_TLS_CLUSTER_NODES="$REDIS_TLS_CLUSTER_NODES"
export SCALEKIT_TEST_REDIS_TLS_URL="$REDIS_TLS_URL" SCALEKIT_TEST_REDIS_MTLS_URL="$REDIS_MTLS_URL"
export SCALEKIT_TEST_REDIS_TLS_CA="$REDIS_TLS_CA" SCALEKIT_TEST_REDIS_TLS_WRONG_CA="$REDIS_TLS_WRONG_CA"
export SCALEKIT_TEST_REDIS_TLS_CLIENT_CERT="$REDIS_TLS_CLIENT_CERT" SCALEKIT_TEST_REDIS_TLS_CLIENT_KEY="$REDIS_TLS_CLIENT_KEY"
export SCALEKIT_TEST_REDIS_PID="$REDIS_PID" SCALEKIT_TEST_PG_PID="$PG_PID" SCALEKIT_TEST_PGDATA="$PGDATA"
export SCALEKIT_TEST_PG_BIN="$PG_BIN" SCALEKIT_TEST_SERVERS_SCRIPT="$HERE/servers.sh"
# The tests must not pick the servers up as the application's own
# configuration, and a test that sources servers.sh for a private server must
# not inherit these servers' pids (its cleanup would stop them): keep them as
# this shell's variables for the trap, but out of the command's environment.
unset REDIS_URL DATABASE_URL PGBOUNCER_URL
unset REDIS_CLUSTER_NODES REDIS_TLS_CLUSTER_NODES REDIS_TLS_URL REDIS_MTLS_URL REDIS_TLS_CA REDIS_TLS_WRONG_CA REDIS_TLS_CLIENT_CERT REDIS_TLS_CLIENT_KEY
export -n REDIS_TLS_PIDS REDIS_CLUSTER_DIR REDIS_PID REDIS_PORT PG_PID PG_PORT PGDATA PG_BIN SERVERS_DIR PGBOUNCER_PID PGBOUNCER_PORT
"$@"
