#!/bin/sh
# Makes sure the programs the tests run are installed: PostgreSQL's initdb, pg_ctl, psql and
# pgbench, and PgBouncer for the benchmark smoke test. On a Debian machine where we are root,
# whatever is missing comes from Debian's packages.
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
