// The cancel forwarder with fake sockets: one connection per server however many cancels arrive,
// nothing sent when the link changed while connecting, and the server held until the cancel is done.
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { CancelForwarder } from './cancel-forwarder.js';
import { defaultSettings } from '../config/settings.js';
import type { Logger } from '../log.js';
import type { Link } from '../pool/link.js';
import type { PoolServer } from '../pool/pool-server.js';

class FakeSocket extends EventEmitter {
  sent: Buffer | null = null;
  destroyed = false;
  end(data: Buffer): void {
    this.sent = data;
    this.emit('close');
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
  setTimeout(): void {}
}

const quiet = { debug: () => undefined, warn: () => undefined } as unknown as Logger;

function setup() {
  const sockets: FakeSocket[] = [];
  const forwarder = new CancelForwarder({ log: quiet, settings: defaultSettings() }, () => {
    const socket = new FakeSocket();
    sockets.push(socket);
    return socket as unknown as net.Socket;
  });
  const server = { target: { host: '127.0.0.1', port: 5432 }, processId: 42, secretKey: 7, closed: false } as unknown as PoolServer;
  const drained: Link[] = [];
  const client = { server, pool: { onClientDrained: (c: Link) => drained.push(c) } } as unknown as Link & { server: PoolServer | null };
  return { forwarder, sockets, server, client, drained };
}

describe('CancelForwarder', () => {
  it('opens one connection per server however many cancels arrive, and sends the server\'s key', () => {
    const { forwarder, sockets, server, client, drained } = setup();
    for (let i = 0; i < 1000; i++) forwarder.forward(client);
    expect(sockets).toHaveLength(1);
    expect(forwarder.beingCanceled(server)).toBe(true);
    sockets[0]!.emit('connect');
    expect(sockets[0]!.sent!.readInt32BE(8)).toBe(42);
    expect(sockets[0]!.sent!.readInt32BE(12)).toBe(7);
    // done: the server may go to another client, and the held release is retried
    expect(forwarder.beingCanceled(server)).toBe(false);
    expect(drained).toEqual([client]);
    forwarder.forward(client);
    expect(sockets).toHaveLength(2);
  });

  it('sends nothing when the client is no longer linked to that server once connected', () => {
    const { forwarder, sockets, client, drained } = setup();
    forwarder.forward(client);
    client.server = null;
    sockets[0]!.emit('connect');
    expect(sockets[0]!.sent).toBeNull();
    expect(sockets[0]!.destroyed).toBe(true);
    expect(drained).toEqual([]);
  });

  it('sends nothing when the server closed while connecting, and nothing for an idle client', () => {
    const { forwarder, sockets, server, client } = setup();
    forwarder.forward(client);
    (server as { closed: boolean }).closed = true;
    sockets[0]!.emit('connect');
    expect(sockets[0]!.sent).toBeNull();
    client.server = null;
    forwarder.forward(client);
    expect(sockets).toHaveLength(1);
  });
});
