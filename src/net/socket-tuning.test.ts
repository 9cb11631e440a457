// tuneSocket as the kernel reports it (ss), and WriteStall against a real peer that stops reading.
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { tuneSocket, WriteStall, type TcpTuning } from './socket-tuning.js';

const opened: net.Socket[] = [];
const servers: net.Server[] = [];

afterEach(() => {
  for (const socket of opened.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) server.close();
});

/** a connected pair on loopback: `ours` dials, `theirs` is the accepted end */
async function pair(): Promise<{ ours: net.Socket; theirs: net.Socket }> {
  const accepted = new Promise<net.Socket>((resolve) => {
    const server = net.createServer(resolve);
    servers.push(server);
    server.listen(0, '127.0.0.1');
  });
  await new Promise((resolve) => servers.at(-1)!.once('listening', resolve));
  const ours = net.connect({ host: '127.0.0.1', port: (servers.at(-1)!.address() as net.AddressInfo).port });
  await new Promise((resolve) => ours.once('connect', resolve));
  const theirs = await accepted;
  opened.push(ours, theirs);
  return { ours, theirs };
}

/** the keepalive timer `ss` shows for the socket bound to `localPort`, in seconds; null without one */
function keepaliveTimer(localPort: number): number | null {
  const out = execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${localPort} )`]).toString();
  const match = /timer:\(keepalive,(?:(\d+)min)?(?:(\d+)sec)?/.exec(out);
  return match ? Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0) : null;
}

const tuning = (overrides: Partial<TcpTuning>): TcpTuning => ({
  tcp_keepalive: true,
  tcp_keepidle: 0,
  tcp_keepintvl: 0,
  tcp_keepcnt: 0,
  tcp_user_timeout: 0,
  ...overrides,
});

describe('tuneSocket', () => {
  it('sets TCP_KEEPIDLE from tcp_keepidle, leaves the OS default without it, and turns keepalive off', async () => {
    const idle = await pair();
    tuneSocket(idle.ours, tuning({ tcp_keepidle: 42 }));
    const osDefault = await pair();
    tuneSocket(osDefault.ours, tuning({}));
    const off = await pair();
    tuneSocket(off.ours, tuning({ tcp_keepalive: false, tcp_keepidle: 42 }));
    const timer = keepaliveTimer(idle.ours.localPort!);
    expect(timer).toBeGreaterThan(30);
    expect(timer).toBeLessThanOrEqual(42);
    expect(keepaliveTimer(osDefault.ours.localPort!)).toBeGreaterThan(42);
    expect(keepaliveTimer(off.ours.localPort!)).toBeNull();
  });
});

describe('WriteStall', () => {
  it('counts from the first sample that finds queued bytes the peer does not take, and starts over when it takes some', async () => {
    const { ours, theirs } = await pair();
    const stall = new WriteStall();
    expect(stall.stalledFor(ours, 1000)).toBe(0);
    theirs.pause();
    // more than the kernel buffers of both ends hold, in writes small enough to show progress
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < 512; i++) ours.write(chunk);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ours.writableLength).toBeGreaterThan(0);
    expect(stall.stalledFor(ours, 2000)).toBe(0);
    expect(stall.stalledFor(ours, 2500)).toBe(500);
    expect(stall.stalledFor(ours, 3000)).toBe(1000);
    const takenBefore = ours.bytesWritten - ours.writableLength;
    theirs.resume();
    // wait for the kernel to take some bytes (a fixed sleep is too short on a loaded machine)
    while (ours.bytesWritten - ours.writableLength === takenBefore) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(stall.stalledFor(ours, 3100)).toBe(0);
    await new Promise((resolve) => ours.once('drain', resolve));
    expect(stall.stalledFor(ours, 9000)).toBe(0);
  });
});
