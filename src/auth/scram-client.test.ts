// The SCRAM-SHA-256 client exchange (RFC 7677 vectors) and its refusal of malformed server messages.
import { createHmac, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ScramClient, ScramError } from './scram-client.js';
import { parseScramSecret } from './secrets.js';

// RFC 7677 §3 example exchange: user "user", password "pencil".
const NONCE = 'rOprNGfwEbeRWgbNEkqO';
const SERVER_FIRST = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const CLIENT_FINAL =
  'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
// The RFC's text prints v=6rriTRBi23WpRR/wt/FIbTA6ZqB/KjbgXdy8wNUEQjo=, a known misprint (RFC 7677
// errata): only its first 16 characters are right. This value was recomputed with Python's hmac
// from the RFC's inputs and is the one other SCRAM implementations test against.
const SERVER_FINAL = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';
const MISPRINTED_SERVER_FINAL = 'v=6rriTRBi23WpRR/wt/FIbTA6ZqB/KjbgXdy8wNUEQjo=';
// ClientKey and ServerKey for "pencil" with that salt, computed with Python (see scram-keys.test.ts)
const KEYS = {
  clientKey: Buffer.from('pg/JI9Z+hkSpLRa5btpe9GVrDHJcSEN0viVTVXaZbos=', 'base64'),
  serverKey: Buffer.from('wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=', 'base64'),
};

async function rfcClient(): Promise<ScramClient> {
  const client = new ScramClient({ nonce: NONCE, user: 'user' });
  client.start();
  await client.continue(SERVER_FIRST, 'pencil');
  return client;
}

async function failure(promise: Promise<unknown> | (() => unknown)): Promise<Error> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

describe('ScramClient: RFC 7677 example', () => {
  it('produces the RFC client-first and client-final messages and verifies the server', async () => {
    const client = new ScramClient({ nonce: NONCE, user: 'user' });
    expect(client.start()).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    expect(await client.continue(SERVER_FIRST, 'pencil')).toBe(CLIENT_FINAL);
    expect(client.isComplete).toBe(false);
    client.finish(SERVER_FINAL);
    expect(client.isComplete).toBe(true);
  });

  it('produces the same proof from stored ClientKey and ServerKey instead of the password', async () => {
    const client = new ScramClient({ nonce: NONCE, user: 'user' });
    client.start();
    expect(await client.continue(SERVER_FIRST, KEYS)).toBe(CLIENT_FINAL);
    client.finish(SERVER_FINAL);
    expect(client.isComplete).toBe(true);
  });
});

describe('ScramClient: client-first-message', () => {
  it('sends an empty user name by default, as libpq and PgBouncer do', () => {
    const first = new ScramClient().start();
    expect(first).toMatch(/^n,,n=,r=[A-Za-z0-9+/]{24}$/);
  });

  it('uses a fresh random nonce for each exchange', () => {
    expect(new ScramClient().start()).not.toBe(new ScramClient().start());
  });

  it('escapes = and , in the user name', () => {
    expect(new ScramClient({ nonce: NONCE, user: 'a=b,c' }).start()).toBe(`n,,n=a=3Db=2Cc,r=${NONCE}`);
  });

  it('refuses a nonce that is not printable or holds a comma', () => {
    expect(() => new ScramClient({ nonce: 'a,b' })).toThrow(ScramError);
    expect(() => new ScramClient({ nonce: 'a b' })).toThrow(ScramError);
    expect(() => new ScramClient({ nonce: '' })).toThrow(ScramError);
  });
});

describe('ScramClient: against a secret PostgreSQL 15 wrote', () => {
  // CREATE ROLE alice PASSWORD 'pencil' on PostgreSQL 15 (password_encryption = scram-sha-256)
  const secret = parseScramSecret(
    'SCRAM-SHA-256$4096:PdqPfyjQ7qipbst/acn5PA==$XLv1g8ZxJMuo4zPH3B+UMpAwgnqovNhGBPEs9cVUb8Y=:75VRaH4ZnYyvVf1vmfVqwaZXOIONyOkNNh22wLCI2BM=',
  )!;
  const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();

  it('sends a proof that checks out against StoredKey, and accepts the server signature made from ServerKey', async () => {
    const client = new ScramClient();
    const clientFirstBare = client.start().slice(3);
    const clientNonce = clientFirstBare.slice(clientFirstBare.indexOf('r=') + 2);
    const serverFirst = `r=${clientNonce}serverpart,s=${secret.salt.toString('base64')},i=${secret.iterations}`;
    const clientFinal = await client.continue(serverFirst, 'pencil');

    // what the server does (RFC 5802 §3): recover ClientKey from the proof and hash it
    const [withoutProof, proof] = clientFinal.split(',p=') as [string, string];
    expect(withoutProof).toBe(`c=biws,r=${clientNonce}serverpart`);
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const clientSignature = hmac(secret.storedKey, authMessage);
    const clientKey = Buffer.from(proof, 'base64').map((b, i) => b ^ clientSignature[i]!);
    expect(createHash('sha256').update(clientKey).digest().equals(secret.storedKey)).toBe(true);

    client.finish(`v=${hmac(secret.serverKey, authMessage).toString('base64')}`);
    expect(client.isComplete).toBe(true);
  });
});

