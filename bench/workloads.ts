// The benchmark matrix: pgbench workloads (select-only and TPC-B in each query protocol, and
// connect-per-transaction) and client counts.

export interface Workload {
  /** a short key for tables and the JSON */
  name: string;
  /** pgbench arguments that define it */
  args: string[];
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

export const CLIENT_COUNTS: readonly number[] = [1, 10, 100, 1000];

export function findWorkload(name: string): Workload {
  const workload = WORKLOADS.find((w) => w.name === name);
  if (workload === undefined) throw new Error(`unknown workload "${name}"; known: ${WORKLOADS.map((w) => w.name).join(', ')}`);
  return workload;
}
