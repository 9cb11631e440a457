// The rewriting logic without a server: names rewritten to shared ones, Parse injected where a
// server lacks the statement, the pooler's own replies placed in order, and an error undoing what
// the server skipped up to Sync.
import { TxStatus } from '../protocol/codes.js';
import { describe, expect, it } from 'vitest';
import { Disposition } from '../net/packet-stream.js';
import { wire } from '../testing/wire.js';
import { ClientStatements } from './client-statements.js';
import { forgetsAllStatements, replaceName } from './messages.js';
import { ReplyQueue, Request, Action } from './reply-queue.js';
import { ServerStatements, type StatementHost } from './server-statements.js';

const parse = (name: string, sql: string) => wire().cstring(name).cstring(sql).int16(0).message('P');
const bind = (statement: string) => wire().cstring('').cstring(statement).int16(0).int16(1).int32(1).bytes('7').int16(0).message('B');
const reply = (code: string, body = '') => wire().bytes(body).message(code);
const S = 0x53; // Sync
const E = 0x45; // Execute

/** a server (what the client's stream injects toward it) and a client (what reaches its socket) */
function rig(capacity = 10) {
  const toServer: Buffer[] = [];
  const toClient: string[] = [];
  const makeHost = (): StatementHost => ({
    replyFilter: null,
    stream: { inject: (m: Buffer) => void toClient.push(m.toString('latin1', 0, 1)) },
    closeNeeded: false,
    txStatus: TxStatus.Idle,
  });
  const host = makeHost();
  const counters = { clientParses: 0, serverParses: 0, binds: 0 };
  const newClient = () => {
    const client = new ClientStatements(
      { stream: { inject: (m: Buffer) => void toServer.push(m) }, socket: { write: (m: Buffer) => (toClient.push(m.toString('latin1', 0, 1)), true) } },
      counters,
      capacity,
    );
    client.link(host);
    return client;
  };
  const send = (client: ClientStatements, message: Buffer) => client.onMessage(message[0]!, message, 0, message.length);
  /** a server reply: what the filter does with it, and the forwarded reply itself when it passes */
  const answer = (message: Buffer, server = host) => {
    const disposition = (server.replyFilter as ServerStatements).onReply(message[0]!, message, 0, message.length, false);
    if (disposition === Disposition.Forward) toClient.push(message.toString('latin1', 0, 1));
  };
  return { host, makeHost, toServer, toClient, counters, newClient, send, answer };
}

describe('prepared statements', () => {
  it('rewrites a named Parse and Bind to the shared server name', () => {
    const { toServer, newClient, send, counters } = rig();
    const client = newClient();
    expect(send(client, parse('mine', 'SELECT $1::int'))).toBe(Disposition.Skip);
    expect(send(client, bind('mine'))).toBe(Disposition.Skip);
    const [parsed, bound] = toServer.map((m) => m.toString('latin1'));
    const serverName = /POOLER_[0-9a-f]{12}_\d+/.exec(parsed!)![0];
    expect(parsed).toContain(`${serverName}\0SELECT $1::int\0`);
    expect(bound).toContain(`\0${serverName}\0`);
    expect(bound!.endsWith('7\0\0')).toBe(true);
    expect(counters).toEqual({ clientParses: 1, serverParses: 1, binds: 1 });
  });

  it('answers ParseComplete itself for a statement the server has, after the replies owed before it', () => {
    const { toServer, toClient, newClient, send, answer, host } = rig();
    const first = newClient();
    send(first, parse('a', 'SELECT 1'));
    first.onHeader(S);
    answer(reply('1'));
    answer(reply('Z', 'I'));
    first.unlink();
    const second = newClient();
    toClient.length = 0;
    send(second, bind('') /* unnamed: passes through */);
    second.onHeader(E);
    send(second, parse('b', 'SELECT 1'));
    second.onHeader(S);
    expect(toServer.length).toBe(1);
    answer(reply('2'));
    answer(reply('C', 'SELECT 1\0'));
    answer(reply('Z', 'I'));
    expect(toClient).toEqual(['2', 'C', '1', 'Z']);
    expect((host.replyFilter as ServerStatements).idle).toBe(true);
  });

  it('injects a Parse before a Bind on a server that lacks the statement and swallows its ParseComplete', () => {
    const { toServer, toClient, newClient, send, answer, makeHost } = rig();
    const client = newClient();
    send(client, parse('a', 'SELECT 2'));
    client.onHeader(S);
    answer(reply('1'));
    answer(reply('Z', 'I'));
    client.unlink();
    const other = makeHost();
    client.link(other);
    toServer.length = 0;
    toClient.length = 0;
    send(client, bind('a'));
    expect(toServer.map((m) => String.fromCharCode(m[0]!))).toEqual(['P', 'B']);
    answer(reply('1'), other);
    answer(reply('2'), other);
    expect(toClient).toEqual(['2']);
    expect((other.replyFilter as ServerStatements).statementCount).toBe(1);
  });

  it('undoes, on an error, the Parse the server skipped before Sync', () => {
    const { newClient, send, answer, host } = rig();
    const client = newClient();
    client.onHeader(E);
    send(client, parse('later', 'SELECT 3'));
    client.onHeader(S);
    answer(reply('E', 'SERROR\0C22012\0Mdivision by zero\0\0'));
    expect(client.names.has('later')).toBe(false);
    expect((host.replyFilter as ServerStatements).statementCount).toBe(0);
    answer(reply('Z', 'I'));
    expect((host.replyFilter as ServerStatements).idle).toBe(true);
  });

  it('evicts the least recently used statement with a Close beyond capacity', () => {
    const { toServer, newClient, send, host } = rig(2);
    const client = newClient();
    for (const n of [1, 2, 3]) send(client, parse(`s${n}`, `SELECT ${n}`));
    expect(toServer.map((m) => String.fromCharCode(m[0]!))).toEqual(['P', 'P', 'C', 'P']);
    expect((host.replyFilter as ServerStatements).statementCount).toBe(2);
  });
});

describe('ReplyQueue', () => {
  it('keeps order across growth and removal in the middle', () => {
    const queue = new ReplyQueue();
    for (let n = 0; n < 40; n++) queue.push(n % 2 === 0 ? Request.Execute : Request.Sync, Action.Forward, 0, null, `e${n}`);
    queue.shift();
    queue.removeAt(1);
    expect(queue.size).toBe(38);
    expect([0, 1, 2].map((n) => queue.name(queue.index(n)))).toEqual(['e1', 'e3', 'e4']);
  });
});

describe('messages', () => {
  it('replaces a name inside a message and fixes its length', () => {
    const message = bind('short');
    const rewritten = replaceName(message, 0, message.length, 6, 11, Buffer.from('a_longer_name'));
    expect(rewritten.readUInt32BE(1)).toBe(rewritten.length - 1);
    expect(rewritten.toString('latin1')).toContain('\0a_longer_name\0');
  });

  it('recognises DISCARD ALL and DEALLOCATE ALL, nothing else', () => {
    const tag = (text: string) => wire().cstring(text).message('C');
    for (const [text, expected] of [['DISCARD ALL', true], ['DEALLOCATE ALL', true], ['DEALLOCATE', false], ['SELECT 1', false]] as const) {
      const message = tag(text);
      expect(forgetsAllStatements(message, 0, message.length)).toBe(expected);
    }
  });
});
