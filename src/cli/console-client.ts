// A connection to a running pooler's admin console for the CLI's stats and top commands, with
// libpq's defaults (PGHOST, PGPORT, PGUSER) and PgBouncer's port 6432 when nothing is given.
import pg from 'pg';

export interface ConsoleOptions {
  host?: string;
  port?: string;
  user?: string;
}

export async function connectConsole(options: ConsoleOptions): Promise<pg.Client> {
  const client = new pg.Client({
    host: options.host ?? process.env.PGHOST ?? '127.0.0.1',
    port: Number(options.port ?? process.env.PGPORT ?? 6432),
    user: options.user ?? process.env.PGUSER ?? process.env.USER ?? 'postgres',
    database: 'pgbouncer',
  });
  try {
    await client.connect();
  } catch (error) {
    const where = `${client.host}:${client.port}`;
    throw new Error(`cannot reach the pooler console at ${where} as ${client.user}: ${(error as Error).message}`);
  }
  return client;
}

export type Row = Record<string, string | number | null>;

/** rows of a console SHOW, with numeric strings (numeric columns) turned into numbers */
export async function showRows(client: pg.Client, what: string): Promise<Row[]> {
  const { rows } = await client.query<Row>(`SHOW ${what}`);
  return rows.map((row) =>
    Object.fromEntries(Object.entries(row).map(([key, value]) => [key, typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value])),
  );
}
