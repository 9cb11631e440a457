// Security defaults through the real pooler (issue 16): auth_type = any without a forced user
// does not start; SCRAM refuses an empty password as md5 and plain do; a server that skips its
// SCRAM signature never gets a client's query; parameter SETs arrive exactly with
// standard_conforming_strings = off; the container image's defaults admit no one by trust.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ScramClient } from '../src/auth/scram-client.js';
import { ScramServerExchange } from '../src/auth/scram-server.js';
import { classifySecret } from '../src/auth/secrets.js';
import {
  authenticationOk,
  authenticationSasl,
  authenticationSaslContinue,
  backendKeyData,
  parameterStatus,
  readyForQueryIdle,
} from '../src/protocol/backend-messages.js';
import { wire } from '../src/testing/wire.js';
import { getPostgres } from './harness/context.js';
import { cli } from './support/cli.js';
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

/**
 * A PostgreSQL impostor: it runs SCRAM up to our proof, then says AuthenticationOk and
 * ReadyForQuery in one write without the AuthenticationSASLFinal that would prove it knows the
 * password. Records the type of the first message it receives after that, and hangs up.
 */
async function impostor(): Promise<{ port: number; afterLogin: string[]; close(): void }> {
  const afterLogin: string[] = [];
  const server = net.createServer((socket) => {
    let buffer = Buffer.alloc(0);
    let stage: 'startup' | 'initial' | 'response' | 'in' = 'startup';
    const exchange = new ScramServerExchange(classifySecret('whatever the server likes'));
    socket.on('error', () => undefined);
    socket.on('data', async (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (stage === 'startup') {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const sslRequest = buffer.readInt32BE(4) === 80877103;
          buffer = buffer.subarray(length);
          if (sslRequest) socket.write('N');
          else {
            stage = 'initial';
            socket.write(authenticationSasl(['SCRAM-SHA-256']));
          }
          continue;
        }
        if (buffer.length < 5 || buffer.length < 1 + buffer.readInt32BE(1)) return;
        const message = buffer.subarray(0, 1 + buffer.readInt32BE(1));
        buffer = buffer.subarray(message.length);
        if (stage === 'initial') {
          stage = 'response';
          const end = message.indexOf(0, 5);
          socket.write(authenticationSaslContinue(await exchange.first(message.toString('utf8', end + 5))));
        } else if (stage === 'response') {
          stage = 'in';
          socket.write(Buffer.concat([authenticationOk, parameterStatus('server_version', '15.0'), backendKeyData(1, 2), readyForQueryIdle]));
        } else {
          // it cannot answer: recording what came is enough, and the client must not hang on it
          afterLogin.push(String.fromCharCode(message[0]!));
          socket.destroy();
          return;
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, afterLogin, close: () => server.close() };
}

describe('SCRAM toward servers', () => {
  it('fails the login of a server that skips AuthenticationSASLFinal, and sends it no query', async () => {
    const fake = await impostor();
    try {
      const pooler = track(
        await startPooler({
          settings: { auth_type: 'trust', pool_mode: 'transaction' },
          databases: { app: `host=127.0.0.1 port=${fake.port} dbname=app user=app password=app-password` },
        }),
      );
      const client = new pg.Client({ connectionString: pooler.url('app', 'anyone') });
      client.on('error', () => undefined);
      const outcome = await client.connect().then(
        () => client.query('SELECT 1').then(() => 'query answered', (error: Error & { code?: string }) => `${error.code}: ${error.message}`),
        (error: Error & { code?: string }) => `${error.code}: ${error.message}`,
      );
      expect(outcome).toMatch(/^08006: .*AuthenticationOk before a valid AuthenticationSASLFinal/);
      expect(fake.afterLogin.filter((code) => code !== 'X')).toEqual([]);
      await client.end().catch(() => undefined);
    } finally {
      fake.close();
    }
  });
});

describe('session parameters on a server with standard_conforming_strings = off', () => {
  it('arrive exactly as each client gave them, backslashes and quotes included', async () => {
    await postgres.createDatabase('pooler_sco_off');
    await postgres.psql('ALTER DATABASE pooler_sco_off SET standard_conforming_strings = off');
    // one server for two clients, so every switch between them runs the SET
    const pooler = track(
      await startPooler({
        settings: { auth_type: 'trust', pool_mode: 'transaction', default_pool_size: 1 },
        databases: { app: `host=${postgres.host} port=${postgres.port} dbname=pooler_sco_off` },
      }),
    );
    const names = ["a\\' ; select 1 --", "b'' \\\\; select 2 -- \\"];
    const clients = names.map((name) => new pg.Client({ connectionString: pooler.url('app'), application_name: name }));
    for (const client of clients) await client.connect();
    try {
      expect((await clients[0]!.query('SHOW standard_conforming_strings')).rows[0].standard_conforming_strings).toBe('off');
      for (const round of [0, 1]) {
        for (const [i, client] of clients.entries()) {
          const { rows } = await client.query('SHOW application_name');
          expect(rows[0].application_name, `client ${i}, round ${round}`).toBe(names[i]);
        }
      }
    } finally {
      for (const client of clients) await client.end();
    }
  });
});

/** the variables the image's ENV instruction sets */
function dockerfileEnv(): Record<string, string> {
  const dockerfile = readFileSync(join(import.meta.dirname, '..', 'deploy', 'docker', 'Dockerfile'), 'utf8');
  const instruction = /^ENV ((?:.*\\\n)*.*)$/m.exec(dockerfile)![1]!;
  return Object.fromEntries(instruction.split(/\s+/).filter((word) => word.includes('=')).map((word) => word.split('=', 2) as [string, string]));
}

describe('the container image with only DATABASE_URL', () => {
  it('refuses to start when the URL has no password, rather than trusting everyone on 0.0.0.0', async () => {
    expect(dockerfileEnv().POOLER_LISTEN_ADDR).toBe('0.0.0.0');
    const env = { ...dockerfileEnv(), DATABASE_URL: `postgres://postgres@${postgres.host}:${postgres.port}/pooler_test` };
    const result = await cli(['check-config'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/listen_addr = 0\.0\.0\.0 .* the default would be trust.*Set POOLER_AUTH_TYPE/);
  });

  it('uses md5 when the URL has a password, and keeps metrics on loopback', async () => {
    const env = { ...dockerfileEnv(), DATABASE_URL: `postgres://app:secret@${postgres.host}:${postgres.port}/pooler_test` };
    const result = await cli(['check-config'], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^\s*auth_type\s+md5\s/m);
    expect(result.stdout).toMatch(/^\s*metrics_listen_addr\s+127\.0\.0\.1\s+default/m);
  });
});
