// ConfigError: the one error a bad configuration raises. It names the file, line and key so the
// message can be acted on without reading the parser ("pooler.ini:12: key "pool_mode": ...").

export class ConfigError extends Error {
  constructor(
    message: string,
    /** the file the bad line is in (an %include'd file when that is where it is), null for the environment */
    readonly file: string | null = null,
    readonly line: number | null = null,
    /** the key on that line: a setting name, a [databases] or [users] entry name, or an environment variable */
    readonly key: string | null = null,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** where a value was read from: a line of a file, or an environment variable */
export interface Source {
  file: string | null;
  line: number | null;
  /** shown instead of file:line when there is no file, e.g. 'environment variable POOLER_POOL_MODE' */
  label?: string;
}

export function describeSource(source: Source): string {
  if (source.file !== null) return source.line !== null ? `${source.file}:${source.line}` : source.file;
  return source.label ?? 'configuration';
}

/** build a ConfigError whose message starts with the location: `<where>: <detail>` */
export function configError(source: Source, key: string | null, detail: string): ConfigError {
  return new ConfigError(`${describeSource(source)}: ${detail}`, source.file, source.line, key);
}
