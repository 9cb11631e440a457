// SHOW POOLS, LISTS and STATE: the sizes of each pool's state lists (the lists themselves are the
// truth), and the pooler-wide counts and flags.
import type { ConsoleView } from './console-context.js';
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

export function showPools(view: ConsoleView): ResultSet {
  const rows = view.pools().map((pool) => {
    const [maxwait, maxwaitUs] = splitSeconds(pool.maxWait);
    return [
      pool.database,
      pool.user,
      pool.clientsActive,
      pool.clientsWaiting,
      0,
      0,
      pool.serversActive,
      0,
      0,
      pool.serversIdle,
      pool.serversUsed,
      pool.serversTested,
      pool.serversLogin,
      maxwait,
      maxwaitUs,
      pool.mode,
      null,
    ];
  });
  rows.push([view.consoleName, view.consoleName, view.consoleSessions(), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'statement', null]);
  return { columns: POOL_COLUMNS, rows, tag: 'SHOW' };
}

export function showLists(view: ConsoleView): ResultSet {
  const pools = view.pools();
  const clients = view.clients();
  const servers = pools.reduce((n, pool) => n + pool.serverCount, 0);
  const loginClients = clients.filter((client) => client.inLogin).length;
  const users = new Set([...view.config.users.keys(), ...pools.map((pool) => pool.user)]);
  const counts: [string, number][] = [
    ['databases', view.config.databases.size + 1],
    ['users', users.size],
    ['peers', 0],
    ['pools', pools.length + 1],
    ['peer_pools', 0],
    ['free_clients', 0],
    ['used_clients', clients.length - loginClients],
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

export function showState(view: ConsoleView): ResultSet {
  const yesNo = (flag: boolean) => (flag ? 'yes' : 'no');
  return {
    columns: [text('key'), text('value')],
    rows: [
      ['active', yesNo(!view.pausedAll && !view.suspended)],
      ['paused', yesNo(view.pausedAll)],
      ['suspended', yesNo(view.suspended)],
    ],
    tag: 'SHOW',
  };
}
