// The database entries clients can name: those listed in [databases], and those made from the `*`
// fallback on first use (auto-databases, freed by the janitor after autodb_idle_timeout).
import type { Config, DatabaseConfig } from '../config/types.js';
import { clock } from '../clock.js';
import { AutoDatabases } from './auto-databases.js';

export class DatabaseDirectory {
  /** databases made from the `*` fallback, with when each was last in use */
  readonly auto = new AutoDatabases();

  constructor(private readonly config: () => Config) {}

  /** the entry for `name`: listed, or made from `*`; null when neither */
  lookup(name: string): DatabaseConfig | null {
    const config = this.config();
    const listed = config.databases.get(name);
    if (listed !== undefined) return listed;
    if (config.fallback === null) return null;
    return this.auto.get(name, config.fallback, clock.now);
  }

  /** listed in [databases], or an auto-database still known */
  exists(name: string): boolean {
    return this.config().databases.has(name) || this.auto.has(name);
  }

  /** a client logged in to `database`: an auto-database freed while it logged in is known again */
  adopt(database: DatabaseConfig): void {
    if (!this.config().databases.has(database.name)) this.auto.adopt(database, clock.now);
  }

  /** listed ones first, then the auto-databases, as SHOW DATABASES lists them */
  all(): DatabaseConfig[] {
    return [...this.config().databases.values(), ...this.auto.values()];
  }
}
