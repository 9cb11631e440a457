// Reading a Patroni cluster: GET /cluster from every REST API URL in parallel, in Patroni 3 and 4
// spellings (leader/master, running/streaming), and the rule for the one member writes may go to:
// the leader Patroni agrees on, confirmed by that member's own /primary check (not in recovery);
// and the replicas reads may be balanced over.

export interface PatroniMember {
  name: string;
  host: string;
  port: number;
  /** leader, replica, sync_standby, standby_leader (Patroni 4 says primary for 3's master) */
  role: string;
  /** running, streaming, starting, stopped, ... */
  state: string;
  /** replication lag in bytes; null for the leader or when Patroni does not know */
  lag: number | null;
  apiUrl: string | null;
  /** tags.noloadbalance: Patroni's own /replica check leaves such a member out, and so do we */
  noloadbalance: boolean;
}

export interface PatroniView {
  members: PatroniMember[];
  /** the member that holds the leader key, or null */
  leader: PatroniMember | null;
  /** why there is no leader to write to; null when there is one */
  problem: string | null;
}

const LEADER_ROLES = new Set(['leader', 'master', 'primary']);

/** Patroni's role for the member that takes writes, in any version's spelling */
export function isLeaderRole(role: string): boolean {
  return LEADER_ROLES.has(role);
}

function member(raw: Record<string, unknown>): PatroniMember | null {
  if (typeof raw.name !== 'string' || typeof raw.host !== 'string') return null;
  const lag = typeof raw.lag === 'number' ? raw.lag : null;
  return {
    name: raw.name,
    host: raw.host,
    port: typeof raw.port === 'number' ? raw.port : Number(raw.port ?? 5432),
    role: String(raw.role ?? 'unknown'),
    state: String(raw.state ?? 'unknown'),
    lag,
    apiUrl: typeof raw.api_url === 'string' ? raw.api_url.replace(/\/patroni$/, '') : null,
    // Patroni tests the tag for truth as Python does, so "false" as a string still counts
    noloadbalance: Boolean((raw.tags as Record<string, unknown> | undefined)?.noloadbalance),
  };
}

/** quorum_standby is Patroni 4's sync_standby under quorum commit */
const REPLICA_ROLES = new Set(['replica', 'sync_standby', 'quorum_standby']);
/** running before Patroni 3.0.4; streaming from then on (not `in archive recovery`: it may be far behind) */
const REPLICA_STATES = new Set(['running', 'streaming']);

/** the member's PostgreSQL runs (or streams) as Patroni last saw it: anything else is down, starting or far behind */
export function memberRuns(member: Pick<PatroniMember, 'state'>): boolean {
  return REPLICA_STATES.has(member.state);
}

/** the members reads may go to: replicas that stream and are not tagged noloadbalance */
export function balancedReplicas(members: readonly PatroniMember[]): PatroniMember[] {
  return members.filter((m) => REPLICA_ROLES.has(m.role) && REPLICA_STATES.has(m.state) && !m.noloadbalance);
}

/** one /cluster answer, as Patroni 3.x and 4.x write it */
export function readCluster(body: unknown): PatroniView {
  const raw = (body as { members?: unknown }).members;
  const members = Array.isArray(raw) ? raw.map((m) => member(m as Record<string, unknown>)).filter((m): m is PatroniMember => m !== null) : [];
  const leaders = members.filter((m) => LEADER_ROLES.has(m.role));
  if (leaders.length > 1) {
    return { members, leader: null, problem: `members ${leaders.map((m) => m.name).join(' and ')} both claim to be the leader` };
  }
  const leader = leaders[0] ?? null;
  if (leader === null) return { members, leader: null, problem: 'Patroni reports no leader (a failover is under way)' };
  if (leader.state !== 'running') return { members, leader: null, problem: `leader ${leader.name} is ${leader.state}, not running` };
  return { members, leader, problem: null };
}

async function getJson(url: string, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // /primary answers JSON, but only the status matters there
  }
  return { status: response.status, body };
}

/**
 * Ask every URL at once. Answers that disagree about the leader (one node still thinks it leads
 * while the others have moved on) mean there is no leader to trust yet.
 */
export async function pollCluster(urls: readonly string[], timeoutMs: number): Promise<PatroniView> {
  const answers = await Promise.allSettled(urls.map((url) => getJson(`${url.replace(/\/$/, '')}/cluster`, timeoutMs)));
  const views = answers.flatMap((a) => (a.status === 'fulfilled' && a.value.status === 200 ? [readCluster(a.value.body)] : []));
  if (views.length === 0) return { members: [], leader: null, problem: `no Patroni REST API answered (${urls.join(', ')})` };
  const leaderNames = new Set(views.map((v) => v.leader?.name ?? null));
  const best = views.find((v) => v.leader !== null) ?? views[0]!;
  if (leaderNames.size > 1) {
    return { members: best.members, leader: null, problem: `Patroni members disagree about the leader (${[...leaderNames].map(String).join(', ')})` };
  }
  return best;
}

/** the member's own health check: 200 only while it runs as the primary, not in recovery */
export async function confirmsPrimary(member: PatroniMember, timeoutMs: number): Promise<boolean> {
  if (member.apiUrl === null) return false;
  try {
    return (await getJson(`${member.apiUrl}/primary`, timeoutMs)).status === 200;
  } catch {
    return false;
  }
}
