#!/bin/sh
# Makes sure the programs the tests run are installed: PostgreSQL's initdb, pg_ctl, psql and
# pgbench, PgBouncer for the benchmark smoke test, and the Python drivers asyncpg and psycopg 3
# (Debian's python3) for the prepared-statement tests, Patroni with etcd for the failover
# tests, and ss (iproute2) to read the keepalive timers the kernel set. On a Debian machine
# where we are root, whatever is missing comes from Debian's packages.
set -eu

missing=""
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing="$missing postgresql postgresql-contrib"
elif ! command -v psql >/dev/null 2>&1 || ! command -v pgbench >/dev/null 2>&1; then
  missing="$missing postgresql-client postgresql-contrib"
fi
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  missing="$missing pgbouncer"
fi
if ! /usr/bin/python3 -c 'import asyncpg' >/dev/null 2>&1; then
  missing="$missing python3-asyncpg"
fi
if ! /usr/bin/python3 -c 'import psycopg' >/dev/null 2>&1; then
  missing="$missing python3-psycopg"
fi
if ! command -v patroni >/dev/null 2>&1; then
  missing="$missing patroni"
fi
if ! command -v etcd >/dev/null 2>&1; then
  missing="$missing etcd-server"
fi
if ! command -v ss >/dev/null 2>&1; then
  missing="$missing iproute2"
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing from Debian's packages for the tests:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086 # the list is meant to split into package names
  apt-get install -y -qq $missing >/dev/null
  exit 0
fi

echo "the tests need:$missing (Debian: apt-get install$missing)" >&2
exit 1
