// The HTTP side of the pooler on metrics_port: GET /metrics (Prometheus text), GET /healthz (the
// process answers) and GET /readyz (200 or 503 with a JSON reason), for Kubernetes probes and
// load balancers.
import http from 'node:http';
import type { Logger } from '../log.js';
import type { ConsoleView } from '../admin/console-context.js';
import { createPoolerMetrics } from './pooler-metrics.js';
import { ReadinessProbe } from './readiness.js';

export interface MetricsEndpoint {
  port: number;
  close(): Promise<void>;
}

export async function startMetricsEndpoint(view: ConsoleView, host: string, port: number, log: Logger): Promise<MetricsEndpoint> {
  const registry = createPoolerMetrics(view);
  const readiness = new ReadinessProbe(view);
  const server = http.createServer((request, response) => {
    const reply = (status: number, type: string, body: string) => {
      response.writeHead(status, { 'content-type': type });
      response.end(body);
    };
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') return reply(405, 'text/plain', 'only GET\n');
    switch (path) {
      case '/metrics':
        return void registry.metrics().then(
          (text) => reply(200, registry.contentType, text),
          (error: Error) => reply(500, 'text/plain', `${error.message}\n`),
        );
      case '/healthz':
        return reply(200, 'text/plain', 'ok\n');
      case '/readyz':
        return void readiness.check().then((state) => reply(state.ready ? 200 : 503, 'application/json', JSON.stringify(state) + '\n'));
      default:
        return reply(404, 'text/plain', 'not found: try /metrics, /healthz or /readyz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as { port: number }).port;
  log.info({ host, port: bound }, `metrics and health on http://${host}:${bound}/metrics, /healthz, /readyz`);
  return {
    port: bound,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
