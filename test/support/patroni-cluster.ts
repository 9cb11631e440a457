// A real Patroni 3 + etcd cluster for failover tests, started and stopped with
// deploy/patroni/cluster.sh: the members, who leads, switchover, and killing a node outright.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, '..', '..', 'deploy', 'patroni', 'cluster.sh');

export interface PatroniNode {
  name: string;
  pgPort: number;
  apiUrl: string;
  pidfile: string;
  dataDir: string;
}

export interface LeaderInfo {
  name: string;
  port: number;
}

export class PatroniCluster {
  private constructor(
    readonly dir: string,
    readonly nodes: PatroniNode[],
  ) {}

  static async start(): Promise<PatroniCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'pooler-patroni-'));
    const { stdout } = await run(SCRIPT, ['start', dir], { encoding: 'utf8' });
    const nodes = stdout
      .split('\n')
      .filter((line) => line.startsWith('node'))
      .map((line) => {
        const field = (key: string) => new RegExp(`${key}=(\\S+)`).exec(line)![1]!;
        return { name: line.split(' ')[0]!, pgPort: Number(field('pg')), apiUrl: field('api'), pidfile: field('pidfile'), dataDir: field('data') };
      });
    return new PatroniCluster(dir, nodes);
  }

  get apiUrls(): string[] {
    return this.nodes.map((node) => node.apiUrl);
  }

  /** GET /cluster from the first node that answers */
  async members(): Promise<{ name: string; role: string; state: string; port: number }[]> {
    for (const node of this.nodes) {
      try {
        const response = await fetch(`${node.apiUrl}/cluster`, { signal: AbortSignal.timeout(1000) });
        return ((await response.json()) as { members: { name: string; role: string; state: string; port: number }[] }).members;
      } catch {
        // that node is down; ask the next
      }
    }
    return [];
  }

  /** the running leader whose own /primary check says it is a primary, or null */
  async leader(): Promise<LeaderInfo | null> {
    const leader = (await this.members()).find((m) => ['leader', 'master', 'primary'].includes(m.role) && m.state === 'running');
    if (leader === undefined) return null;
    const node = this.nodes.find((n) => n.name === leader.name)!;
    try {
      const response = await fetch(`${node.apiUrl}/primary`, { signal: AbortSignal.timeout(1000) });
      return response.status === 200 ? { name: leader.name, port: leader.port } : null;
    } catch {
      return null;
    }
  }

  /** waits for a confirmed leader other than `not`; resolves with it and when it was first seen */
  async waitForLeader(not: string | null, timeoutMs: number): Promise<LeaderInfo & { at: number }> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const leader = await this.leader();
      if (leader !== null && leader.name !== not) return { ...leader, at: Date.now() };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no new leader within ${timeoutMs} ms`);
  }

  /** a switchover in synchronous mode needs a synchronous standby that is up to date */
  async waitForSyncStandby(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const members = await this.members();
      if (members.some((m) => m.role === 'sync_standby' && (m.state === 'running' || m.state === 'streaming'))) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`no synchronous standby within ${timeoutMs} ms`);
  }

  /** planned switchover through the REST API, to the synchronous standby when there is one */
  async switchover(leader: string): Promise<void> {
    const members = await this.members();
    const candidate = members.find((m) => m.role === 'sync_standby')?.name ?? members.find((m) => m.name !== leader)!.name;
    const node = this.nodes.find((n) => n.name === leader)!;
    const response = await fetch(`${node.apiUrl}/switchover`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ leader, candidate }),
    });
    if (response.status !== 200) throw new Error(`switchover refused: ${response.status} ${await response.text()}`);
  }

  /** SIGKILL a node's Patroni and its PostgreSQL postmaster: the machine died */
  killNode(name: string): void {
    const node = this.nodes.find((n) => n.name === name)!;
    for (const pid of [readFileSync(node.pidfile, 'utf8'), readFileSync(join(node.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]!]) {
      try {
        process.kill(Number(pid.trim()), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  async stop(): Promise<void> {
    await run(SCRIPT, ['stop', this.dir]).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
