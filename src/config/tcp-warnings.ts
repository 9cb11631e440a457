// What the TCP options in pooler.ini really do under Node, said once at load: tcp_keepalive and
// tcp_keepidle apply as in PgBouncer, tcp_keepintvl and tcp_keepcnt cannot, and tcp_user_timeout
// only in part (net/socket-tuning.ts has the details).
import type { Settings } from './types.js';

export function tcpTuningWarnings(settings: Settings): string[] {
  const { tcp_keepalive: keepalive, tcp_keepidle: idle, tcp_keepintvl: interval, tcp_keepcnt: count, tcp_user_timeout: userTimeout } = settings;
  const warnings: string[] = [];
  if (!keepalive && (idle > 0 || interval > 0 || count > 0)) {
    warnings.push('tcp_keepidle, tcp_keepintvl and tcp_keepcnt have no effect with tcp_keepalive = 0');
  } else if (interval > 0 || count > 0) {
    const given = [interval > 0 ? `tcp_keepintvl = ${interval}` : null, count > 0 ? `tcp_keepcnt = ${count}` : null].filter((x) => x !== null).join(', ');
    const instead =
      idle > 0
        ? `with tcp_keepidle = ${idle}, Node probes every 1 s and gives up after 10 probes, so a dead peer is found about ${idle + 10} s after the connection goes quiet`
        : 'the OS defaults stay (Linux: every 75 s, 9 probes)';
    warnings.push(`${given}: not applied, Node cannot set TCP_KEEPINTVL or TCP_KEEPCNT; ${instead}`);
  } else if (keepalive && idle > 0) {
    warnings.push(
      `tcp_keepidle = ${idle} is applied, and Node sets the probe interval to 1 s and the count to 10 with it (Linux defaults: 75 s, 9), so a dead peer is found about ${idle + 10} s after the connection goes quiet`,
    );
  }
  if (userTimeout > 0) {
    warnings.push(
      `tcp_user_timeout = ${userTimeout}: Node cannot set TCP_USER_TIMEOUT; pooler enforces the part it can see, closing a client or server connection that takes none of the bytes queued for it for ${userTimeout} ms. ` +
        "Bytes already in the kernel's send buffer and never acknowledged (a request lost in a network partition) are not seen: bound those with query_timeout or transaction_timeout",
    );
  }
  return warnings;
}
