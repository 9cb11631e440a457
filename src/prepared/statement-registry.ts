// The statements all clients share: one entry per distinct query text + parameter types, with the
// server-side name every server prepares it under. Entries count their users (client names and
// server caches) and go when the last one lets go.
import { SERVER_NAME_PREFIX } from './messages.js';

export class SharedStatement {
  /** bumped when a server reports the cached plan went stale (0A000): every server re-prepares */
  generation = 1;
  /** client names and server caches holding this statement */
  refs = 0;
  /** some server answered a Parse of it with ParseComplete: the text is valid SQL */
  parsed = false;

  markParsed(): void {
    this.parsed = true;
  }

  constructor(
    /** the Parse body after the name: query text, parameter count and type OIDs */
    readonly body: Buffer,
    readonly key: string,
    readonly serverName: Buffer,
  ) {}
}

export class StatementRegistry {
  private readonly statements = new Map<string, SharedStatement>();
  private nextId = 1;

  constructor(private readonly prefix = SERVER_NAME_PREFIX) {}

  get size(): number {
    return this.statements.size;
  }

  /** the shared statement for a Parse body (`buffer[start, end)`), made on first sight; the caller holds a ref */
  acquire(buffer: Buffer, start: number, end: number): SharedStatement {
    const key = buffer.toString('latin1', start, end);
    let statement = this.statements.get(key);
    if (statement === undefined) {
      statement = new SharedStatement(Buffer.from(buffer.subarray(start, end)), key, Buffer.from(`${this.prefix}${this.nextId++}`));
      this.statements.set(key, statement);
    }
    statement.refs++;
    return statement;
  }

  /** the statement for a Parse body if one exists; no ref is taken */
  find(buffer: Buffer, start: number, end: number): SharedStatement | undefined {
    return this.statements.get(buffer.toString('latin1', start, end));
  }

  hold(statement: SharedStatement): void {
    statement.refs++;
  }

  release(statement: SharedStatement): void {
    if (--statement.refs > 0) return;
    if (this.statements.get(statement.key) === statement) this.statements.delete(statement.key);
  }
}

/** one registry per process, as in PgBouncer: server-side names are unique across all pools */
export const sharedStatements = new StatementRegistry();
