// A client waiting for a server gets one as soon as a new server connection has logged in, not at
// the next ⅓ s janitor tick (found by the soak: every client after one that died mid-transaction
// waited up to 333 ms). Judged by how many rounds waited a tick's worth, not by a total time.
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { TEST_DATABASE } from './harness/roles.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { RawClient } from './support/raw-client.js';
import { query } from './support/extended-protocol.js';

const postgres = getPostgres();
let pooler: PoolerProcess;

beforeAll(async () => {
  pooler = await startPooler({
    settings: { auth_type: 'trust', pool_mode: 'transaction' },
    databases: { app: `host=${postgres.host} port=${postgres.port} dbname=${TEST_DATABASE} pool_size=2` },
  });
});

afterAll(async () => {
  await pooler?.stop();
});

it('a waiting client is served by a new server as soon as it has logged in', async () => {
  // one server stays busy in an open transaction, so every round below needs the second one
  const holder = new pg.Client({ connectionString: pooler.url('app', 'postgres') });
  await holder.connect();
  await holder.query('BEGIN');
  const waiter = new pg.Client({ connectionString: pooler.url('app', 'postgres') });
  await waiter.connect();
  const waits: number[] = [];
  for (let round = 0; round < 30; round++) {
    // a client that dies inside a transaction takes the second server with it
    const dying = await RawClient.login(pooler.port, 'app');
    dying.send(query('BEGIN'));
    await dying.readUntilReady();
    (dying.socket as net.Socket).destroy();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = Date.now();
    await waiter.query('SELECT 1');
    waits.push(Date.now() - started);
  }
  await holder.query('COMMIT');
  await Promise.all([holder.end(), waiter.end()]);
  const tickLong = waits.filter((ms) => ms >= 100).length;
  console.log(`waits for a new server (ms): ${waits.join(' ')}`);
  // with the tick deciding, most rounds wait 0-333 ms; logging in takes a few ms
  expect(tickLong).toBeLessThan(waits.length / 4);
});
