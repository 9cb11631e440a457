// The one way to open a connection to a PostgreSQL server, by TCP or by Unix socket, for server
// logins, cancel requests and readiness probes alike.
import net from 'node:net';

export interface ConnectTarget {
  /** host name or IP; a path starting with '/' is a directory holding the Unix socket (libpq's rule) */
  host: string;
  port: number;
}

export function isUnixHost(host: string): boolean {
  return host.startsWith('/');
}

/** the socket PostgreSQL (and PgBouncer) listens on in a directory: <dir>/.s.PGSQL.<port> */
export function unixSocketPath(dir: string, port: number): string {
  return `${dir}/.s.PGSQL.${port}`;
}

export function connect({ host, port }: ConnectTarget): net.Socket {
  return isUnixHost(host) ? net.connect({ path: unixSocketPath(host, port) }) : net.connect({ host, port });
}

/** where a connection goes, as messages name it: "host:port" or "socket /dir/.s.PGSQL.port" */
export function describeTarget({ host, port }: ConnectTarget): string {
  return isUnixHost(host) ? `socket ${unixSocketPath(host, port)}` : `${host}:${port}`;
}
