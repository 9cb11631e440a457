// deploy/: every Kubernetes manifest and both shapes of the Helm chart are valid against the
// Kubernetes API schemas (kubernetes-models), their probes, ports and grace periods agree with the
// pooler configuration they carry, the Dockerfile drains on stop, and the environment-only
// configuration of deployment.yaml really runs a pooler.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../src/config/index.js';
import type { Settings } from '../src/config/types.js';
import { freePort } from '../src/net/free-port.js';
import { getPostgres } from './harness/context.js';
import { cli, CLI } from './support/cli.js';
import { renderChart } from './support/helm-render.js';
import { spawn } from 'node:child_process';

const DEPLOY = join(import.meta.dirname, '..', 'deploy');
// parsed YAML: its shape is checked by the API schemas, not by TypeScript
type Manifest = Record<string, any>;
const scratch = mkdtempSync(join(tmpdir(), 'pooler-deploy-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** validates against the API schema of the manifest's apiVersion and kind; throws with the schema's complaint */
async function validate(manifest: Manifest): Promise<void> {
  const apiVersion: string = manifest.apiVersion;
  const kind: string = manifest.kind;
  const module = apiVersion.startsWith('monitoring.coreos.com/')
    ? `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`
    : `kubernetes-models/${apiVersion}/${kind}`;
  const models = (await import(module)) as Record<string, new (data: Manifest) => { validate(): void }>;
  new models[kind]!(manifest).validate();
}

function manifestsIn(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => doc.toJS() as Manifest).filter((m) => m !== null);
}

/** the pooler settings a pod runs with: its ConfigMap's pooler.ini, else its POOLER_* environment */
function settingsOf(container: Manifest, manifests: Manifest[]): Settings {
  const configMap = manifests.find((m) => m.kind === 'ConfigMap');
  if (configMap !== undefined && (container.args as string[]).includes('-c')) {
    const dir = mkdtempSync(join(scratch, 'ini-'));
    writeFileSync(join(dir, 'pooler.ini'), configMap.data['pooler.ini']);
    writeFileSync(join(dir, 'userlist.txt'), '');
    const text = readFileSync(join(dir, 'pooler.ini'), 'utf8').replace(/auth_file = .*/, `auth_file = ${join(dir, 'userlist.txt')}`);
    writeFileSync(join(dir, 'pooler.ini'), text);
    return loadConfig({ file: 'pooler.ini', cwd: dir, env: {} }).settings;
  }
  const env = Object.fromEntries((container.env ?? []).map((e: Manifest) => [e.name, String(e.value)]));
  return loadConfig({ env: { ...env, DATABASE_URL: 'postgres://app:pw@db.example:5432/app' } }).settings;
}

/** the checks every pod running pooler must pass */
function checkPoolerPod(deployment: Manifest, manifests: Manifest[]): void {
  const spec = deployment.spec.template.spec;
  const sidecar = (spec.initContainers ?? []).find((c: Manifest) => c.name === 'pooler');
  const container = sidecar ?? spec.containers.find((c: Manifest) => c.name === 'pooler');
  expect(container, 'a container named pooler').toBeDefined();
  const settings = settingsOf(container, manifests);
  const port = (name: string) => container.ports.find((p: Manifest) => p.name === name)?.containerPort;
  expect(container.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'metrics' });
  expect(container.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'metrics' });
  expect(port('metrics')).toBe(settings.metrics_port);
  expect(settings.metrics_listen_addr).toBe('0.0.0.0'); // the kubelet probes the pod IP
  expect(spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(settings.shutdown_timeout);
  expect(container.resources.requests.cpu).toBeDefined();
  expect(container.resources.requests.memory).toBeDefined();
  if (sidecar !== undefined) {
    expect(sidecar.restartPolicy).toBe('Always');
    expect(settings.listen_addr).toBe('127.0.0.1');
    const app = spec.containers[0];
    const url = app.env.find((e: Manifest) => e.name === 'DATABASE_URL').value as string;
    expect(new URL(url).port).toBe(String(settings.listen_port));
  } else {
    expect(port('postgres')).toBe(settings.listen_port);
    const service = manifests.find((m) => m.kind === 'Service')!;
    expect(service.spec.ports.find((p: Manifest) => p.name === 'postgres').targetPort).toBe('postgres');
  }
}

