// `default_pool_size = auto`: the server-side rule of thumb for how many connections keep a
// PostgreSQL server busy without making its backends fight for CPU and disk.

export interface AutoPoolSize {
  size: number;
  /** the sum written out, for `pooler size` and check-config: '4 × 2 + 1 = 9' */
  arithmetic: string;
}

/**
 * cores × 2 + effective spindles (the PostgreSQL wiki's "connections = ((core_count * 2) +
 * effective_spindle_count)"). Cores and spindles are the database server's, not the pooler's:
 * while one backend waits on disk another can use the core, hence the factor of two.
 */
export function computeAutoPoolSize(cores: number, spindles: number): AutoPoolSize {
  const size = cores * 2 + spindles;
  return { size, arithmetic: `${cores} × 2 + ${spindles} = ${size}` };
}
