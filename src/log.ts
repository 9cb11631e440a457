// The pino logger: JSON lines by default, pino-pretty when stderr is a terminal. Secrets never go
// through here: callers pass user names and addresses, never passwords (redact catches slips).
import { pino, destination, type Logger } from 'pino';

export type { Logger };

export interface LogOptions {
  level?: string;
  pretty?: boolean;
  file?: string;
}

const redact = { paths: ['password', '*.password', 'secret', '*.secret'], censor: '[redacted]' };

export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? process.env.POOLER_LOG_LEVEL ?? 'info';
  if (options.file) {
    return pino({ level, redact }, destination({ dest: options.file, sync: false, mkdir: true }));
  }
  const pretty = options.pretty ?? (process.stderr.isTTY === true);
  if (pretty) {
    return pino({
      level,
      redact,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'SYS:standard' } },
    });
  }
  return pino({ level, redact }, destination({ dest: 2, sync: false }));
}

/** a logger that drops everything, for library use and tests that do not care */
export const silentLogger: Logger = pino({ level: 'silent' });
