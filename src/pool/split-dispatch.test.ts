// read_write_split over fake servers (a primary and two standbys): which server each transaction
// reaches, the commit position read on the primary before release and what it does to the
// client's next read, a write pipelined behind a read, and the primary's pool growing meanwhile.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clock } from '../clock.js';
import type { MonitoredHost } from '../failover/monitored-host.js';
import type { ServerAddress } from '../failover/topology.js';
import { loadClassifier } from '../sql/index.js';
import { loggedInClient, monitoredHosts, poolRig, settleAll, type FakeSocket, type PoolRig } from '../testing/pool-rig.js';
import { wire } from '../testing/wire.js';

const Query = (sql: string) => wire().cstring(sql).message('Q');
const Ready = (status: 'I' | 'T') => wire().bytes(status).message('Z');
const Complete = (tag: string) => wire().cstring(tag).message('C');
const LSN_QUERY = 'pg_current_wal_insert_lsn';

const PRIMARY = 5000;
const S1 = 5001;
const S2 = 5002;

beforeAll(() => loadClassifier());
afterEach(() => clock.refresh());

interface Setup {
  rig: PoolRig;
  monitored: Map<number, MonitoredHost>;
}

function setup(pool_size = 2, fallback: 'primary' | 'wait' = 'primary'): Setup {
  const monitored = monitoredHosts([PRIMARY, S1, S2]);
  const rig = poolRig(
    'transaction',
    { read_write_split: true, replica_fallback: fallback },
    {
      hosts: [PRIMARY, S1, S2].map((port) => ({ port, standby: port !== PRIMARY })),
      target_session_attrs: 'any',
      load_balance: 'round_robin',
      pool_size,
      monitored: (address: ServerAddress) => monitored.get(address.port) ?? null,
    },
  );
  return { rig, monitored };
}

/** the index of the server whose socket got `text` since last asked */
function serverGot(rig: PoolRig, text: string): number {
  return rig.servers.findIndex((s) => s.take().toString('latin1').includes(text));
}

/** the commit position a primary server answers the pooler's question with */
function lsnAnswer(lsn: string): Buffer {
  const description = wire().int16(1).cstring('lsn').int32(0).int16(0).int32(25).int16(-1).int32(-1).int16(0).message('T');
  const row = wire().int16(1).int32(lsn.length).bytes(lsn).message('D');
  return Buffer.concat([description, row, Complete('SELECT 1'), Ready('I')]);
}

/** send `sql` and answer it from whichever server got it: that server's index */
async function run(rig: PoolRig, socket: FakeSocket, sql: string, tag = 'SELECT 1'): Promise<number> {
  socket.feed(Query(sql));
  await settleAll();
  const at = serverGot(rig, sql);
  expect(at, `a server got "${sql}"`).toBeGreaterThanOrEqual(0);
  rig.servers[at]!.feed(Buffer.concat([Complete(tag), Ready('I')]));
  await settleAll();
  return at;
}

