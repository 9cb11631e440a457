// Wire-level behaviour a driver depends on: SSL and GSS requests refused with 'N', protocol version
// negotiation, startup parameters refused or ignored as configured, Terminate, and hostile
// framing that must end only the offending client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wire } from '../src/testing/wire.js';
import { getPostgres } from './harness/context.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { errorFields, RawClient } from './support/raw-client.js';

const postgres = getPostgres();
let pooler: PoolerProcess;

beforeAll(async () => {
  pooler = await startPooler({
    settings: { auth_type: 'trust', pool_mode: 'transaction', ignore_startup_parameters: 'extra_float_digits' },
    databases: { app: `host=${postgres.host} port=${postgres.port} dbname=pooler_test` },
  });
});

afterAll(async () => {
  await pooler?.stop();
});

function startup(parameters: Record<string, string>, version = 196608): Buffer {
  const w = wire().int32(version);
  for (const [k, v] of Object.entries(parameters)) w.cstring(k).cstring(v);
  return w.bytes('\0').untyped();
}

describe('startup', () => {
  it('answers SSLRequest and GSSENCRequest with N, then accepts a plain startup', async () => {
    const client = await RawClient.connect(pooler.port);
    client.send(wire().int32(80877103).untyped());
    expect((await client.readBytes(1)).toString()).toBe('N');
    client.send(wire().int32(80877104).untyped());
    expect((await client.readBytes(1)).toString()).toBe('N');
    client.send(startup({ user: 'postgres', database: 'app' }));
    const login = await client.readUntilReady();
    expect(login.map((m) => m.code)).toContain('K');
    expect(login.at(-1)).toMatchObject({ code: 'Z' });
    client.close();
  });

  it('negotiates protocol 3.2 and _pq_ options down to 3.0', async () => {
    const client = await RawClient.connect(pooler.port);
    client.send(startup({ user: 'postgres', database: 'app', '_pq_.compression': 'on' }, (3 << 16) | 2));
    const first = await client.readMessage();
    expect(first?.code).toBe('v');
    expect(first!.body.readInt32BE(0)).toBe(3 << 16);
    expect(first!.body.readInt32BE(4)).toBe(1);
    expect(first!.body.toString('utf8', 8, first!.body.length - 1)).toBe('_pq_.compression');
    const rest = await client.readUntilReady();
    expect(rest.at(-1)?.code).toBe('Z');
    client.close();
  });

  it('takes any startup parameter as a setting for the session, as PostgreSQL does, and one PostgreSQL does not know fails with its error', async () => {
    const client = await RawClient.connect(pooler.port);
    client.send(startup({ user: 'postgres', database: 'app', search_path: 'x,public' }));
    expect((await client.readUntilReady()).at(-1)?.code).toBe('Z');
    client.send(wire().cstring('SHOW search_path').message('Q'));
    const shown = await client.readUntilReady();
    expect(shown.find((m) => m.code === 'D')?.body.toString('latin1')).toContain('x, public');
    client.close();
    // PostgreSQL refuses an unknown name at login; the pooler learns of it when the setting is
    // replayed on a server, before the first query, and ends the client with the server's error
    const typo = await RawClient.connect(pooler.port);
    typo.send(startup({ user: 'postgres', database: 'app', serach_path: 'x' }));
    expect((await typo.readUntilReady()).at(-1)?.code).toBe('Z');
    typo.send(wire().cstring('SELECT 1').message('Q'));
    const error = await typo.readMessage();
    expect(error?.code).toBe('E');
    const fields = errorFields(error!.body);
    expect(fields.C).toBe('42704');
    expect(fields.M).toContain('unrecognized configuration parameter "serach_path"');
    typo.close();
  });

  it('ignores parameters listed in ignore_startup_parameters (extra_float_digits, as JDBC sends)', async () => {
    const client = await RawClient.connect(pooler.port);
    client.send(startup({ user: 'postgres', database: 'app', extra_float_digits: '3' }));
    const login = await client.readUntilReady();
    expect(login.at(-1)?.code).toBe('Z');
    client.close();
  });

  it('refuses an unknown database with 3D000', async () => {
    const other = await startPooler({
      settings: { auth_type: 'trust' },
      databases: { only: `host=${postgres.host} port=${postgres.port}` },
    });
    const client = await RawClient.connect(other.port);
    client.send(startup({ user: 'postgres', database: 'missing' }));
    const error = await client.readMessage();
    expect(errorFields(error!.body)).toMatchObject({ C: '3D000', M: 'no such database: missing' });
    client.close();
    await other.stop();
  });
});

describe('hostile input', () => {
  it('closes a client whose startup packet claims more than 10000 bytes, without a word as PostgreSQL, and only that client', async () => {
    const good = await RawClient.connect(pooler.port);
    good.send(startup({ user: 'postgres', database: 'app' }));
    await good.readUntilReady();
    const bad = await RawClient.connect(pooler.port);
    const header = Buffer.alloc(8);
    header.writeInt32BE(20000, 0);
    header.writeInt32BE(196608, 4);
    bad.send(header);
    expect(await bad.readMessage()).toBeNull();
    expect(bad.closed).toBe(true);
    good.send(wire().cstring('SELECT 1').message('Q'));
    const reply = await good.readUntilReady();
    expect(reply.map((m) => m.code)).toEqual(['T', 'D', 'C', 'Z']);
    good.close();
    bad.close();
  });

  it('closes a client that sends a message with an impossible length', async () => {
    const client = await RawClient.connect(pooler.port);
    client.send(startup({ user: 'postgres', database: 'app' }));
    await client.readUntilReady();
    client.send(Buffer.from([0x51, 0, 0, 0, 1])); // 'Q' with length 1
    const error = await client.readMessage();
    expect(errorFields(error!.body)).toMatchObject({ C: '08P01' });
    expect(await client.readMessage()).toBeNull();
  });

  it('answers Terminate by closing without touching the server', async () => {
    const client = await RawClient.connect(pooler.port);
    client.send(startup({ user: 'postgres', database: 'app' }));
    await client.readUntilReady();
    client.send(wire().message('X'));
    expect(await client.readMessage()).toBeNull();
    expect(client.closed).toBe(true);
  });
});
