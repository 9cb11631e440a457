// Which login method a client gets: auth_type, or with auth_type = hba the first auth_hba_file rule
// that matches the connection — refusing, as PostgreSQL does, when a rule says reject or none applies.
import type { AuthType, Settings } from '../config/types.js';
import { PoolerError, SqlState } from '../errors.js';
import { loadHbaFile, matchHba, type HbaConnection, type HbaRule } from './hba.js';
import { identAllows, loadIdentMaps, type IdentMaps } from './ident-map.js';

export interface ClientAuthRules {
  authType: AuthType;
  /** auth_type = hba: the rules, first match wins */
  hba: readonly HbaRule[];
  identMaps: IdentMaps;
}

export interface ChosenAuth {
  method: Exclude<AuthType, 'hba'>;
  /** cert with map=: may the certificate name log in as the user? */
  certificateMap: ((name: string) => boolean) | null;
}

/** read at start and on RELOAD; throws with file:line for a rule it cannot use */
export function loadClientAuthRules(settings: Settings): ClientAuthRules {
  let hba: HbaRule[] = [];
  if (settings.auth_type === 'hba') {
    if (settings.auth_hba_file === '') throw new Error('auth_type = hba needs auth_hba_file');
    hba = loadHbaFile(settings.auth_hba_file);
  }
  return { authType: settings.auth_type, hba, identMaps: loadIdentMaps(settings.auth_ident_file) };
}

export function chooseClientAuth(rules: ClientAuthRules, connection: HbaConnection): ChosenAuth | PoolerError {
  if (rules.authType !== 'hba') return { method: rules.authType, certificateMap: null };
  const rule = matchHba(rules.hba, connection);
  const where = `host "${connection.address}", user "${connection.user}", database "${connection.database}", ${connection.tls ? 'SSL on' : 'SSL off'}`;
  if (rule === null) {
    return new PoolerError('AUTH_FAILED', SqlState.invalidAuthorization, `no pg_hba.conf entry for ${where}`);
  }
  if (rule.method === 'reject') {
    return new PoolerError('AUTH_FAILED', SqlState.invalidAuthorization, `pg_hba.conf rejects connection for ${where}`);
  }
  if (rule.method === 'peer') {
    // peer asks the kernel who is on the other end of a Unix socket, which Node.js cannot do
    return new PoolerError(
      'AUTH_FAILED',
      SqlState.invalidAuthorization,
      `peer authentication is not supported by pooler (${where})`,
      'FATAL',
      'Node.js cannot read the credentials of a Unix-socket peer; use trust, scram-sha-256 or cert in that rule',
    );
  }
  const map = rule.map;
  return {
    method: rule.method,
    certificateMap: map === null ? null : (name) => identAllows(rules.identMaps, map, name, connection.user),
  };
}
