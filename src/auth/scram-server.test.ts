// The server side of SCRAM against RFC 7677's example and against our own client, for plaintext
// and SCRAM secrets, wrong passwords, unknown users and malformed messages.
import { describe, expect, it } from 'vitest';
import { ScramClient, ScramError } from './scram-client.js';
import { createScramSecret, deriveScramKeys } from './scram-keys.js';
import { ScramServerExchange } from './scram-server.js';
import { classifySecret, parseScramSecret } from './secrets.js';

/** a full exchange between our client (with `password`) and a server holding `secret` */
async function exchange(secret: string | null, password: string) {
  const server = new ScramServerExchange(secret === null ? null : classifySecret(secret));
  const client = new ScramClient();
  const serverFirst = await server.first(client.start());
  const result = server.final(await client.continue(serverFirst, password));
  client.finish(result.serverFinal);
  return { client, result };
}

describe('ScramServerExchange', () => {
  it('reproduces RFC 7677 section 3 byte for byte', async () => {
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    const keys = await deriveScramKeys('pencil', salt, 4096);
    const server = new ScramServerExchange({ kind: 'scram', iterations: 4096, salt, storedKey: keys.storedKey, serverKey: keys.serverKey }, { serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' });
    expect(await server.first('n,,n=user,r=rOprNGfwEbeRWgbNEkqO')).toBe('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    const result = server.final('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    expect(result.serverFinal).toBe('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
    expect(result.clientKey).toEqual(keys.clientKey);
  });

  it('accepts the right password against a plaintext secret and a SCRAM secret, and the client verifies the server', async () => {
    expect((await exchange('s3cret', 's3cret')).client.isComplete).toBe(true);
    const stored = await createScramSecret('s3cret');
    const { client, result } = await exchange(stored, 's3cret');
    expect(client.isComplete).toBe(true);
    expect(result.serverKey).toEqual(parseScramSecret(stored)!.serverKey);
  });

  it.each([
    ['a wrong password, plaintext secret', 's3cret', 'nope'],
    ['a wrong password, SCRAM secret', null, 'nope'],
    ['an unknown user', undefined, 'anything'],
    ['an md5 secret', 'md5' + 'a'.repeat(32), 'anything'],
    // md5 and plain refuse an empty password, so SCRAM must not accept its proof either
    ['an empty password against an empty plaintext secret', '', ''],
  ])('refuses %s at the proof, after a normal-looking server-first-message', async (_case, secret, password) => {
    const stored = secret === null ? await createScramSecret('s3cret') : (secret ?? null);
    await expect(exchange(stored, password)).rejects.toThrow('SCRAM proof does not match');
  });

  it.each([
    ['p=tls-server-end-point,,n=,r=abc', 'the client selected SCRAM-SHA-256 without channel binding'],
    ['x,,n=,r=abc', 'malformed SCRAM client-first-message'],
    ['n,,n=,r=', 'malformed SCRAM client-first-message'],
  ])('refuses client-first-message %j', async (message, error) => {
    await expect(new ScramServerExchange(classifySecret('pw')).first(message)).rejects.toThrow(error);
  });

  it('refuses a final message with another nonce or channel binding', async () => {
    const server = new ScramServerExchange(classifySecret('pw'));
    const serverFirst = await server.first('n,,n=,r=abc');
    const nonce = /r=([^,]+)/.exec(serverFirst)![1];
    expect(() => server.final(`c=biws,r=${nonce}x,p=${'A'.repeat(43)}=`)).toThrow(ScramError);
    expect(() => server.final(`c=eSws,r=${nonce},p=${'A'.repeat(43)}=`)).toThrow('channel binding check failed');
  });
});

describe('SCRAM-SHA-256-PLUS (tls-server-end-point)', () => {
  const binding = Buffer.from('certificate hash of the pooler', 'utf8');

  it('expects c= to carry the gs2 header and the certificate hash', async () => {
    const server = new ScramServerExchange(classifySecret('pw'), { channelBinding: binding, plus: true });
    const serverFirst = await server.first('p=tls-server-end-point,,n=,r=abc');
    const nonce = /r=([^,]+)/.exec(serverFirst)![1];
    const good = Buffer.concat([Buffer.from('p=tls-server-end-point,,'), binding]).toString('base64');
    // the right binding gets as far as the proof; a binding of another certificate does not
    expect(() => server.final(`c=${good},r=${nonce},p=${'A'.repeat(43)}=`)).toThrow('SCRAM proof does not match');
    const other = Buffer.concat([Buffer.from('p=tls-server-end-point,,'), Buffer.from('another')]).toString('base64');
    expect(() => server.final(`c=${other},r=${nonce},p=${'A'.repeat(43)}=`)).toThrow('channel binding check failed');
  });

  it.each([
    ['n,,n=,r=abc', true, 'does not include channel binding data'],
    ['p=tls-unique,,n=,r=abc', true, 'unsupported SCRAM channel-binding type "tls-unique"'],
    // "y" over TLS: someone removed -PLUS from the mechanisms we offered
    ['y,,n=,r=abc', false, 'SCRAM channel binding negotiation error'],
  ])('refuses %j (plus = %s)', async (message, plus, error) => {
    await expect(new ScramServerExchange(classifySecret('pw'), { channelBinding: binding, plus }).first(message)).rejects.toThrow(error);
  });
});

describe('derived keys for plaintext passwords', () => {
  it('are derived once per password: a second login gets the same salt, a different password another', async () => {
    const saltOf = async (password: string) => /s=([^,]+)/.exec(await new ScramServerExchange(classifySecret(password)).first('n,,n=,r=abc'))![1];
    expect(await saltOf('cached-pw')).toBe(await saltOf('cached-pw'));
    expect(await saltOf('other-pw')).not.toBe(await saltOf('cached-pw'));
  });
});

describe('unknown users', () => {
  it('get the same made-up salt on every try, so the salt does not reveal that they do not exist', async () => {
    const saltOf = async (user: string) => /s=([^,]+)/.exec(await new ScramServerExchange(null, { user }).first('n,,n=,r=abc'))![1];
    expect(await saltOf('ghost')).toBe(await saltOf('ghost'));
    expect(await saltOf('ghost')).not.toBe(await saltOf('phantom'));
  });
});
