// What a client connection needs of the console it hands a logged-in admin user to: a session that
// takes whole messages, and the ParameterStatus set PgBouncer's console sends at login. Declared
// here so client/ never imports admin/; the pooler plugs admin's ConsoleSession in.

export interface ConsoleChannel {
  readonly user: { readonly admin: boolean };
  /** a whole message, header included; the buffer may be reused once this returns */
  receive(message: Buffer): void;
}

/** the ParameterStatus set PgBouncer's console sends at login; drivers need a few of them */
export const CONSOLE_PARAMETERS: ReadonlyArray<[string, string]> = [
  ['server_version', '1.25.2/bouncer'],
  ['client_encoding', 'UTF8'],
  ['server_encoding', 'UTF8'],
  ['DateStyle', 'ISO'],
  ['TimeZone', 'GMT'],
  ['standard_conforming_strings', 'on'],
  ['is_superuser', 'on'],
  ['integer_datetimes', 'on'],
];
