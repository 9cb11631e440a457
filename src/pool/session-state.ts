// One client's session state in transaction and statement mode: the settings that follow it from
// server to server (startup parameters, options -c, session-level SET / RESET / set_config) and
// what pins it to its server (temp tables, LISTEN, session advisory locks, SQL PREPARE, WITH HOLD
// cursors, SET ROLE, LOAD, and anything the classifier cannot see through).
import { gucName, quoteLiteral, replaySet, setValueFromString } from '../sql/guc.js';
import type { PinReason, SessionEffect } from '../sql/index.js';

/** why a client is pinned: what it created, or 'unknown' for a statement whose effects cannot be known (a DO block) */
export type PinCause = PinReason | 'unknown';

/** pins that nothing but DISCARD ALL or the end of the session undoes */
const PERMANENT: ReadonlySet<PinCause> = new Set<PinCause>(['load', 'unknown', 'advisory_lock']);

/** server settings in effect: name → SQL value (null: the server's default) */
export type AppliedSettings = ReadonlyMap<string, string | null>;

export class SessionState {
  /** name → SQL value to replay (null: back to the default) */
  private readonly settings = new Map<string, string | null>();
  /** what RESET and RESET ALL go back to: the client's startup parameters, as PostgreSQL does */
  private readonly startup: ReadonlyMap<string, string>;
  /** `settings` as one comparable string; equal keys need the same SETs */
  key = '';
  /** cause → the names it holds (temp tables, channels, statements, cursors); a cause with no names left is no pin */
  private readonly pins = new Map<PinCause, Set<string>>();
  /** a pin was ever taken on the current server: it must be reset before anyone else gets it */
  dirtyServer = false;
  /** LOAD or an unknown effect ran on the current server: nothing resets it, it is closed after use */
  spoiledServer = false;
  /** how many times this client was pinned (for the first-time log line and the metrics) */
  pinCount = 0;

  constructor(
    startupSettings: ReadonlyMap<string, string>,
    /** names the pooler already follows through ParameterStatus (client_encoding, TimeZone, ...), lower case */
    private readonly trackedElsewhere: ReadonlySet<string>,
  ) {
    const startup = new Map<string, string>();
    for (const [given, value] of startupSettings) {
      const name = gucName(given);
      if (trackedElsewhere.has(name)) continue;
      // a startup value is a setting's string form, as set_config takes it: search_path=a,b is two schemas
      startup.set(name, setValueFromString(name, value) ?? quoteLiteral(value));
    }
    this.startup = startup;
    this.resetAll();
  }

  get pinned(): boolean {
    return this.pins.size > 0;
  }

  /** the causes, comma-separated, for SHOW CLIENTS; '' when not pinned */
  get pinReason(): string {
    return [...this.pins.keys()].join(',');
  }

  /**
   * A statement that creates state which cannot move is on its way to the server: pinned at once,
   * before its reply, so the server cannot be released in between. Returns the cause when this
   * pins a client that was not pinned.
   */
  pin(cause: PinCause, name: string | null): PinCause | null {
    const wasPinned = this.pinned;
    let names = this.pins.get(cause);
    if (names === undefined) {
      names = new Set();
      this.pins.set(cause, names);
    }
    names.add(name ?? '');
    this.dirtyServer = true;
    if (cause === 'load' || cause === 'unknown') this.spoiledServer = true;
    if (wasPinned) return null;
    this.pinCount++;
    return cause;
  }

  /** effects of statements that succeeded and committed, in order */
  commit(effects: readonly SessionEffect[]): void {
    for (const effect of effects) {
      switch (effect.kind) {
        case 'set':
          if (effect.local || this.trackedElsewhere.has(effect.name)) break;
          // RESET goes back to what the client started with, as in PostgreSQL
          this.set(effect.name, effect.value ?? this.startup.get(effect.name) ?? null);
          break;
        case 'reset_all':
          this.resetAll();
          break;
        case 'unpin':
          this.unpin(effect.reason, effect.name, effect.all);
          break;
        case 'pin':
          break;
      }
    }
    this.key = settingsKey(this.settings);
  }

  /** DISCARD ALL ran for this client: its server is as fresh as a new one, and it holds nothing */
  discardAll(): void {
    this.pins.clear();
    this.resetAll();
    this.key = settingsKey(this.settings);
  }

  /** the SQL that makes a server's settings this client's, or null when they already are */
  replayOn(applied: AppliedSettings): string | null {
    let sql = '';
    for (const [name, value] of this.settings) {
      if ((applied.get(name) ?? null) !== value) sql += replaySet(name, value) + ';';
    }
    for (const [name, value] of applied) if (value !== null && !this.settings.has(name)) sql += replaySet(name, null) + ';';
    return sql === '' ? null : sql;
  }

  /** a copy of the settings, as a server holds them once replayed */
  snapshot(): Map<string, string | null> {
    return new Map(this.settings);
  }

  /** the link moved to another server: what was done to the old one is that one's affair */
  onNewServer(): void {
    this.dirtyServer = false;
    this.spoiledServer = false;
  }

  private set(name: string, value: string | null): void {
    this.settings.set(name, value);
  }

  private resetAll(): void {
    this.settings.clear();
    for (const [name, value] of this.startup) this.settings.set(name, value);
    this.key = settingsKey(this.settings);
  }

  private unpin(reason: PinReason, name: string | null, all: boolean): void {
    const names = this.pins.get(reason);
    if (names === undefined) return;
    // an unlock of one advisory lock may have held nothing, and locks nest: only "all" is certain
    if (PERMANENT.has(reason) && !all) return;
    if (all) names.clear();
    else if (name !== null) names.delete(name);
    if (names.size === 0) this.pins.delete(reason);
  }
}

function settingsKey(settings: ReadonlyMap<string, string | null>): string {
  let key = '';
  for (const [name, value] of settings) key += `${name}\0${value ?? '\u0001'}\0`;
  return key;
}
