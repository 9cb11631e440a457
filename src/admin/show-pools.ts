// SHOW POOLS, LISTS and STATE: the sizes of each pool's state lists (the lists themselves are the
// truth), and the pooler-wide counts and flags.
import { clock } from '../clock.js';
import type { Pool } from '../pool/pool.js';
import type { Pooler } from '../pooler.js';
import { splitSeconds } from './format.js';
import { int4, text, type ResultSet } from './result-set.js';

const POOL_COLUMNS = [
  text('database'),
  text('user'),
  int4('cl_active'),
  int4('cl_waiting'),
  int4('cl_active_cancel_req'),
  int4('cl_waiting_cancel_req'),
  int4('sv_active'),
  int4('sv_active_cancel'),
  int4('sv_being_canceled'),
  int4('sv_idle'),
  int4('sv_used'),
  int4('sv_tested'),
  int4('sv_login'),
  int4('maxwait'),
  int4('maxwait_us'),
  text('pool_mode'),
  text('load_balance_hosts'),
];

/** how long the oldest waiting client of the pool has waited, in ms (lists are in arrival order) */
export function oldestWait(pool: Pool): number {
  const start = Math.min(pool.waitingClients.first()?.waitStart ?? Infinity, pool.waitingLoginClients.first()?.waitStart ?? Infinity);
  return start === Infinity ? 0 : clock.refresh() - start;
}

export function showPools(pooler: Pooler): ResultSet {
  const rows = [...pooler.pools.values()].map((pool) => {
    const [maxwait, maxwaitUs] = splitSeconds(oldestWait(pool));
    return [
      pool.database.name,
      pool.user,
      pool.activeClients.size,
      pool.waitingClients.size + pool.waitingLoginClients.size,
      0,
      0,
      pool.activeServers.size,
      0,
      0,
      pool.idleServers.size,
      pool.usedServers.size,
      pool.testedServers.size,
      pool.loginServers.size,
      maxwait,
      maxwaitUs,
      pool.mode,
      null,
    ];
  });
  rows.push([pooler.consoleName, pooler.consoleName, pooler.consoleSessions.size, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'statement', null]);
  return { columns: POOL_COLUMNS, rows, tag: 'SHOW' };
}

export function showLists(pooler: Pooler): ResultSet {
  let servers = 0;
  for (const pool of pooler.pools.values()) servers += pool.serverCount;
  const loginClients = [...pooler.clients].filter((client) => client.inLogin).length;
  const users = new Set([...pooler.config.users.keys(), ...[...pooler.pools.values()].map((pool) => pool.user)]);
  const counts: [string, number][] = [
    ['databases', pooler.config.databases.size + 1],
    ['users', users.size],
    ['peers', 0],
    ['pools', pooler.pools.size + 1],
    ['peer_pools', 0],
    ['free_clients', 0],
    ['used_clients', pooler.clients.size - loginClients],
    ['login_clients', loginClients],
    ['free_servers', 0],
    ['used_servers', servers],
    ['dns_names', 0],
    ['dns_zones', 0],
    ['dns_queries', 0],
    ['dns_pending', 0],
  ];
  return { columns: [text('list'), int4('items')], rows: counts, tag: 'SHOW' };
}

export function showState(pooler: Pooler): ResultSet {
  const yesNo = (flag: boolean) => (flag ? 'yes' : 'no');
  return {
    columns: [text('key'), text('value')],
    rows: [
      ['active', yesNo(!pooler.pausedAll && !pooler.suspended)],
      ['paused', yesNo(pooler.pausedAll)],
      ['suspended', yesNo(pooler.suspended)],
    ],
    tag: 'SHOW',
  };
}
