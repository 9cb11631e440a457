// Security defaults through the real pooler (issue 16): auth_type = any without a forced user
// does not start.
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';

const postgres = getPostgres();
const target = `host=${postgres.host} port=${postgres.port} dbname=pooler_test`;
const started: PoolerProcess[] = [];

/** stopped after the file, also when a test expected it not to start and it did */
function track(pooler: PoolerProcess): PoolerProcess {
  started.push(pooler);
  return pooler;
}

afterAll(async () => {
  for (const process of started) await process.stop();
});

describe('auth_type = any', () => {
  it('refuses to start while a database has no forced user, saying which entry needs user=', async () => {
    const attempt = startPooler({ settings: { auth_type: 'any' }, authFile: { scram_user: 'scrampass' }, databases: { app: target } }).then(track);
    await expect(attempt).rejects.toThrow(/exit 2\)[\s\S]*database "app": auth_type = any \(.*\) needs a forced user.*add user=<name> to this entry/);
  });

  it('starts with a forced user, and every client is that user whatever name it gives', async () => {
    const pooler = track(
      await startPooler({ settings: { auth_type: 'any' }, authFile: { scram_user: 'scrampass' }, databases: { app: `${target} user=trust_user` } }),
    );
    const client = new pg.Client({ connectionString: pooler.url('app', 'scram_user') });
    await client.connect();
    const { rows } = await client.query('SELECT current_user AS who');
    expect(rows[0].who).toBe('trust_user');
    await client.end();
  });
});
