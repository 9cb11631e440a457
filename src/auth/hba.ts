// auth_hba_file: pg_hba.conf rules in the subset PgBouncer reads — local/host/hostssl/hostnossl;
// databases all, sameuser, replication, names, @file; users all, names, @file; addresses all,
// CIDR or address + mask; methods trust, reject, md5, password, scram-sha-256, cert, peer; map=.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, isAbsolute, join } from 'node:path';
import type { AuthType } from '../config/types.js';

export type HbaMethod = Exclude<AuthType, 'hba' | 'any'> | 'reject' | 'peer';

export interface HbaRule {
  line: number;
  type: 'local' | 'host' | 'hostssl' | 'hostnossl';
  databases: ReadonlySet<string>;
  users: ReadonlySet<string>;
  /** null for `all` (and for local lines) */
  addresses: net.BlockList | null;
  method: HbaMethod;
  /** ident map name (map=), for cert and peer */
  map: string | null;
}

/** what a connection looks like to the rules */
export interface HbaConnection {
  local: boolean;
  tls: boolean;
  database: string;
  user: string;
  replication: boolean;
  /** the client's IP address (IPv4-mapped IPv6 is treated as IPv4) */
  address: string;
}

export class HbaSyntaxError extends Error {
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.name = 'HbaSyntaxError';
  }
}

const METHODS: Record<string, HbaMethod> = {
  trust: 'trust',
  reject: 'reject',
  md5: 'md5',
  password: 'plain',
  'scram-sha-256': 'scram-sha-256',
  cert: 'cert',
  peer: 'peer',
};

/** a word of a field: its text, and whether it was quoted (then "all" is a name, not the keyword) */
interface Token {
  text: string;
  quoted: boolean;
}

/** split one line into fields; a field is a comma-separated list of tokens */
function tokenize(line: string): Token[][] {
  const fields: Token[][] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    if (i >= line.length || line[i] === '#') break;
    const field: Token[] = [];
    for (;;) {
      let text = '';
      let quoted = false;
      while (i < line.length && !/[\s,#]/.test(line[i]!)) {
        if (line[i] === '"') {
          quoted = true;
          const end = line.indexOf('"', i + 1);
          if (end < 0) throw new Error('unterminated quoted string');
          text += line.slice(i + 1, end);
          i = end + 1;
        } else {
          text += line[i++];
        }
      }
      field.push({ text, quoted });
      if (line[i] !== ',') break;
      i++;
    }
    fields.push(field);
  }
  return fields;
}

