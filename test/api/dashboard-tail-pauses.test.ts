// The live tail of the decision log (GET /v1/decisions/stream, the Logs
// page) says which features are paused live as it starts and again whenever
// that changes — a pause by hand included — but reads feature_pauses only
// when a change was announced, not every second per open tab. The statements
// the server sends are counted through a proxy of its connection pool.
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pauseFeature, resumeFeature } from '../../src/engine/match/pauses.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import { type DashboardServer, dashboardServer } from './dashboard-server.js';

const db = useDatabase();
let dashboard: DashboardServer;
/** Statements sent so far: reads of the live pauses, and the tail's reads of new decisions. */
const sent = { pauses: 0, decisions: 0 };

beforeAll(async () => {
  const counted = new Proxy(db.sql, {
    apply(target, thisArg, args: unknown[]) {
      const strings = args[0];
      if (Array.isArray(strings) && 'raw' in strings) {
        const text = strings.join('');
        if (text.includes('from nudge_engine.feature_pauses')) sent.pauses++;
        if (text.includes('left join nudge_engine.inbox i on i.id = d.inbox_id')) sent.decisions++;
      }
      return Reflect.apply(target, thisArg, args);
    },
  }) as postgres.Sql;
  dashboard = await dashboardServer({ sql: counted, url: db.url });
});
afterAll(async () => {
  await db.sql`delete from nudge_engine.feature_pauses`;
});

/** A live tail, read as it comes: `until` waits for its text to match. */
async function openTail() {
  const response = await dashboard.call('GET', '/v1/decisions/stream');
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  return {
    text: () => text,
    async until(pattern: RegExp) {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
        text += decoder.decode(value);
      }
    },
    close: () => reader.cancel(),
  };
}

/** The `paused` events a tail sent, in order: the features each names. */
const pausedEvents = (text: string) =>
  [...text.matchAll(/event: paused\ndata: (.*)\n/g)].map((match) =>
    (JSON.parse(match[1]!) as { paused: { feature: string; by: string }[] }).paused.map(
      (pause) => `${pause.feature} by ${pause.by}`,
    ),
  );

describe('the live tail and the features paused live', () => {
  it('reads the pauses as it starts, then only when a change is announced', async () => {
    const before = { ...sent };
    const tail = await openTail();
    await tail.until(/event: paused\n/);
    // Six polls for new decisions (1.5 s): the pauses were read once, at the start.
    await waitFor(
      () => (sent.decisions - before.decisions >= 6 ? true : undefined),
      'six reads of new decisions',
    );
    expect(sent.pauses - before.pauses).toBe(1);

    // Paused by hand, as in psql: announced by the table's trigger all the same.
    await db.sql`insert into nudge_engine.feature_pauses (feature, paused_by) values ('drip', 'psql')`;
    await tail.until(/"feature":"drip"/);
    await db.sql`delete from nudge_engine.feature_pauses where feature = 'drip'`;
    await tail.until(/"paused":\[\][\s\S]*"feature":"drip"[\s\S]*"paused":\[\]/);
    expect(pausedEvents(tail.text())).toEqual([[], ['drip by psql'], []]);
    const afterChanges = sent.pauses;
    const polls = sent.decisions;
    await waitFor(
      () => (sent.decisions - polls >= 6 ? true : undefined),
      'six more reads of new decisions',
    );
    expect(sent.pauses).toBe(afterChanges);
    await tail.close();
  });

  it('tells each of several tails, and a tail opened after the others closed', async () => {
    const first = await openTail();
    const second = await openTail();
    await first.until(/event: paused\n/);
    await second.until(/event: paused\n/);
    await pauseFeature(db.sql, 'drip', 'cli');
    for (const tail of [first, second]) await tail.until(/"feature":"drip"/);
    await first.close();
    await second.close();
    // The last tail gone, the server stops listening; a new tail listens again.
    const later = await openTail();
    await later.until(/"feature":"drip"/);
    await resumeFeature(db.sql, 'drip', 'cli');
    await later.until(/"feature":"drip"[\s\S]*"paused":\[\]/);
    await later.close();
  });
});