describe('deploy/kubernetes', () => {
  const files = readdirSync(join(DEPLOY, 'kubernetes')).filter((f) => f.endsWith('.yaml'));

  it.each(files)('%s is valid against the Kubernetes API schemas', async (file) => {
    const manifests = manifestsIn(join(DEPLOY, 'kubernetes', file));
    expect(manifests.length).toBeGreaterThan(0);
    for (const manifest of manifests) await validate(manifest);
  });

  it.each(['sidecar.yaml', 'deployment.yaml'])('%s: probes, ports and grace period agree with its pooler settings', (file) => {
    const manifests = manifestsIn(join(DEPLOY, 'kubernetes', file));
    checkPoolerPod(manifests.find((m) => m.kind === 'Deployment')!, manifests);
  });

  it('the schema check catches a broken manifest', async () => {
    const [deployment] = manifestsIn(join(DEPLOY, 'kubernetes', 'deployment.yaml')).filter((m) => m.kind === 'Deployment');
    deployment!.spec.replicas = 'two';
    await expect(validate(deployment!)).rejects.toThrow();
  });
});

describe('deploy/helm/pooler', () => {
  const chart = join(DEPLOY, 'helm', 'pooler');

  it.each(['deployment', 'sidecar'])('renders the %s shape into valid manifests that agree with their settings', async (shape) => {
    const manifests = renderChart(chart, { shape }, 'orders');
    const kinds = manifests.map((m) => m.kind as string).sort();
    expect(kinds).toEqual(shape === 'deployment' ? ['ConfigMap', 'Deployment', 'Secret', 'Service', 'ServiceMonitor'] : ['ConfigMap', 'Deployment', 'Secret']);
    for (const manifest of manifests) await validate(manifest as Manifest);
    checkPoolerPod(manifests.find((m) => m.kind === 'Deployment') as Manifest, manifests as Manifest[]);
  });
});

describe('deploy/docker/Dockerfile', () => {
  const dockerfile = readFileSync(join(DEPLOY, 'docker', 'Dockerfile'), 'utf8');

  it('builds in stages from Node 20 slim, runs compiled JS as a non-root user, and stops with the draining signal', () => {
    expect(dockerfile.match(/^FROM node:20-slim/gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "dist\/cli\/main\.js"\]$/m);
    expect(dockerfile).not.toMatch(/COPY src .*\/app/);
  });
});

describe('configuration by environment', () => {
  const postgres = getPostgres();

  it('runs a pooler from deployment.yaml\'s environment alone, and check-config says where each value came from', async () => {
    const [deployment] = manifestsIn(join(DEPLOY, 'kubernetes', 'deployment.yaml')).filter((m) => m.kind === 'Deployment');
    const container = deployment!.spec.template.spec.containers[0];
    const env: Record<string, string> = Object.fromEntries(container.env.map((e: Manifest) => [e.name, String(e.value)]));
    const port = await freePort();
    Object.assign(env, {
      DATABASE_URL: `postgres://postgres@${postgres.host}:${postgres.port}/pooler_test`,
      POOLER_LISTEN_ADDR: '127.0.0.1',
      POOLER_LISTEN_PORT: String(port),
      POOLER_METRICS_PORT: String(await freePort()),
    });

    const described = await cli(['check-config'], env);
    expect(described.code, described.stderr).toBe(0);
    expect(described.stdout).toMatch(/pool_mode\s+transaction\s+env POOLER_POOL_MODE/);
    expect(described.stdout).toMatch(/max_client_conn\s+2000\s+env POOLER_MAX_CLIENT_CONN/);

    const child = spawn(process.execPath, [CLI, 'start'], { env: { ...process.env, ...env }, stdio: 'ignore' });
    try {
      let client: pg.Client | null = null;
      for (let i = 0; i < 50 && client === null; i++) {
        const attempt = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/pooler_test` });
        client = await attempt.connect().then(() => attempt, () => null);
        if (client === null) await new Promise((r) => setTimeout(r, 100));
      }
      expect(client).not.toBeNull();
      const { rows } = await client!.query('SELECT current_database() AS db');
      expect(rows[0].db).toBe('pooler_test');
      await client!.end();
    } finally {
      child.kill('SIGQUIT');
    }
  });
});