describe('read_write_split over fake servers', () => {
  it('sends reads to the standbys and writes to the primary, then reads to the primary until a standby has replayed the write', async () => {
    const { rig, monitored } = setup();
    const socket = await loggedInClient(rig);
    const port = (i: number) => rig.serverPorts[i]!;
    expect([S1, S2]).toContain(port(await run(rig, socket, 'SELECT 1')));
    const writer = await run(rig, socket, 'INSERT INTO t VALUES (1)', 'INSERT 0 1');
    expect(port(writer)).toBe(PRIMARY);
    // before release, the same server is asked where the commit ended
    expect(rig.servers[writer]!.take().toString('latin1')).toContain(LSN_QUERY);
    // meanwhile the position is unknown: a read waits for the primary, not for a standby
    socket.feed(Query('SELECT 2'));
    await settleAll();
    expect(serverGot(rig, 'SELECT 2')).toBe(-1);
    rig.servers[writer]!.feed(lsnAnswer('0/3000060'));
    await settleAll();
    const during = serverGot(rig, 'SELECT 2');
    expect(port(during)).toBe(PRIMARY);
    rig.servers[during]!.feed(Buffer.concat([Complete('SELECT 1'), Ready('I')]));
    await settleAll();
    // neither standby has replayed 0/3000060 yet: the primary again
    monitored.get(S1)!.replayLsn = 0x3000000n;
    expect(port(await run(rig, socket, 'SELECT 3'))).toBe(PRIMARY);
    // S1 has: it serves the read; S2 has not, so it gets none
    monitored.get(S1)!.replayLsn = 0x3000060n;
    for (let i = 4; i < 8; i++) expect(port(await run(rig, socket, `SELECT ${i}`))).toBe(S1);
    expect(socket.take().toString('latin1')).not.toContain('pooler');
  });

  it('sends a write pipelined behind a read to the primary once the read is answered; the standby never sees it', async () => {
    const { rig } = setup();
    const socket = await loggedInClient(rig);
    socket.feed(Buffer.concat([Query('SELECT 1'), Query('DELETE FROM t')]));
    await settleAll();
    const reader = serverGot(rig, 'SELECT 1');
    expect(rig.serverPorts[reader]).not.toBe(PRIMARY);
    rig.servers[reader]!.feed(Buffer.concat([Complete('SELECT 1'), Ready('I')]));
    await settleAll();
    const writer = serverGot(rig, 'DELETE FROM t');
    expect(rig.serverPorts[writer]).toBe(PRIMARY);
    rig.servers[writer]!.feed(Buffer.concat([Complete('DELETE 0'), Ready('I')]));
    await settleAll();
    // the client got both answers, in order
    expect(socket.take().toString('latin1')).toMatch(/SELECT 1.*DELETE 0/s);
  });

  it('grows the primary pool while a released server reads a commit position', async () => {
    const { rig } = setup(3);
    const [a, b, c] = [await loggedInClient(rig), await loggedInClient(rig), await loggedInClient(rig)];
    const first = await run(rig, a, 'INSERT INTO t VALUES (1)', 'INSERT 0 1');
    expect(rig.servers[first]!.take().toString('latin1')).toContain(LSN_QUERY);
    // the position is not answered yet: of two more writers, one takes that server once it is
    // free, and the other needs a new one now, as if the read were not there
    b.feed(Query('INSERT INTO t VALUES (2)'));
    c.feed(Query('INSERT INTO t VALUES (3)'));
    await settleAll();
    expect(rig.serverPorts.filter((p) => p === PRIMARY)).toHaveLength(2);
  });

  it('with every standby banned, reads go to the primary (replica_fallback = primary) or wait for a standby (= wait)', async () => {
    for (const fallback of ['primary', 'wait'] as const) {
      const { rig, monitored } = setup(2, fallback);
      const socket = await loggedInClient(rig);
      for (const port of [S1, S2]) for (let i = 0; i < 3; i++) monitored.get(port)!.failed('test');
      socket.feed(Query('SELECT 1'));
      await settleAll();
      const at = serverGot(rig, 'SELECT 1');
      if (fallback === 'primary') {
        expect(rig.serverPorts[at]).toBe(PRIMARY);
        continue;
      }
      expect(at).toBe(-1);
      // S1's ban runs out and its probe passes: the next dispatch (the janitor's tick) sends the read there
      const health = monitored.get(S1)!.health;
      health.bannedUntil = 0;
      expect(health.due()).toBe('probe');
      health.checked('probe', true);
      rig.pool.dispatch();
      await settleAll();
      expect(rig.serverPorts[serverGot(rig, 'SELECT 1')]).toBe(S1);
    }
  });

  it('after a RELOAD turns the split off, a client that last read on a standby sends its write to the primary', async () => {
    const { rig } = setup();
    const socket = await loggedInClient(rig);
    expect([S1, S2]).toContain(rig.serverPorts[await run(rig, socket, 'SELECT 1')]);
    rig.settings.read_write_split = false;
    rig.pool.updateDatabase(rig.pool.database, false);
    const writer = await run(rig, socket, 'INSERT INTO t VALUES (1)', 'INSERT 0 1');
    expect(rig.serverPorts[writer]).toBe(PRIMARY);
    expect(socket.take().toString('latin1')).toContain('INSERT 0 1');
  });

  it('sends a text over the 1 MB it reads, pipelined behind a read, to the primary once the read is answered', async () => {
    const { rig } = setup();
    const socket = await loggedInClient(rig);
    const big = `SELECT length('${'x'.repeat(1_500_000)}')`;
    socket.feed(Buffer.concat([Query('SELECT 1'), Query(big), Query('SELECT 3')]));
    await settleAll();
    const reader = serverGot(rig, 'SELECT 1');
    expect(rig.serverPorts[reader]).not.toBe(PRIMARY);
    rig.servers[reader]!.feed(Buffer.concat([Complete('SELECT 1'), Ready('I')]));
    await settleAll();
    const writer = rig.servers.findIndex((s) => s.take().length > 1_500_000);
    expect(rig.serverPorts[writer]).toBe(PRIMARY);
  });

  it('sends a write that arrives after the standby answered everything to the primary, its header cut in two', async () => {
    const { rig } = setup();
    const socket = await loggedInClient(rig);
    const write = Query('DELETE FROM t');
    socket.feed(Buffer.concat([Query('SELECT 1'), write.subarray(0, 1)]));
    await settleAll();
    const reader = serverGot(rig, 'SELECT 1');
    expect(rig.serverPorts[reader]).not.toBe(PRIMARY);
    rig.servers[reader]!.feed(Buffer.concat([Complete('SELECT 1'), Ready('I')]));
    await settleAll();
    // the standby owes nothing when the rest comes: no answer will release it, the hold must
    socket.feed(write.subarray(1));
    await settleAll();
    const writer = serverGot(rig, 'DELETE FROM t');
    expect(rig.serverPorts[writer]).toBe(PRIMARY);
  });
});
