// One Topology per database with failover or a static target, made on first use and followed from
// startup (so the first client finds its primary known); RELOAD updates or restarts them, and a
// move of the target is passed on to the database's pools. The host monitor watches their hosts,
// and the replay poll reads their standbys' positions for read_your_writes.
import { clock } from '../clock.js';
import { effectiveSetting } from '../config/effective.js';
import type { DatabaseConfig, Settings } from '../config/types.js';
import { HostMonitor, type HostChecker } from '../failover/host-monitor.js';
import { ReplayPoller, type ReplayConnector } from '../failover/replay-poller.js';
import { Topology, type ServerAddress } from '../failover/topology.js';
import type { Logger } from '../log.js';

export interface TopologiesContext {
  readonly log: Logger;
  /** patroni_poll_interval, ms, read when a topology is made */
  pollInterval(): number;
  /** the target of a database moved (or vanished, or came back); `previous` is where it was */
  onChange(topology: Topology, previous: ServerAddress | null): void;
  /** the settings in effect, for the host monitor's policy */
  settings(): Settings;
  /** the host monitor's login checks */
  readonly checker: HostChecker;
  /** the replay poll's connections */
  readonly replayConnector: ReplayConnector;
}

export class Topologies {
  private readonly byName = new Map<string, Topology>();
  /** the health, role and lag of every host of a database with several hosts or Patroni */
  readonly hosts: HostMonitor;
  /** the standbys' replay positions, on a timer of its own: the janitor tick is too slow for it */
  readonly replay: ReplayPoller;

  constructor(private readonly context: TopologiesContext) {
    this.hosts = new HostMonitor({ log: context.log, checker: context.checker, settings: () => context.settings(), now: () => clock.now });
    this.replay = new ReplayPoller({
      log: context.log,
      connector: context.replayConnector,
      settings: () => context.settings(),
      databases: () => this.hosts.monitored(),
      now: () => clock.refresh(),
    });
  }

  topologyFor(database: DatabaseConfig): Topology {
    let topology = this.byName.get(database.name);
    if (topology === undefined) {
      topology = new Topology(database, {
        pollInterval: this.context.pollInterval(),
        log: this.context.log,
        onChange: (moved, previous) => this.context.onChange(moved, previous),
        splits: (entry) => effectiveSetting(this.context.settings(), 'read_write_split', entry),
      });
      this.byName.set(database.name, topology);
      topology.start();
    }
    return topology;
  }

  /** start following every one of these databases now */
  watch(databases: Iterable<DatabaseConfig>): void {
    for (const database of databases) this.topologyFor(database);
  }

  /**
   * RELOAD: a database that is gone, or whose discovery changed (`rediscover`, from diffConfig),
   * starts over from its new entry when next asked for; the others take the new entry.
   */
  reload(lookup: (name: string) => DatabaseConfig | null, rediscover: (name: string) => boolean): void {
    for (const [name, topology] of this.byName) {
      const database = lookup(name);
      if (database === null || rediscover(name)) {
        topology.stop();
        this.byName.delete(name);
      } else {
        topology.update(database);
      }
    }
  }

  /** freed auto-databases */
  forget(names: Iterable<string>): void {
    for (const name of names) {
      this.byName.get(name)?.stop();
      this.byName.delete(name);
    }
  }

  stopAll(): void {
    for (const topology of this.byName.values()) topology.stop();
    this.hosts.stop();
    this.replay.stop();
  }

  /** the janitor tick: the host checks and probes that are due */
  tick(): void {
    this.hosts.tick(this.byName.values());
  }

  values(): IterableIterator<Topology> {
    return this.byName.values();
  }
}
