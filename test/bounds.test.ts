// Bounds on what clients can make the pooler hold (issue 16): a console client that does not
// read stops being answered.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wire } from '../src/testing/wire.js';
import { getPostgres } from './harness/context.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';

const postgres = getPostgres();
let growth: PoolerProcess;

beforeAll(async () => {
  const real = `host=${postgres.host} port=${postgres.port} dbname=pooler_test`;
  growth = await startPooler({
    settings: { auth_type: 'trust', admin_users: 'postgres', log_connections: 0, log_pooler_errors: 0 },
    databases: { app: real },
  });
});

afterAll(async () => {
  await growth?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const startup = (database: string, user = 'postgres') =>
  wire().int32(196608).cstring('user').cstring(user).cstring('database').cstring(database).bytes('\0').untyped();

/** counts ReadyForQuery messages in what a socket receives */
class ReadyCounter {
  ready = 0;
  private rest: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      const data = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
      let offset = 0;
      while (data.length - offset >= 5) {
        const end = offset + 1 + data.readUInt32BE(offset + 1);
        if (end > data.length) break;
        if (data[offset] === 0x5a) this.ready++;
        offset = end;
      }
      this.rest = data.subarray(offset);
      this.wake?.();
    });
  }

  async waitFor(count: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.ready < count && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 100);
      });
    }
    return this.ready >= count;
  }
}

describe('the console does not answer a client that does not read', () => {
  it('keeps memory bounded through 20 000 pipelined SHOW CONFIG, then delivers every answer', async () => {
    const socket = net.connect({ host: '127.0.0.1', port: growth.port });
    await new Promise((resolve) => socket.once('connect', resolve));
    const counter = new ReadyCounter(socket);
    socket.write(startup('pgbouncer'));
    expect(await counter.waitFor(1, 10_000)).toBe(true);

    const rssBefore = growth.rss();
    socket.pause();
    const query = wire().cstring('SHOW CONFIG').message('Q');
    socket.write(Buffer.concat(Array.from({ length: 20_000 }, () => query)));
    let peak = rssBefore;
    for (let i = 0; i < 20; i++) {
      await sleep(200);
      peak = Math.max(peak, growth.rss());
    }
    const growthMb = (peak - rssBefore) / 2 ** 20;
    console.log(`console pipelining: pooler RSS grew ${growthMb.toFixed(1)} MB while the client did not read`);

    socket.resume();
    const all = await counter.waitFor(20_001, 60_000);
    socket.destroy();
    expect(growthMb).toBeLessThan(64);
    expect(all).toBe(true);
  });
});

