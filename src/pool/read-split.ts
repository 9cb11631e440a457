// read_write_split for one client: which side (primary or a replica) its next transaction goes to,
// judged from the first message it holds, and on a replica the check of every later message, so
// that nothing the classifier cannot prove read-only runs there. Also its read-your-writes position.
import { FrontendCode, HEADER_LENGTH, MAX_CLASSIFIED_STATEMENT_LENGTH } from '../protocol/codes.js';
import { cstringEnd } from '../prepared/messages.js';
import type { SharedStatement } from '../prepared/statement-registry.js';
import { classifyForRouting, classifyRepeatedForRouting, type StatementVerdict } from '../sql/index.js';

export const enum Side {
  Primary,
  Replica,
}

/** a commit whose position is still being read: no replica is known to have replayed it */
export const LSN_PENDING = (1n << 64n) - 1n;

/** what ReadSplit needs of the client's named statements (prepared/client-statements.ts) */
export interface NamedStatements {
  readonly names: ReadonlyMap<string, SharedStatement>;
}

/** a statement's verdict seen from a replica */
const enum Fit {
  /** provably read-only (or ends a transaction): a replica may run it */
  Read,
  /** opens a read-only transaction (BEGIN READ ONLY, START TRANSACTION READ ONLY) */
  ReadOnlyBlock,
  /** a plain BEGIN: read-only only if a SET TRANSACTION READ ONLY follows at once */
  Begin,
  /** anything else, and anything unsure: the primary's */
  Primary,
}

/** the routing verdicts of statement texts seen through named statements, kept with them */
const statementFits = new WeakMap<SharedStatement, boolean>();

export class ReadSplit {
  /** where the current (or next) server assignment goes */
  side: Side = Side.Primary;
  /** the primary side was chosen for work a replica could not prove safe: its commit position is read */
  wrote = false;
  /**
   * The WAL position the client's last write transaction ended at: a replica serves this client
   * only once it has replayed that far. 0 before any write; LSN_PENDING while it is being read.
   */
  requiredLsn = 0n;
  /** on a replica, a BEGIN READ ONLY (or BEGIN; SET TRANSACTION READ ONLY) opened a block: everything in it may run there */
  private readOnlyBlock = false;
  /** on a replica, the unnamed statement last parsed there is read-only */
  private unnamedReads = false;
  /** the server assignment ran only reads a replica could retry: nothing else was sent yet */
  private retryable = false;
  /** the next message sent is the one choose() sent to a replica, already judged */
  private chosenOn = false;

  constructor(private readonly statements: NamedStatements | null) {}

  /**
   * A new server assignment for a client whose first held message is `message` (null when none is
   * complete yet): a replica when that message provably reads only, else the primary.
   */
  choose(code: number, buffer: Buffer | null, offset: number, total: number): Side {
    this.readOnlyBlock = false;
    this.unnamedReads = false;
    // a text the link reads no further than its header (over 1 MB) is unjudged there: the primary's
    // here too, which also spares the event loop a parse of megabytes per transaction
    const replica = total <= MAX_CLASSIFIED_STATEMENT_LENGTH && this.fits(code, buffer, offset, total);
    this.side = replica ? Side.Replica : Side.Primary;
    this.wrote = !replica;
    this.retryable = replica && !this.readOnlyBlock;
    this.chosenOn = replica;
    return this.side;
  }

  /** no replica has what the client needs (or none is up), or the split is off: the primary this time */
  fallBack(): void {
    this.side = Side.Primary;
    this.retryable = false;
    this.chosenOn = false;
    // a read, or no split any more: no commit position to learn
    this.wrote = false;
  }

  /**
   * On a replica: may this message go to it? A message that may not is held, and the server is
   * released once it has answered what came before, so the message goes to the primary instead.
   * `buffer` is null when only the header was read (a text too long to classify).
   */
  allows(code: number, buffer: Buffer | null, offset: number, total: number): boolean {
    if (this.chosenOn) {
      // the message choose() judged, now sent: not parsed twice (its block and unnamed statement stand)
      this.chosenOn = false;
      return true;
    }
    if (this.readOnlyBlock && code !== FrontendCode.Query) return true;
    const fits = this.fits(code, buffer, offset, total);
    // a read-only block is a transaction: running part of it again elsewhere is no retry
    if (this.readOnlyBlock) this.retryable = false;
    return fits;
  }

  /** every message sent on this replica assignment was a provable read outside any block: another host may run them again */
  get canRetry(): boolean {
    return this.side === Side.Replica && this.retryable;
  }

  /** the replica's server answered a ReadyForQuery with no block open */
  onIdle(): void {
    this.readOnlyBlock = false;
  }

  /** a primary transaction's commit position was read (null: it could not be) */
  committedAt(lsn: bigint | null): void {
    if (lsn === null) return;
    const before = this.requiredLsn === LSN_PENDING ? 0n : this.requiredLsn;
    this.requiredLsn = lsn > before ? lsn : before;
  }

