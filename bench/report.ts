// The benchmark's outputs: medians over rounds per cell, the markdown tables (throughput and
// latency; CPU and memory; ratios pooler/PgBouncer and pooler/direct; the split against PgBouncer)
// and an SVG chart of tps against clients, one line per target, one panel per workload.
import type { CellResult } from './pgbench-cell.js';
import type { IdleResult } from './idle-connections.js';
import type { TargetName } from './targets.js';

export interface CellSummary {
  workload: string;
  clients: number;
  target: TargetName;
  status: CellResult['status'];
  error?: string;
  rounds: number;
  tps: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  cpuUsPerXact: number | null;
  userUsPerXact: number | null;
  peakRssBytes: number | null;
  /** split targets: the fewest standbys that served reads in any round; null for the others */
  standbysServing: number | null;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** one summary per (workload, clients, target): medians of the rounds that ran; not ok if any failed */
export function summarize(results: CellResult[]): CellSummary[] {
  const groups = new Map<string, CellResult[]>();
  for (const result of results) {
    const key = `${result.workload}\0${result.clients}\0${result.target}`;
    groups.set(key, [...(groups.get(key) ?? []), result]);
  }
  return [...groups.values()].map((runs) => {
    const first = runs[0]!;
    const bad = runs.find((r) => r.status !== 'ok');
    const ok = runs.filter((r) => r.status === 'ok');
    const cpu = ok.map((r) => r.cpuUsPerXact).filter((v): v is number => v !== null);
    const user = ok.map((r) => r.userUsPerXact).filter((v): v is number => v !== null && v !== undefined);
    const rss = runs.map((r) => r.peakRssBytes).filter((v): v is number => v !== null);
    const served = runs.map((r) => r.standbysServing).filter((v): v is number => v !== undefined);
    return {
      workload: first.workload,
      clients: first.clients,
      target: first.target,
      status: bad?.status ?? 'ok',
      ...(bad?.error ? { error: bad.error } : {}),
      rounds: runs.length,
      tps: median(ok.map((r) => r.tps)),
      latencyP50Ms: median(ok.map((r) => r.latencyP50Ms)),
      latencyP99Ms: median(ok.map((r) => r.latencyP99Ms)),
      cpuUsPerXact: cpu.length > 0 ? median(cpu) : null,
      userUsPerXact: user.length > 0 ? median(user) : null,
      peakRssBytes: rss.length > 0 ? Math.max(...rss) : null,
      standbysServing: served.length > 0 ? Math.min(...served) : null,
    };
  });
}

const TARGETS: TargetName[] = ['direct', 'pgbouncer', 'pooler'];
/** the targets of the read-only workload through read_write_split, each with its number of standbys */
const SPLIT_TARGETS: [TargetName, string, number][] = [
  ['pgbouncer', 'PgBouncer, primary only', 0],
  ['pooler', 'pooler, primary only', 0],
  ['split-1', 'pooler split, 1 standby', 1],
  ['split-2', 'pooler split, 2 standbys', 2],
];

function find(summaries: CellSummary[], workload: string, clients: number, target: TargetName): CellSummary | undefined {
  return summaries.find((s) => s.workload === workload && s.clients === clients && s.target === target);
}

function cell(summary: CellSummary | undefined, value: (s: CellSummary) => string): string {
  if (summary === undefined) return '–';
  if (summary.status !== 'ok') return summary.status;
  return value(summary);
}

function latency(summary: CellSummary | undefined): string {
  return cell(summary, (x) => `${x.latencyP50Ms.toFixed(2)} / ${x.latencyP99Ms.toFixed(2)}`);
}

function ratio(a: number | null | undefined, b: number | null | undefined): string {
  if (a === null || a === undefined || b === null || b === undefined || b === 0 || a === 0) return '–';
  return `${(a / b).toFixed(2)}×`;
}

function okValue(summary: CellSummary | undefined, value: (s: CellSummary) => number | null): number | null {
  return summary?.status === 'ok' ? value(summary) : null;
}

export function markdown(summaries: CellSummary[], idle: IdleResult[]): string {
  const rows = [...new Map(summaries.map((s) => [`${s.workload}\0${s.clients}`, s])).values()];
  const lines = [
    '### Throughput and latency (medians over rounds; latency p50 / p99 in ms)',
    '',
    '| workload | clients | direct tps | PgBouncer tps | pooler tps | pooler / PgBouncer | pooler / direct | direct p50/p99 | PgBouncer p50/p99 | pooler p50/p99 |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const { workload, clients } of rows) {
    const [d, b, p] = TARGETS.map((t) => find(summaries, workload, clients, t));
    const tps = (s: CellSummary | undefined) => cell(s, (x) => x.tps.toFixed(0));
    const tpsOf = (s: CellSummary | undefined) => okValue(s, (x) => x.tps);
    lines.push(`| ${workload} | ${clients} | ${tps(d)} | ${tps(b)} | ${tps(p)} | ${ratio(tpsOf(p), tpsOf(b))} | ${ratio(tpsOf(p), tpsOf(d))} | ${latency(d)} | ${latency(b)} | ${latency(p)} |`);
  }
  lines.push('', '### Pooler process cost (CPU µs per transaction, user + system; peak RSS in MB)', '');
  lines.push(...costTable(summaries, rows, 'pgbouncer', 'PgBouncer', (s) => (s?.peakRssBytes ? (s.peakRssBytes / 2 ** 20).toFixed(1) : '–'), 'peak RSS'));
  if (idle.length > 0) {
    lines.push('', '### Idle clients', '', '| target | idle clients | RSS before (MB) | RSS after (MB) | bytes per client |', '|---|---:|---:|---:|---:|');
    for (const r of idle) {
      lines.push(`| ${r.target} | ${r.connections} | ${(r.rssBeforeBytes / 2 ** 20).toFixed(1)} | ${(r.rssAfterBytes / 2 ** 20).toFixed(1)} | ${r.bytesPerConnection} |`);
    }
  }
  if (summaries.some((s) => s.target.startsWith('split-'))) lines.push('', ...splitTable(summaries, rows));
  if (summaries.some((s) => s.target === 'floor')) {
    lines.push('', '### pooler against the Node floor (bench/node-floor.ts: forwarding with nothing framed or checked), in the same run', '');
    lines.push(...costTable(summaries, rows, 'floor', 'floor', (s) => cell(s, (x) => x.tps.toFixed(0)), 'tps'));
  }
  if (summaries.some((s) => s.target === 'variant')) {
    lines.push('', '### pooler against the variant (--variant settings, --variant-node-args or --variant-cli), in the same run', '');
    lines.push(...costTable(summaries, rows, 'variant', 'variant', (s) => cell(s, (x) => x.tps.toFixed(0)), 'tps'));
  }
  const errors = summaries.filter((s) => s.status !== 'ok');
  if (errors.length > 0) {
    lines.push('', 'Cells that did not run:', '');
    for (const s of errors) lines.push(`- ${s.target}, ${s.workload}, ${s.clients} clients: ${s.status} (${s.error ?? ''})`);
  }
  return lines.join('\n') + '\n';
}

/** CPU per transaction of pooler beside another target's, with one more figure of each */
function costTable(
  summaries: CellSummary[],
  rows: { workload: string; clients: number }[],
  other: TargetName,
  otherLabel: string,
  extra: (s: CellSummary | undefined) => string,
  extraLabel: string,
): string[] {
  const lines = [
    `| workload | clients | ${otherLabel} CPU µs/xact | pooler CPU µs/xact | pooler / ${otherLabel} | ${otherLabel} user µs/xact | pooler user µs/xact | ${otherLabel} ${extraLabel} | pooler ${extraLabel} |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const user = (s: CellSummary | undefined) => cell(s, (x) => (x.userUsPerXact === null ? '–' : x.userUsPerXact.toFixed(1)));
  const cpu = (s: CellSummary | undefined) => cell(s, (x) => (x.cpuUsPerXact ?? 0).toFixed(1));
  const cpuOf = (s: CellSummary | undefined) => okValue(s, (x) => x.cpuUsPerXact);
  for (const { workload, clients } of rows) {
    const o = find(summaries, workload, clients, other);
    const p = find(summaries, workload, clients, 'pooler');
    lines.push(`| ${workload} | ${clients} | ${cpu(o)} | ${cpu(p)} | ${ratio(cpuOf(p), cpuOf(o))} | ${user(o)} | ${user(p)} | ${extra(o)} | ${extra(p)} |`);
  }
  return lines;
}

/** one line per target of each split cell: tps and CPU per transaction, and both against PgBouncer's */
function splitTable(summaries: CellSummary[], rows: { workload: string; clients: number }[]): string[] {
  const lines = [
    '### Read-only through read_write_split (a primary and its standbys; ratios to PgBouncer on the primary)',
    '',
    '| workload | clients | target | tps | tps / PgBouncer | CPU µs/xact | CPU / PgBouncer | p50 / p99 ms | standbys that served reads |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const { workload, clients } of rows) {
    if (find(summaries, workload, clients, 'split-1') === undefined && find(summaries, workload, clients, 'split-2') === undefined) continue;
    const base = find(summaries, workload, clients, 'pgbouncer');
    for (const [target, label, standbys] of SPLIT_TARGETS) {
      const s = find(summaries, workload, clients, target);
      const tps = ratio(okValue(s, (x) => x.tps), okValue(base, (x) => x.tps));
      const cpu = ratio(okValue(s, (x) => x.cpuUsPerXact), okValue(base, (x) => x.cpuUsPerXact));
      const served = s === undefined || s.standbysServing === null ? '–' : `${s.standbysServing} of ${standbys}`;
      lines.push(`| ${workload} | ${clients} | ${label} | ${cell(s, (x) => x.tps.toFixed(0))} | ${tps} | ${cell(s, (x) => (x.cpuUsPerXact ?? 0).toFixed(1))} | ${cpu} | ${latency(s)} | ${served} |`);
    }
  }
  return lines;
}

const COLORS: Record<TargetName, string> = {
  direct: '#888888',
  pgbouncer: '#1f77b4',
  pooler: '#d62728',
  variant: '#ff9896',
  'split-1': '#2ca02c',
  'split-2': '#9467bd',
  floor: '#bbbbbb',
};

/** small multiples: one panel per workload, x = clients on a log scale, y = tps from 0 */
export function svgChart(summaries: CellSummary[]): string {
  const workloads = [...new Set(summaries.map((s) => s.workload))];
  const clients = [...new Set(summaries.map((s) => s.clients))].sort((a, b) => a - b);
  const panelW = 300;
  const panelH = 200;
  const columns = Math.min(3, workloads.length);
  const rowsCount = Math.ceil(workloads.length / columns);
  // the legend names only the targets this run measured
  const drawn = (Object.keys(COLORS) as TargetName[]).filter((t) => t !== 'variant' && t !== 'floor' && summaries.some((s) => s.target === t));
  const width = Math.max(columns * panelW, drawn.length * 110) + 20;
  const height = rowsCount * panelH + 60;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`];
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  drawn.forEach((t, i) => {
    parts.push(`<rect x="${20 + i * 110}" y="10" width="12" height="12" fill="${COLORS[t]}"/><text x="${36 + i * 110}" y="20">${t}</text>`);
  });
  workloads.forEach((workload, index) => {
    const x0 = 10 + (index % columns) * panelW + 45;
    const y0 = 40 + Math.floor(index / columns) * panelH + 20;
    const w = panelW - 65;
    const h = panelH - 60;
    const cells = summaries.filter((s) => s.workload === workload && s.status === 'ok');
    const maxTps = Math.max(1, ...cells.map((s) => s.tps));
    const xOf = (c: number) => x0 + (clients.length === 1 ? w / 2 : (clients.indexOf(c) / (clients.length - 1)) * w);
    const yOf = (tps: number) => y0 + h - (tps / maxTps) * h;
    parts.push(`<text x="${x0}" y="${y0 - 6}" font-weight="bold">${workload}</text>`);
    parts.push(`<line x1="${x0}" y1="${y0 + h}" x2="${x0 + w}" y2="${y0 + h}" stroke="black"/><line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y0 + h}" stroke="black"/>`);
    parts.push(`<text x="${x0 - 4}" y="${y0 + 4}" text-anchor="end">${maxTps.toFixed(0)}</text><text x="${x0 - 4}" y="${y0 + h}" text-anchor="end">0</text>`);
    for (const c of clients) parts.push(`<text x="${xOf(c)}" y="${y0 + h + 14}" text-anchor="middle">${c}</text>`);
    parts.push(`<text x="${x0 + w / 2}" y="${y0 + h + 28}" text-anchor="middle">clients</text>`);
    for (const target of drawn) {
      const points = clients
        .map((c) => cells.find((s) => s.clients === c && s.target === target))
        .filter((s): s is CellSummary => s !== undefined)
        .map((s) => `${xOf(s.clients).toFixed(1)},${yOf(s.tps).toFixed(1)}`);
      if (points.length === 0) continue;
      parts.push(`<polyline fill="none" stroke="${COLORS[target]}" stroke-width="2" points="${points.join(' ')}"/>`);
      for (const point of points) {
        const [px, py] = point.split(',');
        parts.push(`<circle cx="${px}" cy="${py}" r="3" fill="${COLORS[target]}"/>`);
      }
    }
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
