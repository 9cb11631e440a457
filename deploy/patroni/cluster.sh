#!/bin/sh
# A throwaway Patroni cluster on loopback for tests and demos: etcd (v3 API) and three Patroni 3
# nodes with PostgreSQL on free ports, run as the postgres account when started as root.
#   cluster.sh start DIR   start it, wait for a leader and two streaming replicas, write DIR/cluster.env
#   cluster.sh stop DIR    stop Patroni (which stops PostgreSQL) and etcd
set -eu

cmd=${1:?usage: cluster.sh start|stop DIR}
dir=${2:?usage: cluster.sh start|stop DIR}
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

stop() {
  for pidfile in "$dir"/node*/patroni.pid; do
    [ -f "$pidfile" ] && kill -TERM "$(cat "$pidfile")" 2>/dev/null || true
  done
  sleep 2
  for pidfile in "$dir"/node*/patroni.pid "$dir"/etcd.pid; do
    [ -f "$pidfile" ] && kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
  done
  for data in "$dir"/node*/data; do
    [ -f "$data/postmaster.pid" ] && kill -KILL "$(head -1 "$data/postmaster.pid")" 2>/dev/null || true
  done
  return 0
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi

mkdir -p "$dir"
[ "$(id -u)" = 0 ] && chown postgres: "$dir"
etcd_client=$(free_port)
etcd_peer=$(free_port)
as_postgres sh -c "exec etcd --name pooler-test --data-dir '$dir/etcd' \
  --listen-client-urls http://127.0.0.1:$etcd_client --advertise-client-urls http://127.0.0.1:$etcd_client \
  --listen-peer-urls http://127.0.0.1:$etcd_peer --initial-advertise-peer-urls http://127.0.0.1:$etcd_peer \
  --initial-cluster pooler-test=http://127.0.0.1:$etcd_peer > '$dir/etcd.log' 2>&1 & echo \$! > '$dir/etcd.pid'"

: > "$dir/cluster.env"
echo "etcd=http://127.0.0.1:$etcd_client" >> "$dir/cluster.env"
for n in 1 2 3; do
  node="$dir/node$n"
  pg=$(free_port)
  api=$(free_port)
  mkdir -p "$node"
  cat > "$node/patroni.yml" <<YAML
scope: pooler-test
name: node$n
restapi:
  listen: 127.0.0.1:$api
  connect_address: 127.0.0.1:$api
etcd3:
  hosts: 127.0.0.1:$etcd_client
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 3
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      parameters:
        max_connections: 100
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        wal_keep_size: 128MB
  initdb:
    - encoding: UTF8
    - locale: C
  pg_hba:
    - host all all 127.0.0.1/32 trust
    - host replication replicator 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:$pg
  connect_address: 127.0.0.1:$pg
  data_dir: $node/data
  bin_dir: $bindir
  pgpass: $node/pgpass
  authentication:
    superuser:
      username: postgres
      password: postgres
    replication:
      username: replicator
      password: replicator
  parameters:
    unix_socket_directories: '$node'
tags:
  nofailover: false
YAML
  echo "node$n pg=$pg api=http://127.0.0.1:$api pidfile=$node/patroni.pid data=$node/data" >> "$dir/cluster.env"
done
[ "$(id -u)" = 0 ] && chown -R postgres: "$dir"
for n in 1 2 3; do
  node="$dir/node$n"
  as_postgres sh -c "exec patroni '$node/patroni.yml' > '$node/patroni.log' 2>&1 & echo \$! > '$node/patroni.pid'"
  # the first node bootstraps alone, so the others clone from it rather than race to initdb
  [ "$n" = 1 ] && sleep 4
done

# a leader and two streaming replicas, within two minutes
api1=$(sed -n 's/^node1 .*api=\([^ ]*\).*/\1/p' "$dir/cluster.env")
i=0
while [ $i -lt 240 ]; do
  if python3 -c '
import json, sys, urllib.request
m = json.load(urllib.request.urlopen(sys.argv[1] + "/cluster", timeout=2))["members"]
leaders = [x for x in m if x["role"] in ("leader", "master", "primary") and x["state"] == "running"]
replicas = [x for x in m if x["role"] in ("replica", "sync_standby") and x["state"] in ("running", "streaming")]
sys.exit(0 if len(leaders) == 1 and len(replicas) == 2 else 1)' "$api1" 2>/dev/null; then
    cat "$dir/cluster.env"
    exit 0
  fi
  i=$((i + 1))
  sleep 0.5
done
echo "cluster did not come up; logs in $dir" >&2
tail -5 "$dir"/node*/patroni.log >&2 || true
stop
exit 1
