#!/usr/bin/env bash
# Starts the PostgreSQL 15 the tests use: Debian's packages (installed if
# missing), an unprivileged cluster of its own run as user postgres from
# $VIRTUMANCER_PG_DIR (default /tmp/virtumancer-pg), listening only on
# 127.0.0.1:$VIRTUMANCER_PG_PORT (default 55432), trust authentication for
# user postgres (SPEC 6). Never the system cluster (its port 5432 and data
# directory are left alone). Idempotent: a running cluster is reused.
# Tests reach it at postgres://postgres@127.0.0.1:55432/postgres, or at
# $VIRTUMANCER_TEST_POSTGRES (internal/pgtest). Quiet on success.
#   bash scripts/pgenv.sh         start (or reuse) it
#   bash scripts/pgenv.sh stop    stop it (the directory stays)
set -euo pipefail

fail() { echo "scripts/pgenv.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "must run as root (it installs packages and runs PostgreSQL as user postgres)"

dir=${VIRTUMANCER_PG_DIR:-/tmp/virtumancer-pg}
port=${VIRTUMANCER_PG_PORT:-55432}
bin=/usr/lib/postgresql/15/bin
as_pg() { runuser -u postgres -- "$@"; }

if [ "${1:-start}" = stop ]; then
  [ -f "$dir/PG_VERSION" ] || exit 0
  as_pg "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
  exit 0
fi
[ "${1:-start}" = start ] || fail "unknown argument ${1}; use start or stop"

if [ ! -x "$bin/pg_ctl" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/tmp/pgenv-apt.log 2>&1 || { cat /tmp/pgenv-apt.log >&2; fail "apt-get update failed"; }
  # postgresql-15 alone: the postgresql metapackage would also create and
  # start the system cluster.
  apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-client-15 >>/tmp/pgenv-apt.log 2>&1 || {
    tail -30 /tmp/pgenv-apt.log >&2; fail "installing postgresql-15 failed"; }
fi

ready() { "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -t 2; }
if ready; then
  # Reuse only our own cluster: something else on the port would be tested against by mistake.
  as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1 ||
    fail "127.0.0.1:$port answers but is not the cluster in $dir; stop it or set VIRTUMANCER_PG_PORT"
  exit 0
fi

mkdir -p "$dir"
chown postgres:postgres "$dir"
chmod 0700 "$dir"
if [ ! -f "$dir/PG_VERSION" ]; then
  as_pg "$bin/initdb" -D "$dir" -A trust -U postgres -E UTF8 --no-instructions >"$dir.initdb.log" 2>&1 || {
    cat "$dir.initdb.log" >&2; fail "initdb -D $dir failed"; }
fi
# The socket lives in $dir (not /var/run/postgresql, which the packages own).
as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null || {
  tail -20 "$dir/server.log" >&2; fail "PostgreSQL did not start from $dir on 127.0.0.1:$port"; }
ready || fail "PostgreSQL started from $dir but 127.0.0.1:$port does not answer"
