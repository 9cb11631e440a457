// The DETAIL text of SHOW HELP: every console command, as PgBouncer lists them, plus ours.

export const HELP = [
  'SHOW HELP|CONFIG|DATABASES|POOLS|CLIENTS|SERVERS|USERS|VERSION',
  'SHOW STATS|STATS_TOTALS|STATS_AVERAGES|TOTALS|LISTS|STATE',
  'SHOW LATENCY|POOL_SIZE   (pooler: wait and transaction time quantiles; pool sizing and peak use)',
  "SHOW TOPOLOGY   (pooler: each database's servers and replicas, their health, the current target, failovers)",
  'SHOW HOSTS   (pooler: each host of a database: role, health checks and bans, replica lag)',
  'SET key = arg',
  'RELOAD',
  'PAUSE [<db>]',
  'RESUME [<db>]',
  'DISABLE <db>',
  'ENABLE <db>',
  'RECONNECT [<db>]',
  'KILL [<db>]',
  'KILL_CLIENT <client_id>',
  'SUSPEND',
  'SHUTDOWN',
  'SHUTDOWN WAIT_FOR_SERVERS|WAIT_FOR_CLIENTS',
  'WAIT_CLOSE [<db>]',
].join('\n\t');
