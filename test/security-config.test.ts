// Security defaults through the real pooler (issue 16): auth_type = any without a forced user
// does not start; SCRAM refuses an empty password as md5 and plain do.
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ScramClient } from '../src/auth/scram-client.js';
import { wire } from '../src/testing/wire.js';
import { getPostgres } from './harness/context.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { errorFields, RawClient } from './support/raw-client.js';

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

/** a whole SCRAM login with exact bytes; the fields of the ErrorResponse it ends with, or null if it got in */
async function scramLogin(port: number, user: string, password: string): Promise<Record<string, string> | null> {
  const client = await RawClient.connect(port);
  try {
    client.send(wire().int32(196608).cstring('user').cstring(user).cstring('database').cstring('app').bytes(Buffer.from([0])).untyped());
    expect((await client.readMessage())?.code).toBe('R');
    const scram = new ScramClient();
    const first = Buffer.from(scram.start());
    client.send(wire().cstring('SCRAM-SHA-256').int32(first.length).bytes(first).message('p'));
    const serverFirst = await client.readMessage();
    client.send(wire().bytes(await scram.continue(serverFirst!.body.toString('utf8', 4), password)).message('p'));
    const reply = await client.readMessage();
    return reply?.code === 'E' ? errorFields(reply.body) : null;
  } finally {
    client.close();
  }
}

describe('SCRAM toward clients', () => {
  it('refuses an empty password against an empty auth_file entry exactly as it refuses a wrong one', async () => {
    const pooler = track(
      await startPooler({ settings: { auth_type: 'scram-sha-256' }, authFile: { trust_user: '', scram_user: 'scrampass' }, databases: { app: target } }),
    );
    const wrong = await scramLogin(pooler.port, 'scram_user', 'nope');
    expect(wrong).toMatchObject({ C: '28P01', M: 'password authentication failed for user "scram_user"' });
    expect(await scramLogin(pooler.port, 'trust_user', '')).toEqual({ ...wrong, M: 'password authentication failed for user "trust_user"' });
  });
});
