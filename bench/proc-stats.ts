// What a benchmark target costs, read from /proc: CPU time (user + system) and resident memory of
// one process, and a sampler for the peak RSS while a run is going.
import { readFileSync } from 'node:fs';

/** clock ticks per second for /proc/PID/stat times; 100 on every Linux we run on */
const CLOCK_TICKS = 100;

/** CPU time of the process so far, in microseconds: user + system, and user alone */
export function cpuMicros(pid: number): { total: number; user: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // fields after the command name, which may hold spaces, so split after its closing parenthesis
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return { total: ((utime + stime) * 1_000_000) / CLOCK_TICKS, user: (utime * 1_000_000) / CLOCK_TICKS };
}

export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

/** samples RSS every `everyMs` until stopped and keeps the highest value */
export function sampleRss(pid: number, everyMs = 100): { stop(): number } {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(pid));
    } catch {
      // the process ended; keep what was seen
    }
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}