describe('ScramClient: a bad server-first-message', () => {
  const cases: [string, string, RegExp][] = [
    ['a nonce that does not start with ours', SERVER_FIRST.replace('r=rOpr', 'r=xOpr'), /nonce does not extend/],
    ['our nonce unchanged', `r=${NONCE},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`, /nonce does not extend/],
    ['a salt that is not base64', SERVER_FIRST.replace('s=W22Z', 's=W2*Z'), /invalid salt/],
    ['an empty salt', SERVER_FIRST.replace('s=W22ZaJ0SNY7soEsUEjb6gQ==', 's='), /invalid salt/],
    ['zero iterations', SERVER_FIRST.replace('i=4096', 'i=0'), /iteration count/],
    ['negative iterations', SERVER_FIRST.replace('i=4096', 'i=-1'), /iteration count/],
    ['non-numeric iterations', SERVER_FIRST.replace('i=4096', 'i=4096x'), /iteration count/],
    ['iterations beyond int', SERVER_FIRST.replace('i=4096', 'i=2147483648'), /iteration count/],
    ['more iterations than pooler derives keys with', SERVER_FIRST.replace('i=4096', 'i=100001'), /100001 SCRAM iterations.*at most 100000/],
    ['attributes out of order', 's=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOx,i=4096', /expected attribute "r"/],
    ['a missing iteration count', SERVER_FIRST.replace(',i=4096', ''), /expected attribute "i"/],
    ['trailing data', `${SERVER_FIRST},x=1`, /unexpected data/],
    ['a mandatory extension', `m=ext,${SERVER_FIRST}`, /unsupported extension/],
    ['an empty message', '', /expected attribute "r"/],
  ];

  it.each(cases)('fails on %s, without the password in the message', async (_what, serverFirst, message) => {
    const client = new ScramClient({ nonce: NONCE });
    client.start();
    const err = await failure(client.continue(serverFirst, 'pencil'));
    expect(err).toBeInstanceOf(ScramError);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('pencil');
    // a failed exchange cannot be resumed
    await expect(client.continue(SERVER_FIRST, 'pencil')).rejects.toThrow(/out of order/);
  });

  it('takes any iteration count with pass-through keys, which derive nothing', async () => {
    const client = new ScramClient({ nonce: NONCE });
    client.start();
    await expect(client.continue(SERVER_FIRST.replace('i=4096', 'i=2000000'), KEYS)).resolves.toMatch(/^c=biws,r=/);
  });

  it('refuses keys of the wrong length', async () => {
    const client = new ScramClient({ nonce: NONCE });
    client.start();
    await expect(client.continue(SERVER_FIRST, { clientKey: Buffer.alloc(16), serverKey: KEYS.serverKey })).rejects.toThrow(/32 bytes/);
  });
});

describe('ScramClient: a bad server-final-message', () => {
  it('throws when the server signature does not match', async () => {
    const client = await rfcClient();
    const err = await failure(() => client.finish(MISPRINTED_SERVER_FINAL));
    expect(err).toBeInstanceOf(ScramError);
    expect(err.message).toMatch(/signature does not match/);
    expect(client.isComplete).toBe(false);
  });

  it('throws when the password was wrong (the server signature is made from another key)', async () => {
    const client = new ScramClient({ nonce: NONCE, user: 'user' });
    client.start();
    await client.continue(SERVER_FIRST, 'pencil2');
    expect(() => client.finish(SERVER_FINAL)).toThrow(/signature does not match/);
  });

  it.each([
    ['an error attribute', 'e=invalid-proof', /server rejected SCRAM authentication: invalid-proof/],
    ['a short signature', 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5n', /not 32 bytes/],
    ['a signature that is not base64', 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G!', /not 32 bytes/],
    ['no verifier', 'x=1', /expected attribute "v"/],
    ['trailing data', `${SERVER_FINAL},x=1`, /unexpected data/],
  ])('throws on %s', async (_what, serverFinal, message) => {
    const client = await rfcClient();
    expect(() => client.finish(serverFinal)).toThrow(message);
    expect(client.isComplete).toBe(false);
  });

  it('keeps a hostile error value printable and short', async () => {
    const client = await rfcClient();
    const err = await failure(() => client.finish(`e=bad\u0000\n${'x'.repeat(500)}`));
    expect(err.message).toMatch(/: bad\?\?x+$/);
    expect(err.message.length).toBeLessThan(200);
  });
});

describe('ScramClient: order of steps', () => {
  it('refuses continue() before start(), finish() before continue(), and a second start()', async () => {
    const client = new ScramClient({ nonce: NONCE });
    await expect(client.continue(SERVER_FIRST, 'pencil')).rejects.toThrow(/continue\(\) called out of order/);
    expect(() => client.finish(SERVER_FINAL)).toThrow(/finish\(\) called out of order/);
    client.start();
    expect(() => client.start()).toThrow(/start\(\) called out of order/);
  });

  it('refuses a second continue() while the first is deriving keys', async () => {
    const client = new ScramClient({ nonce: NONCE, user: 'user' });
    client.start();
    const first = client.continue(SERVER_FIRST, 'pencil');
    await expect(client.continue(SERVER_FIRST, 'pencil')).rejects.toThrow(/out of order \(exchange is deriving\)/);
    expect(await first).toBe(CLIENT_FINAL);
  });

  it('derives keys off the event loop: a setImmediate queued after continue() runs before it resolves', async () => {
    const client = new ScramClient({ nonce: NONCE });
    client.start();
    // With a synchronous PBKDF2 the work would be done inside continue() and its promise would
    // settle in the microtask queue, ahead of any setImmediate.
    const reply = client.continue(SERVER_FIRST.replace('i=4096', 'i=100000'), 'pencil');
    let immediateRan = false;
    setImmediate(() => (immediateRan = true));
    await reply;
    expect(immediateRan).toBe(true);
  });
});