/** a field's names, with @file lists expanded (one name per word, relative to the hba file) */
function names(field: Token[], file: string): Set<string> {
  const out = new Set<string>();
  for (const token of field) {
    if (!token.quoted && token.text.startsWith('@')) {
      const path = token.text.slice(1);
      const listed = readFileSync(isAbsolute(path) ? path : join(dirname(file), path), 'utf8');
      for (const line of listed.split('\n')) {
        for (const word of line.replace(/#.*/, '').split(/[\s,]+/)) if (word !== '') out.add(word);
      }
    } else if (!token.quoted && (token.text.startsWith('+') || token.text === 'samerole' || token.text === 'samegroup')) {
      throw new Error(`"${token.text}": group membership is not supported (as in PgBouncer)`);
    } else {
      // keywords keep a marker so a quoted "all" stays a plain name
      out.add(token.quoted ? token.text : keyword(token.text));
    }
  }
  return out;
}

const KEYWORDS = new Set(['all', 'sameuser', 'replication']);
const keyword = (text: string): string => (KEYWORDS.has(text) ? `\0${text}` : text);

function addresses(fields: Token[][], at: number): { list: net.BlockList | null; used: number } {
  const first = fields[at]?.[0]?.text;
  if (first === undefined) throw new Error('missing address');
  if (first === 'all') return { list: null, used: 1 };
  if (first === 'samehost' || first === 'samenet') throw new Error(`"${first}" is not supported (as in PgBouncer)`);
  const list = new net.BlockList();
  const slash = first.indexOf('/');
  if (slash >= 0) {
    const ip = first.slice(0, slash);
    const family = net.isIP(ip);
    const prefix = Number(first.slice(slash + 1));
    if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
      throw new Error(`invalid address "${first}"`);
    }
    list.addSubnet(ip, prefix, family === 4 ? 'ipv4' : 'ipv6');
    return { list, used: 1 };
  }
  const family = net.isIP(first);
  if (family === 0) throw new Error(`invalid address "${first}": host names are not supported (as in PgBouncer)`);
  const mask = fields[at + 1]?.[0]?.text ?? '';
  if (net.isIP(mask) !== family) throw new Error(`address "${first}" needs a CIDR length or a netmask`);
  list.addSubnet(first, maskLength(mask), family === 4 ? 'ipv4' : 'ipv6');
  return { list, used: 2 };
}

/** the prefix length of a netmask such as 255.255.255.0 (a byte of k leading ones is 256 - 2^(8-k)) */
function maskLength(mask: string): number {
  const bytes = net.isIPv4(mask) ? mask.split('.').map(Number) : expandIpv6(mask);
  let bits = 0;
  let ended = false;
  for (const byte of bytes) {
    const ones = 8 - Math.log2(256 - byte);
    // ones only from the left: a whole number of them, and none after a byte that was not all ones
    if (!Number.isInteger(ones) || (ended && ones > 0)) throw new Error(`invalid netmask "${mask}"`);
    if (ones < 8) ended = true;
    bits += ones;
  }
  return bits;
}

function expandIpv6(address: string): number[] {
  const [head, tail = ''] = address.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = groups(head!);
  const right = groups(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return all.flatMap((g) => [g >> 8, g & 255]);
}

export function parseHba(text: string, file: string): HbaRule[] {
  const rules: HbaRule[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const lineNo = index + 1;
    try {
      const fields = tokenize(lines[index]!);
      if (fields.length === 0) continue;
      const type = fields[0]![0]!.text;
      if (type !== 'local' && type !== 'host' && type !== 'hostssl' && type !== 'hostnossl') {
        throw new Error(`unknown connection type "${type}"`);
      }
      if (fields.length < 4) throw new Error('a rule needs type, database, user, address (not for local) and method');
      const databases = names(fields[1]!, file);
      const users = names(fields[2]!, file);
      let at = 3;
      let list: net.BlockList | null = null;
      if (type !== 'local') {
        const parsed = addresses(fields, at);
        list = parsed.list;
        at += parsed.used;
      }
      const methodName = fields[at]?.[0]?.text;
      if (methodName === undefined) throw new Error('missing authentication method');
      const method = METHODS[methodName];
      if (method === undefined) throw new Error(`unsupported authentication method "${methodName}"`);
      let map: string | null = null;
      for (const option of fields.slice(at + 1)) {
        const [name, value] = option[0]!.text.split('=', 2);
        if (name === 'map' && value) map = value;
        else throw new Error(`unsupported option "${option[0]!.text}"`);
      }
      rules.push({ line: lineNo, type, databases, users, addresses: list, method, map });
    } catch (error) {
      throw new HbaSyntaxError(file, lineNo, (error as Error).message);
    }
  }
  return rules;
}

export function loadHbaFile(file: string): HbaRule[] {
  return parseHba(readFileSync(file, 'utf8'), file);
}

/** the first rule that applies to the connection, as PostgreSQL picks it; null when none does */
export function matchHba(rules: readonly HbaRule[], connection: HbaConnection): HbaRule | null {
  const address = connection.address.startsWith('::ffff:') ? connection.address.slice(7) : connection.address;
  const family = net.isIP(address) === 6 ? 'ipv6' : 'ipv4';
  for (const rule of rules) {
    if (rule.type === 'local' ? !connection.local : connection.local) continue;
    if (rule.type === 'hostssl' && !connection.tls) continue;
    if (rule.type === 'hostnossl' && connection.tls) continue;
    if (!databaseMatches(rule.databases, connection)) continue;
    if (!rule.users.has('\0all') && !rule.users.has(connection.user)) continue;
    if (rule.addresses !== null && (connection.local || !rule.addresses.check(address, family))) continue;
    return rule;
  }
  return null;
}

function databaseMatches(databases: ReadonlySet<string>, connection: HbaConnection): boolean {
  // as in PostgreSQL, `all` does not cover replication connections
  if (connection.replication) return databases.has('\0replication');
  if (databases.has('\0all')) return true;
  if (databases.has('\0sameuser') && connection.database === connection.user) return true;
  return databases.has(connection.database);
}
