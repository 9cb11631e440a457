// node-postgres helpers the pooler tests share: a client whose connection errors are expected (the
// test checks the failed query instead), and the PostgreSQL backend a query actually ran on.
import pg from 'pg';

/** a connected client that does not crash the test run when the pooler drops it */
export async function quietClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** the process id of the server connection the client's next query runs on */
export async function backendPid(client: pg.Client): Promise<number> {
  const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
  return rows[0].pid;
}

/** one statement on a connection of its own (a console SHOW, a look at a server), closed after */
export async function queryOnce<R extends Record<string, unknown> = Record<string, unknown>>(url: string, sql: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}
