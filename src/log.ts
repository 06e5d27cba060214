// The process log: pino everywhere, so the engine, the HTTP server and the
// actions log the same way. People get one readable line per event
// (`12:00:01 warn  outbox pump failed error=...`); LOG_FORMAT=json gives pino's
// JSON lines. Callers never pass secrets.
import pino, { type Logger } from 'pino';

export type Log = Logger;

const LEVELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};
const META = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

export function makeLog(
  options: {
    json?: boolean;
    verbose?: boolean;
    /** Entries not written (their fields as logged). */
    skip?: (entry: Record<string, unknown>) => boolean;
    /** Where each line goes, with its level's name (`info`, `warn`, ...). */
    write?: (line: string, level: string) => void;
  } = {},
): Log {
  const level = options.verbose ? 'debug' : 'info';
  if (options.json) return pino({ level });
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  return pino(
    { level },
    {
      write(json: string) {
        const entry = JSON.parse(json) as Record<string, unknown>;
        if (options.skip?.(entry)) return;
        const time = new Date(entry.time as number).toISOString().slice(11, 19);
        const fields = Object.entries(entry)
          .filter(([k]) => !META.has(k))
          .map(([k, v]) => `${k}=${formatValue(k, v)}`)
          .join(' ');
        const name = LEVELS[entry.level as number] ?? 'info';
        write(`${time} ${name.padEnd(5)} ${entry.msg ?? ''}${fields ? ` ${fields}` : ''}`, name);
      },
    },
  );
}

function formatValue(key: string, value: unknown): string {
  if (key === 'err' && value && typeof value === 'object' && 'message' in value)
    return JSON.stringify((value as { message: string }).message);
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export const silentLog: Log = pino({ level: 'silent' });
