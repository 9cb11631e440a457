// PAUSE and DISABLE as flags: which databases hold new work (PAUSE, KILL, a shutdown that waits
// for servers) and which refuse new clients (DISABLE). Pools read them; the console flips them.

export class PauseState {
  /** PAUSE without a database, or a shutdown that waits for servers */
  private all = false;
  private readonly databases = new Set<string>();
  private readonly disabled = new Set<string>();

  get pausedAll(): boolean {
    return this.all;
  }

  /** `database` null asks whether PAUSE holds every database, or any */
  isPaused(database: string | null): boolean {
    if (database === null) return this.all || this.databases.size > 0;
    return this.all || this.databases.has(database);
  }

  pause(database: string | null): void {
    if (database === null) this.all = true;
    else this.databases.add(database);
  }

  /** RESUME without a database lifts every PAUSE, as in PgBouncer */
  resume(database: string | null): void {
    if (database === null) {
      this.all = false;
      this.databases.clear();
    } else {
      this.databases.delete(database);
    }
  }

  isDisabled(database: string): boolean {
    return this.disabled.has(database);
  }

  disable(database: string): void {
    this.disabled.add(database);
  }

  enable(database: string): void {
    this.disabled.delete(database);
  }
}
