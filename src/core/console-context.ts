// The console's ConsoleContext, implemented over the pooler's parts: snapshot views for SHOW and
// the metrics, and the control commands as explicit actions on pools, clients and flags.
import type { ClientSnapshot, ConsoleContext, HostSnapshot, PoolSnapshot, ServerSnapshot, TopologySnapshot } from '../admin/console-context.js';
import { setSetting } from '../config/settings.js';
import type { Config, DatabaseConfig } from '../config/types.js';
import { PoolerError, SqlState } from '../errors.js';
import type { Logger } from '../log.js';
import type { DatabaseStats } from '../stats/database-stats.js';
import type { ClientRegistry } from './clients.js';
import type { DatabaseDirectory } from './databases.js';
import { hostSnapshots } from './host-snapshots.js';
import type { Janitor } from './janitor.js';
import type { PauseState } from './pause-state.js';
import type { PoolRegistry } from './pool-registry.js';
import type { ShutdownMode } from './shutdown.js';
import { clientSnapshot, poolSnapshot, serverSnapshots, topologySnapshot } from './snapshots.js';
import type { Topologies } from './topologies.js';

/** what KILL and KILL_CLIENT tell the clients they end */
const KILLED = new PoolerError('KILLED', SqlState.adminShutdown, 'terminated by the console (KILL)');

export interface ConsoleParts {
  readonly log: Logger;
  readonly config: Config;
  readonly pools: PoolRegistry;
  readonly clients: ClientRegistry;
  readonly databases: DatabaseDirectory;
  readonly topologies: Topologies;
  readonly pause: PauseState;
  readonly janitor: Janitor;
  readonly shutdownMode: ShutdownMode | null;
  shutdown(mode: ShutdownMode): void;
  /** RELOAD from wherever the configuration came from; throws when it is invalid */
  reload(): void;
}

export class PoolerConsole implements ConsoleContext {
  /** the name SHOW output gives the console, as PgBouncer's exporters expect */
  readonly consoleName = 'pgbouncer';
  readonly suspended = false;

  constructor(private readonly parts: ConsoleParts) {}

  // --- views

  get config(): Config {
    return this.parts.config;
  }

  get log(): Logger {
    return this.parts.log;
  }

  get pausedAll(): boolean {
    return this.parts.pause.pausedAll;
  }

  get shutdownMode(): ShutdownMode | null {
    return this.parts.shutdownMode;
  }

  pools(): PoolSnapshot[] {
    return [...this.parts.pools.values()].map((pool) => poolSnapshot(pool, this.parts.config));
  }

  clients(): ClientSnapshot[] {
    return [...this.parts.clients.values()].map(clientSnapshot);
  }

  servers(): ServerSnapshot[] {
    return [...this.parts.pools.values()].flatMap(serverSnapshots);
  }

  databases(): DatabaseConfig[] {
    return this.parts.databases.all();
  }

  stats(): readonly DatabaseStats[] {
    return [...this.parts.pools.stats.values()];
  }

  topologies(): TopologySnapshot[] {
    const topologies = this.parts.topologies;
    return [...topologies.values()].map((topology) => topologySnapshot(topology, topologies.hosts.hostsOf(topology)));
  }

  hosts(): HostSnapshot[] {
    return hostSnapshots(this.parts.topologies, (database) => this.parts.pools.of(database));
  }

  consoleSessions(): number {
    return this.parts.clients.consoleCount;
  }

  isPaused(database: string | null): boolean {
    return this.parts.pause.isPaused(database);
  }

  isDisabled(database: string): boolean {
    return this.parts.pause.isDisabled(database);
  }

  // --- control

  async pause(database: string | null): Promise<boolean> {
    this.parts.pause.pause(database);
    for (const pool of this.parts.pools.of(database)) pool.closeUnusedServers('paused');
    await this.parts.janitor.waitUntil(() => !this.isPaused(database) || this.parts.pools.of(database).every((pool) => pool.serverCount === 0));
    return this.isPaused(database);
  }

  resume(database: string | null): void {
    this.parts.pause.resume(database);
    this.parts.pools.dispatch(database);
  }

  disable(database: string): void {
    this.parts.pause.disable(database);
  }

  enable(database: string): void {
    this.parts.pause.enable(database);
  }

  reconnect(database: string | null): void {
    for (const pool of this.parts.pools.of(database)) pool.markAllCloseNeeded('reconnect');
  }

  kill(database: string | null): void {
    // PgBouncer leaves the database paused after KILL; RESUME lets clients in again
    if (!this.isPaused(database)) this.parts.pause.pause(database);
    for (const pool of this.parts.pools.of(database)) pool.closeEverything('killed', KILLED);
  }

  killClient(id: number): boolean {
    const client = this.parts.clients.find(id);
    if (client === undefined) return false;
    client.fail(KILLED.withMessage('terminated by the console (KILL_CLIENT)'), 'killed');
    return true;
  }

  reload(): void {
    this.parts.reload();
  }

  set(key: string, value: string): void {
    setSetting(this.parts.config.settings, key, value);
  }

  shutdown(mode: 'immediate' | 'wait_for_clients' | 'wait_for_servers'): void {
    this.parts.shutdown(mode);
  }

  waitClose(database: string | null): Promise<void> {
    return this.parts.janitor.waitUntil(() => this.parts.pools.of(database).every((pool) => !pool.hasCloseNeeded()));
  }
}
