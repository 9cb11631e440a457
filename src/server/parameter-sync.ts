// Builds the one SET query that makes a server's session parameters match what its new client
// expects (client_encoding, DateStyle, TimeZone, ... as tracked), or null when they already match.

const SAFE_NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;

export function parameterSetQuery(wanted: Map<string, string>, current: Map<string, string>): string | null {
  let sql = '';
  for (const [name, value] of wanted) {
    const have = current.get(name);
    // Servers canonicalise spelling (utf8 → UTF8), so compare the way PgBouncer does: ignoring case.
    if (have !== undefined && have.toLowerCase() === value.toLowerCase()) continue;
    if (!SAFE_NAME.test(name)) continue;
    sql += `SET ${name} = ${escapeStringLiteral(value)};`;
  }
  return sql === '' ? null : sql;
}

/**
 * An E'' literal with backslashes doubled and quotes doubled. A plain '' literal reads a backslash
 * as an escape when the server runs with standard_conforming_strings = off, so a client value
 * holding \' would close the string early and the rest would run as SQL; an E-string is read the
 * same way under either setting.
 */
function escapeStringLiteral(value: string): string {
  return `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}
