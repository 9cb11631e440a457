// A cached wall clock in milliseconds, refreshed by the janitor tick and on demand, so hot paths and
// list scans read a number instead of calling Date.now() per message.

let cached = Date.now();

export const clock = {
  /** the cached time; at most one janitor tick old */
  get now(): number {
    return cached;
  },
  /** refresh and return the current time */
  refresh(): number {
    cached = Date.now();
    return cached;
  },
};
