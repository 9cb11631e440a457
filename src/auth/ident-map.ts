// auth_ident_file: user name maps (`map system-user database-user` per line) that let a cert
// rule's certificate name log in as another database user, PgBouncer's subset (no regex, no include).
import { readFileSync } from 'node:fs';

export type IdentMaps = ReadonlyMap<string, readonly { system: string; user: string }[]>;

export function parseIdentMaps(text: string, file: string): IdentMaps {
  const maps = new Map<string, { system: string; user: string }[]>();
  text.split('\n').forEach((line, index) => {
    const words = line.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) return;
    if (words.length !== 3) throw new Error(`${file}:${index + 1}: expected "map system-user database-user"`);
    const [map, system, user] = words as [string, string, string];
    if (system.startsWith('/')) throw new Error(`${file}:${index + 1}: regular expressions are not supported (as in PgBouncer)`);
    let entries = maps.get(map);
    if (entries === undefined) maps.set(map, (entries = []));
    entries.push({ system, user });
  });
  return maps;
}

export function loadIdentMaps(file: string | null): IdentMaps {
  return file === null || file === '' ? new Map() : parseIdentMaps(readFileSync(file, 'utf8'), file);
}

/** may `system` (a certificate name) log in as `user` under `map`? */
export function identAllows(maps: IdentMaps, map: string, system: string, user: string): boolean {
  return maps.get(map)?.some((entry) => entry.system === system && entry.user === user) ?? false;
}
