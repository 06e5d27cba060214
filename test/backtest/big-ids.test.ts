// A backtest over an inbox whose ids are past 2^31 (an inbox fed 100 events
// a second gets there in about eight months): the kept events are read and
// replayed as on the first day, and the engine's own decisions at them are
// found (contacts.ts reads the contact an action run saved, by inbox id).
import { beforeAll, describe, expect, it } from 'vitest';
import { migrateEngine } from '../../src/db/migrate.js';
import { PAST, restartSequencesPast, useDatabase } from '../harness/db.js';
import { backtestJson, daysAgo, insertFeature, keep } from './fixtures.js';

const db = useDatabase();

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  expect(await restartSequencesPast(db.sql, PAST)).toEqual(
    expect.arrayContaining(['nudge_engine.inbox_id_seq', 'nudge_engine.decisions_id_seq']),
  );
});

describe('a backtest over ids past 2^31', () => {
  it('replays the kept events and counts who would enter', async () => {
    await db.sql`create table public.signups (id bigint primary key, email text not null)`;
    await keep(
      db.sql,
      [1, 2, 3].map((n) => ({
        sourceKey: `signup-${n}`,
        schema: 'public',
        table: 'signups',
        operation: 'insert' as const,
        newRow: { id: n, email: `s${n}@example.com` },
        oldRow: null,
        occurredAt: daysAgo(10 - n),
      })),
    );
    const [kept] = await db.sql<
      { min: string }[]
    >`select min(id)::text as min from nudge_engine.inbox`;
    expect(Number(kept?.min)).toBeGreaterThanOrEqual(PAST);
    const json = await backtestJson(
      db.url,
      'engine: { retention: { ingest_log: 90d } }\n',
      {
        'welcome.yaml': insertFeature({
          name: 'welcome',
          table: 'signups',
          stage: 'welcomed',
          action: '{ webhook: { url: "http://127.0.0.1:9/welcome" } }',
        }),
      },
      'welcome',
      { since: '30d' },
    );
    expect(json.contacts).toEqual({ entered: 3, entries: 3 });
  });
});
