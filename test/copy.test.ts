// COPY through the pooler: a 200 MB COPY TO STDOUT to a client that reads slowly must not grow the
// pooler's memory (backpressure pauses the server), and a 100 MB COPY FROM STDIN arrives whole.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wire } from '../src/testing/wire.js';
import { getPostgres } from './harness/context.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { RawClient } from './support/raw-client.js';

const postgres = getPostgres();
let pooler: PoolerProcess;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pooler-copy-'));
  await postgres.createDatabase('copy_db');
  pooler = await startPooler({
    settings: { auth_type: 'trust', pool_mode: 'transaction', default_pool_size: 2 },
    databases: { copy_db: `host=${postgres.host} port=${postgres.port}` },
  });
});

afterAll(async () => {
  await pooler?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** log in through the pooler with the raw client and wait for ReadyForQuery */
async function rawLogin(): Promise<RawClient> {
  const client = await RawClient.connect(pooler.port);
  client.send(wire().int32(196608).cstring('user').cstring('postgres').cstring('database').cstring('copy_db').bytes('\0').untyped());
  const login = await client.readUntilReady();
  expect(login.at(-1)?.code).toBe('Z');
  return client;
}

describe('COPY', () => {
  it('streams 200 MB to a slow reader with bounded pooler memory', async () => {
    const client = await rawLogin();
    // 200 000 rows of 1000 bytes (plus newline) ≈ 200 MB of CopyData.
    client.send(wire().cstring("COPY (SELECT repeat('x', 1000) FROM generate_series(1, 200000)) TO STDOUT").message('Q'));
    // Stop reading: the pooler must stop reading PostgreSQL instead of buffering.
    client.socket.removeAllListeners('data');
    client.socket.pause();
    const baseline = pooler.rss();
    let peak = baseline;
    let received = 0;
    const slowReader = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _enc, done) {
        received += chunk.length;
        peak = Math.max(peak, pooler.rss());
        // about 100 MB/s at most: far slower than PostgreSQL produces it
        setTimeout(done, chunk.length > 32 * 1024 ? 1 : 0);
      },
    });
    await new Promise((r) => setTimeout(r, 500));
    peak = Math.max(peak, pooler.rss());
    const finished = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (received >= 200_000 * 1006) {
          clearInterval(check);
          resolve();
        }
      }, 50);
    });
    client.socket.pipe(slowReader);
    client.socket.resume();
    await finished;
    client.close();
    const growth = peak - baseline;
    console.log(`COPY TO STDOUT 200 MB: received ${(received / 1e6).toFixed(0)} MB, pooler RSS growth ${(growth / 1e6).toFixed(1)} MB`);
    expect(growth).toBeLessThan(64 * 1024 * 1024);
  }, 180_000);

  it('takes a 100 MB COPY FROM STDIN from psql', async () => {
    const file = join(dir, 'rows.txt');
    const out = createWriteStream(file);
    const line = 'y'.repeat(999) + '\n';
    for (let i = 0; i < 100_000; i++) if (!out.write(line)) await new Promise<void>((r) => out.once('drain', () => r()));
    await new Promise<void>((r) => out.end(() => r()));
    const admin = new pg.Client({ connectionString: pooler.url('copy_db') });
    await admin.connect();
    await admin.query('CREATE TABLE IF NOT EXISTS copy_in (t text)');
    await admin.query('TRUNCATE copy_in');
    const psql = spawn('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(pooler.port), '-U', 'postgres', 'copy_db', '-c', `\\copy copy_in FROM '${file}'`]);
    let stderr = '';
    psql.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((r) => psql.on('exit', r));
    expect(code, stderr).toBe(0);
    const { rows } = await admin.query('SELECT count(*)::int AS n, sum(length(t))::bigint AS bytes FROM copy_in');
    expect(rows[0].n).toBe(100_000);
    expect(Number(rows[0].bytes)).toBe(99_900_000);
    await admin.end();
  }, 180_000);
});

