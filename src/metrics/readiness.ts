// Whether the pooler should receive traffic (/readyz): listening, not shutting down or paused, and
// every configured database reachable — its pools' last login succeeded, or, for a database no
// client has used yet, a TCP connect to it works (cached for a few seconds).
import { connect } from '../net/connect.js';
import type { DatabaseConfig } from '../config/types.js';
import type { ConsoleView, PoolSnapshot } from '../admin/console-context.js';

/** what readiness reads: the console's views */
export type ReadinessView = Pick<ConsoleView, 'config' | 'pools' | 'shutdownMode' | 'pausedAll' | 'isPaused' | 'isDisabled'>;

const PROBE_CACHE_MS = 5_000;
const PROBE_TIMEOUT_MS = 1_000;

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

export class ReadinessProbe {
  private readonly probes = new Map<string, { at: number; reachable: Promise<string | null> }>();

  constructor(private readonly view: ReadinessView) {}

  async check(): Promise<Readiness> {
    const reasons: string[] = [];
    if (this.view.shutdownMode !== null) reasons.push(`shutting down (${this.view.shutdownMode})`);
    if (this.view.pausedAll) reasons.push('paused (PAUSE)');
    const pools = this.view.pools();
    const checks = [...this.view.config.databases.values()].map(async (db) => {
      const problem = await this.databaseProblem(db, pools.filter((pool) => pool.database === db.name));
      if (problem !== null) reasons.push(`database ${db.name}: ${problem}`);
    });
    await Promise.all(checks);
    return { ready: reasons.length === 0, reasons };
  }

  private async databaseProblem(db: DatabaseConfig, pools: PoolSnapshot[]): Promise<string | null> {
    if (this.view.isPaused(db.name)) return 'paused';
    if (this.view.isDisabled(db.name)) return 'disabled';
    const failing = pools.find((pool) => pool.loginError !== null && pool.serverCount === 0);
    if (failing !== undefined) return `last server login failed: ${failing.loginError}`;
    if (pools.some((pool) => pool.serverCount > 0)) return null;
    return this.probe(db);
  }

  /** a TCP (or Unix socket) connect to the database's server; null when it answers */
  private probe(db: DatabaseConfig): Promise<string | null> {
    const key = `${db.host}:${db.port}`;
    const cached = this.probes.get(key);
    if (cached !== undefined && Date.now() - cached.at < PROBE_CACHE_MS) return cached.reachable;
    const host = db.host || this.view.config.settings.unix_socket_dir;
    const reachable = new Promise<string | null>((resolve) => {
      const socket = connect({ host, port: db.port });
      const done = (problem: string | null) => {
        socket.destroy();
        resolve(problem);
      };
      socket.setTimeout(PROBE_TIMEOUT_MS, () => done(`no answer from ${key} within ${PROBE_TIMEOUT_MS} ms`));
      socket.once('connect', () => done(null));
      socket.once('error', (error: NodeJS.ErrnoException) => done(`cannot connect to ${key}: ${error.code ?? error.message}`));
    });
    this.probes.set(key, { at: Date.now(), reachable });
    return reachable;
  }
}
