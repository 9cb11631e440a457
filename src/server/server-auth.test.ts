// ServerAuthenticator against scripted server bytes: a SCRAM server must prove itself in
// AuthenticationSASLFinal before AuthenticationOk counts, and cannot ask for an iteration count that
// would burn our CPU.
import { describe, expect, it } from 'vitest';
import { createScramSecret } from '../auth/scram-keys.js';
import { ScramServerExchange } from '../auth/scram-server.js';
import { classifySecret } from '../auth/secrets.js';
import { SqlState } from '../errors.js';
import {
  authenticationOk,
  authenticationSasl,
  authenticationSaslContinue,
  authenticationSaslFinal,
} from '../protocol/backend-messages.js';
import { ServerAuthenticator } from './server-auth.js';

const PASSWORD = 'server-side secret';

/** data of a SASLInitialResponse ('p': mechanism, int32 length, data) or of a SASLResponse ('p': data) */
function saslData(message: Buffer, initial: boolean): string {
  if (!initial) return message.toString('utf8', 5);
  const end = message.indexOf(0, 5);
  return message.toString('utf8', end + 5);
}

/**
 * Runs our side up to the client-final-message against a server holding `serverSecret` (a
 * password or a SCRAM secret); `editFirst` may change the server-first-message. Returns what the server would send as its
 * signature, and the authenticator, waiting for SASLFinal.
 */
async function upToFinal(serverSecret = PASSWORD, editFirst: (first: string) => string = (first) => first) {
  const auth = new ServerAuthenticator('app', PASSWORD);
  const server = new ScramServerExchange(classifySecret(serverSecret));
  const initial = await auth.handle(authenticationSasl(['SCRAM-SHA-256']));
  const serverFirst = editFirst(await server.first(saslData(initial!, true)));
  const clientFinal = await auth.handle(authenticationSaslContinue(serverFirst));
  const serverFinal = (() => {
    try {
      return server.final(saslData(clientFinal!, false)).serverFinal;
    } catch {
      // the passwords differ: what a server that does not know ours would have to make up
      return `v=${Buffer.alloc(32, 7).toString('base64')}`;
    }
  })();
  return { auth, serverFinal };
}

async function loginFailure(step: Promise<unknown>): Promise<{ message: string; sqlstate?: string }> {
  try {
    await step;
  } catch (error) {
    return error as { message: string; sqlstate?: string };
  }
  throw new Error('expected the login to fail');
}

describe('ServerAuthenticator: SCRAM toward the server', () => {
  it('logs in when the server proves its signature before AuthenticationOk', async () => {
    const { auth, serverFinal } = await upToFinal();
    expect(await auth.handle(authenticationSaslFinal(serverFinal))).toBeNull();
    expect(await auth.handle(authenticationOk)).toBeNull();
  });

  it('refuses AuthenticationOk from a server that skips AuthenticationSASLFinal', async () => {
    const { auth } = await upToFinal();
    const error = await loginFailure(auth.handle(authenticationOk));
    expect(error.sqlstate).toBe(SqlState.connectionFailure);
    expect(error.message).toMatch(/AuthenticationOk before .*SASLFinal/);
  });

  it('answers unprovenLogin() synchronously: until SASLFinal was verified, and after a bad one', async () => {
    const good = await upToFinal();
    expect(good.auth.unprovenLogin()?.sqlstate).toBe(SqlState.connectionFailure);
    await good.auth.handle(authenticationSaslFinal(good.serverFinal));
    expect(good.auth.unprovenLogin()).toBeNull();
    const bad = await upToFinal('another password');
    await loginFailure(bad.auth.handle(authenticationSaslFinal(bad.serverFinal)));
    expect(bad.auth.unprovenLogin()?.message).toMatch(/never proved/);
    expect(new ServerAuthenticator('app', PASSWORD).unprovenLogin()).toBeNull();
  });

  it('refuses AuthenticationOk before the exchange got as far as the proof', async () => {
    const auth = new ServerAuthenticator('app', PASSWORD);
    await auth.handle(authenticationSasl(['SCRAM-SHA-256']));
    expect((await loginFailure(auth.handle(authenticationOk))).sqlstate).toBe(SqlState.connectionFailure);
  });

  it('refuses a wrong server signature, and the AuthenticationOk that follows it', async () => {
    const { auth, serverFinal } = await upToFinal('another password');
    const error = await loginFailure(auth.handle(authenticationSaslFinal(serverFinal)));
    expect(error.sqlstate).toBe(SqlState.connectionFailure);
    expect(error.message).toMatch(/server signature does not match/);
    expect((await loginFailure(auth.handle(authenticationOk))).sqlstate).toBe(SqlState.connectionFailure);
  });

  it.each([
    ['above the bound', 'i=100001', /100001 SCRAM iterations.*at most 100000/],
    ['zero', 'i=0', /iteration count/],
  ])('refuses an iteration count %s before deriving any key', async (_case, iterations, message) => {
    const started = Date.now();
    const error = await loginFailure(upToFinal(PASSWORD, (first) => first.replace(/i=\d+/, iterations)));
    expect(error.sqlstate).toBe(SqlState.connectionFailure);
    expect(error.message).toMatch(message);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('still logs in to a server whose secret has the bound itself', async () => {
    const { auth, serverFinal } = await upToFinal(await createScramSecret(PASSWORD, 100_000));
    await expect(auth.handle(authenticationSaslFinal(serverFinal))).resolves.toBeNull();
    await expect(auth.handle(authenticationOk)).resolves.toBeNull();
  });
});

describe('ServerAuthenticator: other methods', () => {
  it('accepts AuthenticationOk at once from a server that asks for nothing (trust)', async () => {
    expect(await new ServerAuthenticator('app', PASSWORD).handle(authenticationOk)).toBeNull();
  });
});