  /** `buffer` null: only the header was read (a text too long to classify, or a Bind of untracked statements) */
  private fits(code: number, buffer: Buffer | null, offset: number, total: number): boolean {
    switch (code) {
      case FrontendCode.Query:
        return buffer !== null && this.fitsQuery(classifyForRouting(buffer.toString('utf8', offset + HEADER_LENGTH, offset + total - 1)));
      case FrontendCode.Parse:
        return buffer !== null && this.fitsParse(buffer, offset, total);
      case FrontendCode.Bind:
        // untracked statements: the Bind's own statement was judged at its Parse on this server
        return buffer === null || this.fitsBind(buffer, offset, total);
      case FrontendCode.Describe:
      case FrontendCode.Execute:
      case FrontendCode.Close:
      case FrontendCode.Sync:
      case FrontendCode.Flush:
      case FrontendCode.CopyDone:
      case FrontendCode.CopyFail:
        return true;
      default:
        // FunctionCall: it may call anything
        return false;
    }
  }

  /** a simple Query: every statement must fit, in order (a block opened in it lets the rest in) */
  private fitsQuery(verdicts: readonly StatementVerdict[]): boolean {
    if (verdicts.length === 0) return true;
    let afterBegin = false;
    for (const verdict of verdicts) {
      if (this.readOnlyBlock) {
        const tx = verdict.tx;
        if (tx !== null && (tx.kind === 'commit' || tx.kind === 'rollback') && !tx.chain) this.readOnlyBlock = false;
        continue;
      }
      const fit = fitOf(verdict);
      if (afterBegin) {
        // BEGIN; SET TRANSACTION READ ONLY: a read-only block after all
        afterBegin = false;
        const tx = verdict.tx;
        if (tx === null || tx.kind !== 'set_transaction' || tx.readOnly !== true) return false;
        this.readOnlyBlock = true;
        continue;
      }
      if (fit === Fit.Primary) return false;
      if (fit === Fit.Begin) afterBegin = true;
      else if (fit === Fit.ReadOnlyBlock) this.readOnlyBlock = true;
    }
    return !afterBegin;
  }

  /** a Parse: its one statement must be a read; the unnamed statement's verdict is kept for its Bind */
  private fitsParse(buffer: Buffer, offset: number, total: number): boolean {
    const end = offset + total;
    const nameEnd = cstringEnd(buffer, offset + HEADER_LENGTH, end);
    const textEnd = nameEnd < 0 ? -1 : cstringEnd(buffer, nameEnd + 1, end);
    if (textEnd < 0) return false;
    const fits = fitsStatement(classifyRepeatedForRouting(buffer.toString('utf8', nameEnd + 1, textEnd)));
    if (nameEnd === offset + HEADER_LENGTH) this.unnamedReads = fits;
    return fits;
  }

  /** a Bind: the statement it binds must be a read (a named one is known by its text) */
  private fitsBind(buffer: Buffer, offset: number, total: number): boolean {
    const end = offset + total;
    const portalEnd = cstringEnd(buffer, offset + HEADER_LENGTH, end);
    const nameEnd = portalEnd < 0 ? -1 : cstringEnd(buffer, portalEnd + 1, end);
    if (nameEnd < 0) return false;
    if (nameEnd === portalEnd + 1) return this.unnamedReads;
    const statement = this.statements?.names.get(buffer.toString('utf8', portalEnd + 1, nameEnd));
    if (statement === undefined) return false;
    let fits = statementFits.get(statement);
    if (fits === undefined) {
      const body = statement.body;
      const textEnd = body.indexOf(0);
      fits = textEnd >= 0 && fitsStatement(classifyRepeatedForRouting(body.toString('utf8', 0, textEnd)));
      statementFits.set(statement, fits);
    }
    return fits;
  }
}

/** one extended-protocol statement: a plain read, nothing that opens a block */
function fitsStatement(verdicts: readonly StatementVerdict[]): boolean {
  return verdicts.length === 1 && fitOf(verdicts[0]!) === Fit.Read;
}

function fitOf(verdict: StatementVerdict): Fit {
  if (verdict.parseError || verdict.opaque) return Fit.Primary;
  const tx = verdict.tx;
  if (tx !== null) {
    switch (tx.kind) {
      case 'begin':
        return tx.readOnly === true ? Fit.ReadOnlyBlock : tx.readOnly === null ? Fit.Begin : Fit.Primary;
      case 'commit':
      case 'rollback':
        // outside a block these only warn; no block is open on a replica here
        return Fit.Read;
      case 'set_transaction':
        return Fit.Primary;
    }
  }
  return verdict.readOnly && verdict.effects.length === 0 ? Fit.Read : Fit.Primary;
}
