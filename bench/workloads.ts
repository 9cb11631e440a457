// The benchmark matrix: pgbench workloads (select-only and TPC-B in each query protocol, and
// connect-per-transaction) and client counts; and the read-only workload through
// read_write_split, which runs only when asked for by name.

export interface Workload {
  /** a short key for tables and the JSON */
  name: string;
  /** pgbench arguments that define it */
  args: string[];
  /** run against a primary and its standbys (bench/split.ts) instead of the one PostgreSQL */
  split?: true;
}

export const WORKLOADS: readonly Workload[] = [
  { name: 'select-only simple', args: ['-S', '-M', 'simple'] },
  { name: 'select-only extended', args: ['-S', '-M', 'extended'] },
  { name: 'select-only prepared', args: ['-S', '-M', 'prepared'] },
  { name: 'tpc-b simple', args: ['-M', 'simple'] },
  { name: 'tpc-b extended', args: ['-M', 'extended'] },
  { name: 'tpc-b prepared', args: ['-M', 'prepared'] },
  { name: 'select-only connect-per-xact', args: ['-S', '-M', 'simple', '-C'] },
];

/**
 * Not in the default matrix: they start a primary and two standbys, which takes time and, on a
 * small machine, shares its cores with every other workload's PostgreSQL.
 */
export const SPLIT_WORKLOADS: readonly Workload[] = [{ name: 'select-only split', args: ['-S', '-M', 'extended'], split: true }];

export const CLIENT_COUNTS: readonly number[] = [1, 10, 100, 1000];

export function findWorkload(name: string): Workload {
  const known = [...WORKLOADS, ...SPLIT_WORKLOADS];
  const workload = known.find((w) => w.name === name);
  if (workload === undefined) throw new Error(`unknown workload "${name}"; known: ${known.map((w) => w.name).join(', ')}`);
  return workload;
}
