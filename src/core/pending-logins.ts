// Connections that have not sent a startup packet yet, or are logging in to the console: they do not
// count against max_client_conn, and there are at most a bounded number of them — one more closes the
// oldest, so sockets that never log in can keep neither clients nor an administrator out.
import { PoolerError, SqlState, type DisconnectReason } from '../errors.js';

/** never fewer than this, so a burst of ordinary connects is not cut off when max_client_conn is small */
export const MIN_PENDING_LOGINS = 100;

export interface PendingLogin {
  fail(error: PoolerError, reason: DisconnectReason): void;
}

/** how many pending logins are allowed: as many as clients may be logged in, and at least the floor */
export function pendingLoginLimit(maxClientConn: number): number {
  return Math.max(maxClientConn, MIN_PENDING_LOGINS);
}

export class PendingLogins<T extends PendingLogin> {
  /** in arrival order: the first is the oldest */
  private readonly pending = new Set<T>();

  get size(): number {
    return this.pending.size;
  }

  has(login: T): boolean {
    return this.pending.has(login);
  }

  /** a new connection; past `limit`, the oldest pending ones are closed to make room */
  add(login: T, limit: number): void {
    this.pending.add(login);
    while (this.pending.size > limit) {
      const oldest = this.pending.values().next().value!;
      this.pending.delete(oldest);
      oldest.fail(
        new PoolerError(
          'TOO_MANY_CLIENTS',
          SqlState.tooManyConnections,
          `too many connections not logged in yet (more than ${limit}): closing the oldest`,
        ),
        'too_many_clients',
      );
    }
  }

  /**
   * Still pending, but further along (it asked for the console): it goes to the back of the line,
   * so it is not the next one closed while it authenticates.
   */
  renew(login: T): void {
    if (this.pending.delete(login)) this.pending.add(login);
  }

  delete(login: T): void {
    this.pending.delete(login);
  }
}
