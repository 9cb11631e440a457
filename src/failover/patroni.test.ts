import { describe, expect, it } from 'vitest';
import { balancedReplicas, readCluster } from './patroni.js';

// /cluster as Patroni 3.0 (Debian 12) writes it, and as Patroni 4 does (primary, streaming)
const PATRONI_3 = {
  members: [
    { name: 'node1', role: 'leader', state: 'running', api_url: 'http://127.0.0.1:8008/patroni', host: '127.0.0.1', port: 5433, timeline: 1 },
    { name: 'node2', role: 'sync_standby', state: 'running', api_url: 'http://127.0.0.1:8009/patroni', host: '127.0.0.1', port: 5434, timeline: 1, lag: 0 },
    { name: 'node3', role: 'replica', state: 'running', api_url: 'http://127.0.0.1:8010/patroni', host: '127.0.0.1', port: 5435, timeline: 1, lag: 16 },
  ],
};
const PATRONI_4 = {
  members: [
    { name: 'a', role: 'primary', state: 'running', api_url: 'http://10.0.0.1:8008/patroni', host: '10.0.0.1', port: 5432 },
    { name: 'b', role: 'replica', state: 'streaming', api_url: 'http://10.0.0.2:8008/patroni', host: '10.0.0.2', port: 5432, lag: 0 },
  ],
};

describe('reading Patroni /cluster', () => {
  it('finds the leader in Patroni 3 spelling, with members, roles and lag', () => {
    const view = readCluster(PATRONI_3);
    expect(view.problem).toBeNull();
    expect(view.leader).toMatchObject({ name: 'node1', host: '127.0.0.1', port: 5433, apiUrl: 'http://127.0.0.1:8008' });
    expect(view.members.map((m) => [m.name, m.role, m.lag])).toEqual([
      ['node1', 'leader', null],
      ['node2', 'sync_standby', 0],
      ['node3', 'replica', 16],
    ]);
  });

  it('finds the primary in Patroni 4 spelling', () => {
    expect(readCluster(PATRONI_4).leader?.name).toBe('a');
    expect(readCluster({ members: [{ ...PATRONI_4.members[0], role: 'master' }] }).leader?.name).toBe('a');
  });

  it('refuses to pick when two members claim to lead, when none does, or when the leader is not running', () => {
    const two = readCluster({ members: [PATRONI_3.members[0], { ...PATRONI_3.members[1], role: 'leader' }] });
    expect(two.leader).toBeNull();
    expect(two.problem).toBe('members node1 and node2 both claim to be the leader');
    expect(readCluster({ members: PATRONI_3.members.slice(1) }).problem).toMatch(/no leader/);
    expect(readCluster({ members: [{ ...PATRONI_3.members[0], state: 'stopped' }] }).problem).toBe('leader node1 is stopped, not running');
  });
});

describe('the replicas reads are balanced over', () => {
  it('are the streaming replicas and sync standbys, in Patroni 3 and 4 spelling, less any tagged noloadbalance', () => {
    const members = readCluster({
      members: [
        ...PATRONI_3.members,
        { name: 'node4', role: 'replica', state: 'streaming', host: '127.0.0.1', port: 5436, lag: 0 },
        { name: 'node5', role: 'quorum_standby', state: 'streaming', host: '127.0.0.1', port: 5437, lag: 0 },
        { name: 'node6', role: 'replica', state: 'running', host: '127.0.0.1', port: 5438, tags: { noloadbalance: true } },
        { name: 'node7', role: 'replica', state: 'in archive recovery', host: '127.0.0.1', port: 5439 },
        { name: 'node8', role: 'replica', state: 'starting', host: '127.0.0.1', port: 5440 },
        { name: 'node9', role: 'standby_leader', state: 'running', host: '127.0.0.1', port: 5441 },
      ],
    }).members;
    expect(balancedReplicas(members).map((m) => m.name)).toEqual(['node2', 'node3', 'node4', 'node5']);
    expect(members.find((m) => m.name === 'node6')!.noloadbalance).toBe(true);
    expect(members.find((m) => m.name === 'node4')!.noloadbalance).toBe(false);
  });
});
