// The engine's log: one line per event a human reads (`12:00:01 warn outbox
// pump failed error=...`), or JSON lines (pino) with LOG_FORMAT=json. Values
// are printed as given: callers never pass secrets.
import pino from 'pino';

export interface Log {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
}

export function makeLog(
  options: { json?: boolean; verbose?: boolean; write?: (line: string) => void } = {},
): Log {
  if (options.json) {
    const logger = pino({ level: options.verbose ? 'debug' : 'info' });
    return {
      info: (m, f) => logger.info(f ?? {}, m),
      warn: (m, f) => logger.warn(f ?? {}, m),
      error: (m, f) => logger.error(f ?? {}, m),
      debug: (m, f) => logger.debug(f ?? {}, m),
    };
  }
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const line = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    const time = new Date().toISOString().slice(11, 19);
    const rest = Object.entries(fields ?? {})
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    write(`${time} ${level.padEnd(5)} ${message}${rest ? ` ${rest}` : ''}`);
  };
  return {
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    debug: options.verbose ? line('debug') : () => {},
  };
}

export const silentLog: Log = { info() {}, warn() {}, error() {}, debug() {} };
