// A client that queries one pool the whole time a test runs, checking every answer: what other
// clients do on the same pool (huge results, long pipelines, errors) must never reach it.
import pg from 'pg';

export interface Canary {
  /** queries answered correctly so far */
  readonly queries: number;
  /** every failed query and wrong answer */
  readonly errors: unknown[];
  /** stop querying and disconnect */
  stop(): Promise<void>;
}

export async function startCanary(url: string, pauseMs = 10): Promise<Canary> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const state = { queries: 0, errors: [] as unknown[], stopping: false };
  const done = (async () => {
    while (!state.stopping) {
      try {
        const { rows } = await client.query({ text: 'SELECT $1::int + 1 AS n', values: [state.queries] });
        if (rows[0]?.n === state.queries + 1) state.queries++;
        else state.errors.push(new Error(`canary got ${JSON.stringify(rows)}`));
      } catch (error) {
        state.errors.push(error);
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
    await client.end().catch((error: unknown) => state.errors.push(error));
  })();
  return {
    get queries() {
      return state.queries;
    },
    errors: state.errors,
    stop: async () => {
      state.stopping = true;
      await done;
    },
  };
}
