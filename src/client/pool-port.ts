// What a logged-in client needs of the pool it works in: a Link (pool/link.ts) that queues what it
// sends for the server's replies and says when the server is quiet. Declared here so client/ never
// imports pool/ or server/; the pool's Pool and Link fit these shapes.
import type { Socket } from 'node:net';
import type { ScramClientKeys } from '../auth/scram-client.js';
import type { Disposition } from '../net/packet-stream.js';

/** the pool as a client logging in sees it */
export interface ClientPool {
  readonly mode: 'session' | 'transaction' | 'statement';
  /** a lone BEGIN whose server died unanswered may go to another server */
  readonly replaysBegin: boolean;
  /** the client is logged in: it is welcomed with its link (onWelcome) now or once the pool has a server */
  addClient(client: LinkedClient): ClientLink;
  /** a client proved its SCRAM key (pass-through login for servers) */
  rememberScramKeys(keys: ScramClientKeys): void;
}

/** the client as its link reaches it (the pool's PoolClient has the same shape) */
export interface LinkedClient {
  readonly socket: Socket;
  onWelcome(parameters: Map<string, string>, link: ClientLink): void;
  onLinked(serverSocket: Socket): void;
}

/** the client's side of its Link */
export interface ClientLink {
  /** waiting for the pool's first server login, waiting for a server, or active */
  readonly state: 'waiting_login' | 'waiting' | 'active';
  /** when the client started waiting */
  readonly waitStart: number;
  readonly serverId: number | null;
  /** no server, or one that owes nothing outside a transaction */
  readonly quiet: boolean;
  /** named statements are rewritten: Parse, Bind, Describe and Close must be read whole */
  readonly statements: object | null;
  /** statements are classified for session state: Query and Parse texts must be read */
  readonly classifies: boolean;
  readonly preparedStatementCount: number;
  /** read_write_split: the next transaction goes to a replica, so what is sent may be sent again elsewhere */
  readonly routedToReplica: boolean;
  /** on a replica, and all sent there so far is a read another host may run again */
  readonly readRetryable: boolean;
  /** what pins the client to its server, comma-separated; '' when nothing does */
  readonly pinReason: string;
  requestServer(): void;
  /** answer a lone Parse + Sync without a server, when the statement is known; false otherwise */
  answerWithoutServer(chunk: Buffer): boolean;
  /** the client's socket drained */
  onClientDrained(): void;
  /** the client holds a message its server may not take (it waits for that server's answers, or for another server) */
  onHeld(): void;
  /** a request's header (Query, Sync, Execute, CopyDone, ... ) on its way to the server */
  onHeader(code: number): Disposition;
  /** a whole Parse, Bind, Describe or Close while statements are rewritten */
  onMessage(code: number, buffer: Buffer, offset: number, total: number): Disposition;
  /** a CancelRequest carried the client's key */
  cancel(): void;
  /** the client is gone */
  close(): void;
}
