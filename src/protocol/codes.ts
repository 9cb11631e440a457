// Message codes of the PostgreSQL v3 wire protocol, one table per direction because the same
// letter means different things each way ('D' is Describe or DataRow, 'S' Sync or ParameterStatus).
// @see https://www.postgresql.org/docs/current/protocol-message-formats.html

/** messages a client (frontend) sends */
export const FrontendCode = {
  Bind: 0x42, // B
  Close: 0x43, // C
  Describe: 0x44, // D
  Execute: 0x45, // E
  FunctionCall: 0x46, // F
  Flush: 0x48, // H
  Parse: 0x50, // P
  Query: 0x51, // Q
  Sync: 0x53, // S
  Terminate: 0x58, // X
  CopyDone: 0x63, // c
  CopyData: 0x64, // d
  CopyFail: 0x66, // f
  Password: 0x70, // p (also SASLInitialResponse, SASLResponse)
} as const;

/** messages a server (backend) sends */
export const BackendCode = {
  ParseComplete: 0x31, // 1
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  NotificationResponse: 0x41, // A
  CommandComplete: 0x43, // C
  DataRow: 0x44, // D
  ErrorResponse: 0x45, // E
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  EmptyQueryResponse: 0x49, // I
  BackendKeyData: 0x4b, // K
  NoticeResponse: 0x4e, // N
  Authentication: 0x52, // R
  ParameterStatus: 0x53, // S
  RowDescription: 0x54, // T
  FunctionCallResponse: 0x56, // V
  CopyBothResponse: 0x57, // W
  ReadyForQuery: 0x5a, // Z
  CopyDone: 0x63, // c
  CopyData: 0x64, // d
  NoData: 0x6e, // n
  PortalSuspended: 0x73, // s
  ParameterDescription: 0x74, // t
  NegotiateProtocolVersion: 0x76, // v
} as const;

/** the int32 sub-codes of an Authentication ('R') message */
export const AuthCode = {
  Ok: 0,
  CleartextPassword: 3,
  MD5Password: 5,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

/** the byte after Describe and Close that says what they name */
export const DescribeTarget = {
  Statement: 0x53, // S
  Portal: 0x50, // P
} as const;

/**
 * the one-byte answer to SSLRequest
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL
 */
export const EncryptionAnswer = {
  Accept: 0x53, // S
  Refuse: 0x4e, // N
} as const;

/**
 * field types of ErrorResponse and NoticeResponse, as decodeFields keys them
 * @see https://www.postgresql.org/docs/current/protocol-error-fields.html
 */
export const ErrorField = {
  Severity: 'S', // localized
  SeverityUnlocalized: 'V', // PostgreSQL 9.6 and later
  Code: 'C', // SQLSTATE
  Message: 'M',
  Detail: 'D',
  Hint: 'H',
} as const;

/** ReadyForQuery transaction status bytes */
export const TxStatus = {
  Idle: 0x49, // I
  InTransaction: 0x54, // T
  Failed: 0x45, // E
} as const;

// Untyped first messages carry one of these in place of a protocol version.
export const PROTOCOL_V3 = 3 << 16;
export const SSL_REQUEST_CODE = 80877103; // 1234 << 16 | 5679
export const GSSENC_REQUEST_CODE = 80877104; // 1234 << 16 | 5680
export const CANCEL_REQUEST_CODE = 80877102; // 1234 << 16 | 5678

/** every typed message starts with a 1-byte code and an int32 length that counts itself */
export const HEADER_LENGTH = 5;
// Message length limits. Each says why it is what it is; every other message is bounded only by
// max_packet_size (PgBouncer's setting, default 2^31-1), so whatever PostgreSQL accepts (a 1 GB
// query, a 16 MB Bind, 1 MB CopyData) passes. Messages the pooler forwards stream through without
// being gathered, so those limits cost no memory.

/** a startup packet is larger than this only if something is wrong: PostgreSQL's own limit (MAX_STARTUP_PACKET_LENGTH) */
export const MAX_STARTUP_PACKET_LENGTH = 10000;
/**
 * messages that carry at most a name or a short error: PostgreSQL's PQ_SMALL_MESSAGE_LIMIT, past
 * which it drops the connection without a word, so the pooler refuses them before forwarding
 */
export const MAX_SMALL_MESSAGE_LENGTH = 10000;
export const SMALL_FRONTEND_CODES = [
  FrontendCode.Close,
  FrontendCode.Describe,
  FrontendCode.Execute,
  FrontendCode.Flush,
  FrontendCode.Sync,
  FrontendCode.Terminate,
  FrontendCode.CopyDone,
  FrontendCode.CopyFail,
] as const;
/**
 * a client's PasswordMessage / SASL message during login, which is read whole before anyone is
 * authenticated: PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH
 */
export const MAX_AUTH_MESSAGE_LENGTH = 65535;
/**
 * a message to the admin console, read whole: console commands are short, and a logged-in console
 * user should not make the pooler hold max_packet_size bytes
 */
export const MAX_CONSOLE_MESSAGE_LENGTH = 1 << 20;
/**
 * a server's message during login (authentication requests, ParameterStatus, errors), read whole
 * before the server is trusted: far more than any real one, far less than max_packet_size
 */
export const MAX_SERVER_LOGIN_MESSAGE_LENGTH = 1 << 20;
/**
 * the longest ErrorResponse, NoticeResponse or ParameterStatus read whole after login; longer ones
 * (an error quoting a 300 MB value) are forwarded unread: the fields the pooler needs (severity,
 * SQLSTATE) come first and are short, so holding the rest is not worth its memory
 */
export const MAX_INSPECTED_REPLY_LENGTH = 1 << 20;

/**
 * the longest Query or Parse text read whole to classify its session effects (transaction and
 * statement mode); a longer one (bulk data, mostly) is forwarded unread and counts as having none
 */
export const MAX_CLASSIFIED_STATEMENT_LENGTH = 1 << 20;
