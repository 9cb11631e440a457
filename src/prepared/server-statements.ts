// What one server connection has prepared: an LRU of shared statements, max_prepared_statements
// long, and undoing a change to it (or to the linked client's names) that the server skipped after
// an error. What the server still owes is the Link's (pool/link.ts), which drives this.
import { sharedStatements, type SharedStatement } from './statement-registry.js';

/** what an entry of the reply queue changed when it was queued, undone if the server skips it after an error */
export const Effect = {
  None: 0,
  /** the statement went into the server's cache (`generation` holds the one it replaced, 0 = none) */
  ServerAdd: 1,
  /** an eviction took the statement out of the server's cache at `generation` */
  ServerRemove: 2,
  /** the client's name now maps to the statement */
  ClientAdd: 4,
  /** the client's name no longer maps to the statement (Close) */
  ClientRemove: 8,
} as const;

/** the linked client's names, which an undo may restore */
export interface StatementClient {
  readonly names: Map<string, SharedStatement>;
}

export class ServerStatements {
  /** statement → the generation prepared on this server; Map order is the LRU order */
  private readonly cache = new Map<SharedStatement, number>();
  /** the linked client whose statements are rewritten onto this server, if any */
  client: StatementClient | null = null;

  get statementCount(): number {
    return this.cache.size;
  }

  /** prepared here, and not since gone stale; marks it recently used */
  has(statement: SharedStatement): boolean {
    const generation = this.cache.get(statement);
    if (generation !== statement.generation) return false;
    this.cache.delete(statement);
    this.cache.set(statement, generation);
    return true;
  }

  /** the generation prepared here (0: not here) */
  generationOf(statement: SharedStatement): number {
    return this.cache.get(statement) ?? 0;
  }

  /** the least recently used statement, when the cache holds `capacity` or more */
  victim(capacity: number): SharedStatement | null {
    if (this.cache.size < capacity) return null;
    return this.cache.keys().next().value ?? null;
  }

  /** a Parse of `statement` goes to this server now */
  add(statement: SharedStatement): void {
    if (!this.cache.has(statement)) sharedStatements.hold(statement);
    this.cache.delete(statement);
    this.cache.set(statement, statement.generation);
  }

  /** a Close of `statement` goes to this server now */
  evict(statement: SharedStatement): void {
    if (this.cache.delete(statement)) sharedStatements.release(statement);
  }

  /** the server skipped a request after an error: what queuing it changed did not happen */
  undo(effects: number, statement: SharedStatement, name: string | null, generation: number): void {
    const client = this.client;
    if (effects & Effect.ClientAdd && client !== null && client.names.get(name!) === statement) {
      client.names.delete(name!);
      sharedStatements.release(statement);
    }
    if (effects & Effect.ClientRemove && client !== null) {
      sharedStatements.hold(statement);
      client.names.set(name!, statement);
    }
    if (effects & Effect.ServerAdd) {
      if (generation === 0) this.evict(statement);
      else this.cache.set(statement, generation);
    }
    if (effects & Effect.ServerRemove && !this.cache.has(statement)) {
      sharedStatements.hold(statement);
      this.cache.set(statement, generation);
    }
  }

  /** DISCARD ALL or DEALLOCATE ALL ran: the server has nothing prepared, nor (if it asked) the linked client */
  forgetAll(client: boolean): void {
    for (const statement of this.cache.keys()) sharedStatements.release(statement);
    this.cache.clear();
    if (!client || this.client === null) return;
    for (const statement of this.client.names.values()) sharedStatements.release(statement);
    this.client.names.clear();
  }

  /** release everything this server holds (it is closing) */
  close(): void {
    for (const statement of this.cache.keys()) sharedStatements.release(statement);
    this.cache.clear();
    this.client = null;
  }
}
