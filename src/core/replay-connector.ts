// The replay poll's connections: one MonitorConnection per host, logged in as the health checks
// log in, named 'pooler replay poll' in pg_stat_activity, asked REPLAY_LSN_SQL as often as the
// poller says. The poller (failover/replay-poller.ts) owns them and closes them.
import type { DatabaseConfig } from '../config/types.js';
import type { DisconnectReason } from '../errors.js';
import { parseLsn, REPLAY_LSN_SQL } from '../failover/replica-lag.js';
import type { ReplayConnection, ReplayConnector } from '../failover/replay-poller.js';
import type { ServerAddress } from '../failover/topology.js';
import { openMonitorConnection, type HostCheckerContext } from './host-checker.js';
import type { MonitorConnection } from './monitor-connection.js';

export const REPLAY_POLL_APPLICATION_NAME = 'pooler replay poll';

class ServerReplayConnection implements ReplayConnection {
  constructor(private readonly connection: MonitorConnection) {}

  async replayLsn(): Promise<bigint | null> {
    const [row] = await this.connection.query(REPLAY_LSN_SQL);
    if (row === undefined) throw new Error('the replay position query returned no row');
    return row[0] == null ? null : parseLsn(row[0]);
  }

  close(reason: DisconnectReason): void {
    this.connection.close(reason);
  }
}

export class ServerReplayConnector implements ReplayConnector {
  constructor(private readonly context: HostCheckerContext) {}

  open(database: DatabaseConfig, address: ServerAddress): ReplayConnection | null {
    const connection = openMonitorConnection(this.context, database, address, REPLAY_POLL_APPLICATION_NAME);
    return connection === null ? null : new ServerReplayConnection(connection);
  }
}
