// The console's query grammar, as PgBouncer's admin.c reads it: `CMD [ARG][;]`, case-insensitive
// words or "double-quoted" identifiers, `SET key = value` (or TO) with a word or 'string' value,
// and `SELECT x` read as `SHOW x`.

export type ParsedCommand =
  | { kind: 'show'; what: string }
  | { kind: 'set'; key: string; value: string }
  | { kind: 'command'; verb: string; argument: string | null };

const WORD = String.raw`(?:[0-9a-z_]+|"(?:[^"]|"")+")`;
const STRING = String.raw`'(?:[^']|'')*'`;
const COMMAND = new RegExp(String.raw`^\s*([a-z_]+)(?:\s+(${WORD}))?\s*;?\s*$`, 'i');
const SET = new RegExp(String.raw`^\s*set\s+(${WORD})\s*(?:=|\s+to\s+)\s*(${WORD}|${STRING})\s*;?\s*$`, 'i');

/** an identifier as written: quoted ones keep their case, bare ones are lower-cased */
function identifier(word: string): string {
  if (word.startsWith('"')) return word.slice(1, -1).replaceAll('""', '"');
  return word.toLowerCase();
}

function literal(value: string): string {
  if (value.startsWith("'")) return value.slice(1, -1).replaceAll("''", "'");
  return identifier(value);
}

/** the command, or null when the text does not follow the grammar */
export function parseConsoleQuery(query: string): ParsedCommand | null {
  const set = SET.exec(query);
  if (set !== null) return { kind: 'set', key: identifier(set[1]!), value: literal(set[2]!) };
  const match = COMMAND.exec(query);
  if (match === null) return null;
  const verb = match[1]!.toLowerCase();
  const argument = match[2] === undefined ? null : identifier(match[2]);
  if (verb === 'show' || verb === 'select') return argument === null ? null : { kind: 'show', what: argument };
  if (verb === 'set') return null; // SET without `= value`
  return { kind: 'command', verb, argument };
}
