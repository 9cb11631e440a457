// The soak of `npm run soak` (bench/soak.ts) for 2 minutes in CI: a mixed workload with connection
// churn, errors, cancels and RELOADs against a pooler child process, sampled every 10 s; the
// pooler's RSS, heap, open fds and server connections must be flat after a 1 min warm-up, and the
// workload must see no error it did not cause. It uses the run's PostgreSQL (its own database
// there), so it works where the harness runs PostgreSQL in a container. SOAK_MINUTES runs it longer.
import { describe, expect, it } from 'vitest';
import { runSoak } from '../bench/soak.js';
import { getPostgres } from './harness/context.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 2);
const { host, port } = getPostgres();

describe('soak', () => {
  it(`${MINUTES} min of churn, errors, cancels and RELOADs: memory, fds and server connections stay flat`, async () => {
    const result = await runSoak({
      minutes: MINUTES,
      sampleSeconds: 10,
      warmupMinutes: Math.min(1, MINUTES / 2),
      clients: 6,
      poolSize: 4,
      // the run's PostgreSQL (a container where Docker answers); the soak makes its own database there
      postgres: { host, port },
      log: (line) => console.log(line),
    });
    expect(result.problems).toEqual([]);
    for (const slope of result.slopes) if (slope.limit !== null) expect(slope.slope, `${slope.series} slope ${slope.slope.toFixed(3)} ${slope.unit}`).toBeLessThan(slope.limit);
    expect(result.rows.length).toBeGreaterThanOrEqual(Math.floor((MINUTES * 60) / 10));
  }, (MINUTES * 60 + 90) * 1000);
});
