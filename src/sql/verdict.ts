// The verdict on one statement: what it does to session state and to the transaction, and whether
// it is provably read-only. Verdicts are frozen plain data: the cache hands one object to every caller.

/** session state that lives on one server process and cannot follow its client to another */
export type PinReason =
  | 'temp_table' // a temporary table, view, sequence, function or type (name: its name, unqualified)
  | 'listen' // LISTEN (name: the channel)
  | 'advisory_lock' // a session-level advisory lock (name: null; locks nest, so count them)
  | 'prepare' // SQL PREPARE (name: the statement)
  | 'with_hold_cursor' // DECLARE ... WITH HOLD (name: the cursor)
  | 'set_role' // SET ROLE (name: 'role') or SET SESSION AUTHORIZATION (name: 'session_authorization')
  | 'load'; // LOAD of a shared library (name: the file); nothing undoes it

export type SessionEffect =
  /**
   * SET, RESET, SET ... TO DEFAULT, SET TIME ZONE / SCHEMA / NAMES, SET SESSION CHARACTERISTICS,
   * set_config(). `name` is the GUC name in lower case; `value` is SQL text that gives the same
   * setting when replayed as `SET name = <value>`, or null for "back to the default" (RESET name).
   * `local`: SET LOCAL or set_config(..., true), gone at the end of the transaction: no session effect.
   * A session-level SET inside a transaction block is still undone if that transaction rolls back.
   */
  | { readonly kind: 'set'; readonly name: string; readonly value: string | null; readonly local: boolean }
  /** RESET ALL (which, as in PostgreSQL, leaves role and session_authorization alone) */
  | { readonly kind: 'reset_all' }
  | { readonly kind: 'pin'; readonly reason: PinReason; readonly name: string | null }
  /**
   * Undoes pins of one reason: `all` every one of them (UNLISTEN *, DEALLOCATE ALL, CLOSE ALL,
   * pg_advisory_unlock_all(), DISCARD TEMP, and each reason for DISCARD ALL); otherwise the one
   * called `name` (UNLISTEN c, DEALLOCATE p, CLOSE c, DROP TABLE t, RESET ROLE), or with `name`
   * null one of them, unknown which (pg_advisory_unlock(), which may also have held nothing).
   */
  | { readonly kind: 'unpin'; readonly reason: PinReason; readonly name: string | null; readonly all: boolean };

/** transaction control; savepoints are left out (they neither open nor end a transaction block) */
export type TxControl =
  /** BEGIN / START TRANSACTION; readOnly null when the statement does not say */
  | { readonly kind: 'begin'; readonly readOnly: boolean | null }
  /** COMMIT / END, and PREPARE TRANSACTION, which ends the block as far as the session sees; chain: AND CHAIN opens the next one */
  | { readonly kind: 'commit'; readonly chain: boolean }
  /** ROLLBACK / ABORT */
  | { readonly kind: 'rollback'; readonly chain: boolean }
  /** SET TRANSACTION ...: the current transaction only */
  | { readonly kind: 'set_transaction'; readonly readOnly: boolean | null };

export interface StatementVerdict {
  /** in the order they take effect */
  readonly effects: readonly SessionEffect[];
  readonly tx: TxControl | null;
  /**
   * true only when the statement provably writes nothing and takes no lock a standby refuses: a
   * SELECT / VALUES / TABLE / SHOW / EXPLAIN calling only known builtins (see builtins.ts). Tables
   * and views are taken as they look: a view that calls a writing function is not seen through.
   */
  readonly readOnly: boolean;
  /**
   * the statement may change session state in ways `effects` does not list: a DO block, a
   * set_config() whose arguments or position leave its effect unknown, a SET whose value has no
   * replayable spelling; or the whole text, unparsed, when it is over MAX_PARSED_LENGTH. Pin to be safe.
   */
  readonly opaque: boolean;
  /**
   * PostgreSQL's grammar (17) rejected the text. The server will too, and then runs none of the
   * string's statements, so this is the only verdict for the whole string; a grammar newer than
   * the server's is the one case where the server may accept it, so treat it as unknown.
   */
  readonly parseError: boolean;
}

const NO_EFFECTS: readonly SessionEffect[] = Object.freeze([]);

export function verdict(
  effects: readonly SessionEffect[],
  tx: TxControl | null,
  readOnly: boolean,
  opaque: boolean,
): StatementVerdict {
  for (const effect of effects) Object.freeze(effect);
  return Object.freeze({
    effects: effects.length === 0 ? NO_EFFECTS : Object.freeze(effects),
    tx: tx === null ? null : Object.freeze(tx),
    readOnly,
    opaque,
    parseError: false,
  });
}

/** does nothing the pooler must track and is not proven read-only (or was not asked to be) */
export const NEUTRAL: StatementVerdict = verdict(NO_EFFECTS, null, false, false);
/** does nothing the pooler must track and is provably read-only */
export const NEUTRAL_READ_ONLY: StatementVerdict = verdict(NO_EFFECTS, null, true, false);

export const PARSE_ERROR: StatementVerdict = Object.freeze({
  effects: NO_EFFECTS,
  tx: null,
  readOnly: false,
  opaque: false,
  parseError: true,
});

/** true when the verdict asks nothing of the pooler: no effect, no transaction control, nothing unknown */
export function isNeutral(v: StatementVerdict): boolean {
  return v.effects.length === 0 && v.tx === null && !v.opaque && !v.parseError;
}

/** one line for logs and tests: "set work_mem='64MB', pin listen(jobs), begin read only, read-only" */
export function describeVerdict(v: StatementVerdict): string {
  const parts: string[] = v.effects.map(describeEffect);
  if (v.tx !== null) parts.push(describeTx(v.tx));
  if (v.readOnly) parts.push('read-only');
  if (v.opaque) parts.push('opaque');
  if (v.parseError) parts.push('parse error');
  return parts.length === 0 ? 'neutral' : parts.join(', ');
}

function describeEffect(e: SessionEffect): string {
  switch (e.kind) {
    case 'set':
      return `${e.local ? 'local' : 'set'} ${e.name}=${e.value ?? 'default'}`;
    case 'reset_all':
      return 'reset all';
    case 'pin':
      return e.name === null ? `pin ${e.reason}` : `pin ${e.reason}(${e.name})`;
    case 'unpin':
      return `unpin ${e.reason}(${e.all ? '*' : (e.name ?? '?')})`;
  }
}

function describeTx(tx: TxControl): string {
  const access = (readOnly: boolean | null): string =>
    readOnly === null ? '' : readOnly ? ' read only' : ' read write';
  switch (tx.kind) {
    case 'begin':
      return `begin${access(tx.readOnly)}`;
    case 'set_transaction':
      return `set transaction${access(tx.readOnly)}`;
    case 'commit':
    case 'rollback':
      return tx.chain ? `${tx.kind} and chain` : tx.kind;
  }
}
