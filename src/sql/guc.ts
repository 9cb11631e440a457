// What PostgreSQL does to a setting's name and value: the canonical GUC name, SQL literals, and a
// set_config() string turned into the text that `SET name = <text>` reads back as the same setting.

/** names PostgreSQL still accepts for a renamed setting (guc.c, map_old_guc_names) */
const OLD_NAMES: ReadonlyMap<string, string> = new Map([
  ['sort_mem', 'work_mem'],
  ['vacuum_mem', 'maintenance_work_mem'],
]);

/** PostgreSQL folds identifiers and GUC names in ASCII only (downcase_identifier, guc_name_compare) */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

export function gucName(name: string): string {
  const lower = asciiLower(name);
  return OLD_NAMES.get(lower) ?? lower;
}

/**
 * A string literal read the same whatever standard_conforming_strings is: an E'' literal when the
 * value holds a backslash (as PostgreSQL's quote_literal does), a plain one otherwise.
 */
export function quoteLiteral(value: string): string {
  const quoted = value.replace(/'/g, "''");
  return value.includes('\\') ? `E'${quoted.replace(/\\/g, '\\\\')}'` : `'${quoted}'`;
}

/** lists of identifiers (GUC_LIST_QUOTE): SET quotes each element it is given as an identifier */
const IDENTIFIER_LISTS: ReadonlySet<string> = new Set([
  'search_path',
  'temp_tablespaces',
  'local_preload_libraries',
  'session_preload_libraries',
  'shared_preload_libraries',
]);

/** the whitespace PostgreSQL's scanner_isspace knows (PostgreSQL 16 added \v) */
function isListSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
}

/**
 * A comma-separated identifier list split as SplitIdentifierString does: "quoted" elements keep
 * their case ("" is one quote), bare ones are lower-cased (ASCII). Null when PostgreSQL would
 * reject the list.
 */
export function splitIdentifierList(text: string): string[] | null {
  const items: string[] = [];
  let i = 0;
  while (isListSpace(text[i])) i++;
  if (i === text.length) return items;
  for (;;) {
    if (text[i] === '"') {
      let item = '';
      for (;;) {
        const end = text.indexOf('"', i + 1);
        if (end < 0) return null;
        item += text.slice(i + 1, end);
        if (text[end + 1] !== '"') {
          i = end + 1;
          break;
        }
        item += '"';
        i = end + 1;
      }
      items.push(item);
    } else {
      const start = i;
      while (i < text.length && text[i] !== ',' && !isListSpace(text[i])) i++;
      if (i === start) return null;
      items.push(asciiLower(text.slice(start, i)));
    }
    while (isListSpace(text[i])) i++;
    if (i === text.length) return items;
    if (text[i] !== ',') return null;
    i++;
    while (isListSpace(text[i])) i++;
  }
}

/**
 * The SET text for what set_config(name, value, ...) stores, or null when set_config would fail.
 * For identifier lists each element becomes its own literal, since SET would otherwise quote the
 * whole string as one identifier. An empty list has no SET spelling: '' gives the list `""`, which
 * names no schema and so finds the same objects.
 */
export function setValueFromString(name: string, value: string): string | null {
  if (!IDENTIFIER_LISTS.has(name)) return quoteLiteral(value);
  const items = splitIdentifierList(value);
  if (items === null) return null;
  if (items.length === 0) return "''";
  return items.map(quoteLiteral).join(', ');
}

/** the first element of a search_path as set_config stores it, for the pg_temp-first check */
export function firstListItem(value: string): string | null {
  const items = splitIdentifierList(value);
  return items === null || items.length === 0 ? null : items[0]!;
}

/**
 * The statement that gives another server a 'set' effect: `SET name = value`, or `RESET name` for
 * a null value. Each part of the name is quoted, so a custom name such as app.select stays one name.
 */
export function replaySet(name: string, value: string | null): string {
  const quoted = name
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
  return value === null ? `RESET ${quoted}` : `SET ${quoted} = ${value}`;
}
