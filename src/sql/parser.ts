// PostgreSQL's own grammar (libpg-query: the server's parser compiled to WebAssembly, 17.x) behind
// a synchronous call. The WebAssembly module compiles asynchronously, once, at startup.
import { loadModule, parseSync, type Node } from 'libpg-query';
import { PoolerError, SqlState } from '../errors.js';

let loaded = false;

/** compiles the grammar; await once before the first classify() (about 30 ms) */
export async function loadParser(): Promise<void> {
  await loadModule();
  loaded = true;
}

export function assertParserLoaded(): void {
  if (!loaded) {
    throw new PoolerError(
      'INTERNAL',
      SqlState.internalError,
      'the SQL classifier is not loaded: await loadClassifier() once at startup before classifying',
      'ERROR',
    );
  }
}

/**
 * The statements of the text, or null when the grammar rejects it (PostgreSQL then runs none of
 * them). Empty statements (`;;`, comments only) are not statements: the list may be empty.
 */
export function parseStatements(sql: string): Node[] | null {
  assertParserLoaded();
  // libpg-query refuses blank text outright; PostgreSQL takes it as no statement at all.
  if (/^[ \t\n\r\f\v]*$/.test(sql)) return [];
  let tree: { stmts?: { stmt?: Node }[] };
  try {
    tree = parseSync(sql) as typeof tree;
  } catch {
    return null;
  }
  const statements: Node[] = [];
  for (const raw of tree.stmts ?? []) if (raw.stmt !== undefined) statements.push(raw.stmt);
  return statements;
}
