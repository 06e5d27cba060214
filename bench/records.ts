// npx tsx bench/records.ts — what records() (src/db/records.ts) costs the
// database for a lane's writes: the engine's own statements writing 200
// inbox rows (an order each) and 200 decisions (half of them a row of 19
// skipped features), into a migrated engine store, two ways in turn: jsonb
// columns filled by json_to_recordset itself (as before), and read as json
// then cast (now). Prints µs of round trip per row (one connection, loopback)
// and the ratio, rounds alternating.
import postgres from 'postgres';
import { migrateEngine } from '../src/db/migrate.js';
import type { Decision } from '../src/engine/journeys/machine.js';
import { insertDecisions } from '../src/engine/sql/insert-decisions.js';
import { insertInboxRows } from '../src/engine/sql/insert-inbox-rows.js';
import { benchDatabase } from './database.js';

const BATCH = 200;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);

const bench = await benchDatabase('records');
const sql = postgres(bench.url, { onnotice: () => {}, max: 1 });
try {
  await migrateEngine(sql, bench.url);
  const skipped = Object.fromEntries(
    Array.from({ length: 19 }, (_, k) => [`order-feature-${k}`, 'trigger condition false']),
  );
  let key = 0;
  const inbox = () =>
    Array.from({ length: BATCH }, () => {
      key++;
      return {
        source: 'outbox' as const,
        sourceKey: `0/1A2B3C4D:${key}`,
        schema: 'public',
        table: 'orders',
        operation: 'insert' as const,
        newRow: {
          id: key,
          user_id: '00000000-0000-4000-8000-000000000001',
          bucket: key % 20,
          total: '123.45',
          status: 'pending',
          items: [{ sku: 'a', qty: 1 }],
          created_at: '2026-12-05T15:00:00.123456+00:00',
        },
        occurredAt: new Date(),
      };
    });
  const decisions = (): Decision[] =>
    Array.from({ length: BATCH }, (_, n) =>
      n % 2 === 0
        ? {
            at: new Date(),
            inboxId: n,
            feature: null,
            contactId: null,
            outcome: 'skipped',
            reason: '19 features skipped',
            detail: { skipped },
          }
        : {
            at: new Date(),
            inboxId: n,
            feature: 'order-feature-19',
            contactId: null,
            outcome: 'entered',
            reason: 'entered stage paid',
            detail: { stage: 'paid' },
          },
    );

  // As before: the same statements, the recordset filling the jsonb columns.
  const before = {
    inbox: (rows: ReturnType<typeof inbox>) =>
      sql`insert into nudge_engine.inbox (source, source_key, schema_name, table_name, operation,
            event_name, new_row, old_row, enrichment, occurred_at, partition)
          select * from json_to_recordset(${JSON.stringify(
            rows.map((e) => ({
              source: e.source,
              source_key: e.sourceKey,
              schema_name: e.schema,
              table_name: e.table,
              operation: e.operation,
              event_name: null,
              new_row: e.newRow,
              old_row: null,
              enrichment: null,
              occurred_at: e.occurredAt,
              partition: 0,
            })),
          )}::text::json) as x(source text, source_key text, schema_name text, table_name text,
            operation text, event_name text, new_row jsonb, old_row jsonb, enrichment jsonb,
            occurred_at timestamptz, partition smallint)
          on conflict (source, source_key) do nothing`,
    decisions: (rows: Decision[]) =>
      sql`insert into nudge_engine.decisions (at, inbox_id, feature, contact_id, outcome, reason, detail)
          select * from json_to_recordset(${JSON.stringify(
            rows.map((d) => ({ ...d, inbox_id: d.inboxId, contact_id: d.contactId })),
          )}::text::json) as x(at timestamptz, inbox_id bigint, feature text, contact_id uuid,
            outcome text, reason text, detail jsonb)`,
  };
  const now = {
    inbox: (rows: ReturnType<typeof inbox>) => insertInboxRows(sql as never, rows),
    decisions: (rows: Decision[]) => insertDecisions(sql as never, rows)!,
  };

  const times = new Map<string, number[]>();
  const time = async (label: string, write: () => Promise<unknown>) => {
    const start = performance.now();
    await write();
    const list = times.get(label) ?? [];
    list.push(((performance.now() - start) * 1000) / BATCH);
    times.set(label, list);
  };
  for (let round = 0; round < ROUNDS; round++) {
    const ways = round % 2 === 0 ? (['before', 'now'] as const) : (['now', 'before'] as const);
    for (const way of ways) {
      const statements = way === 'before' ? before : now;
      await time(`inbox ${way}`, () => statements.inbox(inbox()));
      await time(`decisions ${way}`, () => statements.decisions(decisions()));
    }
    if (round % 10 === 9) await sql`truncate nudge_engine.inbox, nudge_engine.decisions cascade`;
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(
    `records(): µs per row, ${BATCH}-row statements, median of ${ROUNDS} alternating rounds`,
  );
  for (const what of ['inbox', 'decisions']) {
    const b = median(times.get(`${what} before`)!);
    const n = median(times.get(`${what} now`)!);
    console.log(
      `${what.padEnd(10)} jsonb filled by the recordset ${b.toFixed(1).padStart(6)}   read as json, cast ${n.toFixed(1).padStart(6)}   now ÷ before ${(n / b).toFixed(2)}`,
    );
  }
} finally {
  await sql.end();
  await bench.stop();
}
