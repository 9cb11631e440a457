// Frontend messages of the extended query protocol, built from wire(), and a raw-client login:
// for tests that send exact pipelines of Parse/Bind/Describe/Execute/Close/Sync/Flush.
import { wire } from '../../src/testing/wire.js';
import { RawClient, errorFields, type RawMessage } from './raw-client.js';

export const query = (sql: string) => wire().cstring(sql).message('Q');
export const parse = (name: string, sql: string, types: number[] = []) => {
  const w = wire().cstring(name).cstring(sql).int16(types.length);
  for (const oid of types) w.int32(oid);
  return w.message('P');
};
export const bind = (portal: string, statement: string, params: string[] = []) => {
  const w = wire().cstring(portal).cstring(statement).int16(0).int16(params.length);
  for (const p of params) w.int32(Buffer.byteLength(p)).bytes(p);
  return w.int16(0).message('B');
};
export const describe = (kind: 'S' | 'P', name: string) => wire().bytes(kind).cstring(name).message('D');
export const execute = (portal = '', rows = 0) => wire().cstring(portal).int32(rows).message('E');
export const close = (kind: 'S' | 'P', name: string) => wire().bytes(kind).cstring(name).message('C');
export const sync = () => wire().message('S');
export const flush = () => wire().message('H');

export async function login(port: number, database: string, user = 'postgres'): Promise<RawClient> {
  const client = await RawClient.connect(port);
  client.send(wire().int32(196608).cstring('user').cstring(user).cstring('database').cstring(database).bytes('\0').untyped());
  const messages = await client.readUntilReady();
  if (messages.at(-1)?.code !== 'Z') throw new Error(`login failed: ${messages.map((m) => m.body.toString()).join(' ')}`);
  return client;
}

/** the replies up to the `readyCount`-th ReadyForQuery */
export async function exchange(client: RawClient, bytes: Buffer, readyCount = 1): Promise<RawMessage[]> {
  client.send(bytes);
  const all: RawMessage[] = [];
  for (let i = 0; i < readyCount; i++) all.push(...(await client.readUntilReady()));
  return all;
}

/** messages as comparable text: errors by SQLSTATE and message only, everything else byte for byte */
export function transcript(messages: RawMessage[]): string[] {
  return messages.map((m) => {
    if (m.code !== 'E') return `${m.code} ${m.body.toString('latin1')}`;
    const fields = errorFields(m.body);
    return `E ${fields.C} ${fields.M}`;
  });
}
