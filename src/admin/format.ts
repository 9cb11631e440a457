// Value formats the console shares with PgBouncer: timestamps as `YYYY-MM-DD HH:MM:SS UTC` text,
// waits split into whole seconds and the microsecond rest.

export function timestamp(ms: number): string | null {
  if (ms <= 0) return null;
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** [seconds, microseconds] of a duration in milliseconds, as PgBouncer's maxwait and maxwait_us */
export function splitSeconds(ms: number): [number, number] {
  if (ms <= 0) return [0, 0];
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1000)];
}
