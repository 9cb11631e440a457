// A Prometheus metric whose samples are read from the pooler's own counters when scraped, so the
// data path never calls into prom-client; registered on a prom-client Registry like any metric.
import type { Metric, Registry } from 'prom-client';

export interface Sample {
  labels: Record<string, string | number>;
  value: number;
  /** for histogram series: name_bucket, name_sum, name_count */
  metricName?: string;
}

export function registerScrapeMetric(
  registry: Registry,
  name: string,
  help: string,
  type: 'gauge' | 'counter' | 'histogram',
  read: () => Sample[],
): void {
  const metric = {
    name,
    get: async () => ({ name, help, type, values: read(), aggregator: 'sum' }),
  };
  registry.registerMetric(metric as unknown as Metric);
}
