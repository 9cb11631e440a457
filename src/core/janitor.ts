// The janitor: one timer for all timed work (PgBouncer's 1/3 s maintenance tick), running each
// task with the refreshed clock, then checking what callers wait for (PAUSE, WAIT_CLOSE).
import { clock } from '../clock.js';

/** how often the janitor runs: PgBouncer's 1/3 s */
const JANITOR_INTERVAL_MS = 333;

export type JanitorTask = (now: number) => void;

export class Janitor {
  private readonly tasks: JanitorTask[] = [];
  private waiters: { condition: () => boolean; resolve: () => void }[] = [];
  private timer: NodeJS.Timeout | null = null;

  /** run `task` on every tick, after the ones added before it */
  add(task: JanitorTask): void {
    this.tasks.push(task);
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.tick(), JANITOR_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** resolves once `condition` holds; checked now and on every tick */
  waitUntil(condition: () => boolean): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ condition, resolve }));
  }

  private tick(): void {
    const now = clock.refresh();
    for (const task of this.tasks) task(now);
    if (this.waiters.length === 0) return;
    const waiting = this.waiters;
    this.waiters = [];
    for (const waiter of waiting) {
      if (waiter.condition()) waiter.resolve();
      else this.waiters.push(waiter);
    }
  }
}
