// makeLog's human lines, and the entries a caller leaves out (nudge dev
// writes what goes wrong, not the attempts its own lines show).
import { describe, expect, it } from 'vitest';
import { makeLog } from './log.js';

describe('makeLog', () => {
  it('leaves out what skip says', () => {
    const lines: string[] = [];
    const log = makeLog({
      skip: (entry) => 'runId' in entry || (entry.level as number) < 40,
      write: (line) => lines.push(line),
    });
    log.info({ partitions: 2 }, 'engine started');
    log.warn({ runId: 5 }, 'action webhook failed; retrying in 367 ms');
    log.warn({ error: 'connection refused' }, 'lanes failed, retrying in 200 ms');
    log.error({ path: '/v1/overview' }, 'request failed');
    expect(lines.map((line) => line.slice(9))).toEqual([
      'warn  lanes failed, retrying in 200 ms error=connection refused',
      'error request failed path=/v1/overview',
    ]);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d /);
  });

  it('writes info and above by default', () => {
    const lines: string[] = [];
    const log = makeLog({ write: (line) => lines.push(line) });
    log.debug({}, 'not written');
    log.info({}, 'engine started');
    expect(lines.map((line) => line.slice(9))).toEqual(['info  engine started']);
  });
});
