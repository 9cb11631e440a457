#!/bin/sh
# Makes sure the PostgreSQL programs the tests run (initdb, pg_ctl, psql, pgbench) are installed;
# on a Debian machine where we are root and they are missing, installs them from Debian's packages.
set -eu

have_server() {
  command -v initdb >/dev/null 2>&1 && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

if have_server && command -v psql >/dev/null 2>&1 && command -v pgbench >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing PostgreSQL from Debian's packages for the tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql postgresql-contrib >/dev/null
  exit 0
fi

echo "the tests need PostgreSQL's initdb, pg_ctl, psql and pgbench; install PostgreSQL (Debian: apt-get install postgresql) or start Docker" >&2
exit 1
