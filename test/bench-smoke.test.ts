// Keeps `npm run bench` working: one short cell against PostgreSQL direct, PgBouncer, pooler and
// the Node floor, and the JSON, markdown and SVG it writes. No timing is asserted; the figures are the bench's job.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const out = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npm run bench -- --quick --floor', () => {
  it('measures every target and writes JSON, markdown and SVG', async () => {
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile('npm', ['run', '--silent', 'bench', '--', '--quick', '--floor', '--seconds', '1', '--idle', '20', '--out', out], { cwd: join(import.meta.dirname, '..') }, (error, stdout, stderr) =>
        // the error says what stderr may not: a signal, a spawn failure, an exit code
        resolve({ code: error ? 1 : 0, stdout, stderr: error ? `${stderr}\n${error.message}\n${stdout.slice(-2000)}` : stderr }),
      );
    });
    expect(result.code, result.stderr).toBe(0);
    const files = readdirSync(out);
    const json = files.find((f) => f.endsWith('.json'))!;
    const report = JSON.parse(readFileSync(join(out, json), 'utf8')) as { summaries: { target: string; status: string; tps: number }[]; idle: { target: string }[] };
    expect(report.summaries.map((s) => [s.target, s.status])).toEqual([
      ['direct', 'ok'],
      ['pgbouncer', 'ok'],
      ['pooler', 'ok'],
      ['floor', 'ok'],
    ]);
    expect(report.summaries.every((s) => s.tps > 0)).toBe(true);
    expect(report.idle.map((r) => r.target)).toEqual(['pgbouncer', 'pooler']);
    expect(files.some((f) => f.endsWith('.svg'))).toBe(true);
    expect(result.stdout).toContain('| select-only extended | 10 |');
    expect(result.stdout).toContain('pooler against the Node floor');
  }, 180_000);
});
