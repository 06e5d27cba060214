// The decision log's write, alone: what the lane's insert into
// nudge_engine.decisions costs for a batch of events shaped like
// bench/e2e.ts's (20 features on one table, one matching each event), and
// how that cost would move with the log stored other ways. Each variant is a
// copy of the table with its indexes, written with records() as the lane
// writes, in interleaved rounds; it prints each variant's median time and
// WAL per batch and its ratio to the log as stored today.
//
//   npm run bench:decision-log   (BENCH_ROUNDS, BENCH_EVENTS to change the sizes)
import postgres from 'postgres';
import { migrateEngine } from '../src/db/migrate.js';
import { records } from '../src/db/records.js';
import { benchDatabase } from './database.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 150);
const WARMUP_ROUNDS = 20;
const EVENTS = Number(process.env.BENCH_EVENTS ?? 200);
const FEATURES = 20;
const COLUMNS =
  'at timestamptz, inbox_id bigint, feature text, contact_id uuid, outcome text, reason text, detail jsonb';

interface Variant {
  name: string;
  /** What differs from the table as migrated. */
  alter?: string;
  /** The matched feature's five decisions as one row. */
  oneRowPerFeature?: boolean;
  /** No row for the features skipped together. */
  noSkips?: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'as stored today' },
  { name: "the matched feature's five rows as one", oneRowPerFeature: true },
  {
    name: 'without the (feature, outcome, id) index',
    alter: 'drop index %s_feature_outcome_id_idx',
  },
  { name: 'without the row of skips', noSkips: true },
];

let inboxId = 0;
function batch(variant: Variant): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  const at = new Date();
  for (let e = 0; e < EVENTS; e++) {
    const id = ++inboxId;
    const bucket = e % FEATURES;
    const contact = crypto.randomUUID();
    const skipped: Record<string, string> = {};
    for (let f = 0; f < FEATURES; f++)
      if (f !== bucket)
        skipped[`order-${f}`] =
          `trigger condition false: new.bucket eq.${f} was false (value ${bucket})`;
    if (!variant.noSkips)
      rows.push({
        at,
        inbox_id: id,
        feature: null,
        contact_id: null,
        outcome: 'skipped',
        reason: `${FEATURES - 1} features skipped`,
        detail: { skipped },
      });
    const feature = `order-${bucket}`;
    const steps = [
      { outcome: 'matched', reason: 'trigger matched', detail: null },
      { outcome: 'entered', reason: 'entered (entry 1)', detail: null },
      {
        outcome: 'action',
        reason: 'stage notified: webhook queued',
        detail: { kind: 'webhook', key: `${feature}:${contact}:1:notified:0` },
      },
      { outcome: 'advanced', reason: 'stage notified', detail: null },
      { outcome: 'completed', reason: 'completed after stage notified', detail: null },
    ];
    const base = { at, inbox_id: id, feature, contact_id: contact };
    if (variant.oneRowPerFeature)
      rows.push({ ...base, outcome: 'completed', reason: steps.at(-1)!.reason, detail: { steps } });
    else for (const step of steps) rows.push({ ...base, ...step });
  }
  return rows;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const bench = await benchDatabase('decision-log');
const sql = postgres(bench.url, { onnotice: () => {}, max: 2 });
try {
  await migrateEngine(sql, bench.url);
  const tables = VARIANTS.map((_, i) => `nudge_engine.decisions_${i}`);
  for (const [i, variant] of VARIANTS.entries()) {
    await sql.unsafe(`create table ${tables[i]} (like nudge_engine.decisions including all)`);
    if (variant.alter) await sql.unsafe(variant.alter.replace('%s', `nudge_engine.decisions_${i}`));
  }
  const ms = VARIANTS.map((): number[] => []);
  const wal = VARIANTS.map((): number[] => []);
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    for (const [i, variant] of VARIANTS.entries()) {
      const rows = batch(variant);
      const [before] = await sql`select pg_current_wal_insert_lsn() as lsn`;
      const started = performance.now();
      await sql.begin(
        (tx) => tx`
          insert into ${tx(tables[i]!)} (at, inbox_id, feature, contact_id, outcome, reason, detail)
          select at, inbox_id, feature, contact_id, outcome, reason, detail
            from ${records(tx, rows, COLUMNS)}`,
      );
      const elapsed = performance.now() - started;
      const [after] = await sql`
        select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), ${before!.lsn}::pg_lsn)::float8 as bytes`;
      if (round < WARMUP_ROUNDS) continue;
      ms[i]!.push(elapsed);
      wal[i]!.push(Number(after!.bytes));
    }
  }
  console.log(
    `decision log: ${EVENTS} events per batch (${FEATURES} features, one matching each), ${ROUNDS} rounds after ${WARMUP_ROUNDS} not counted, variants interleaved`,
  );
  const today = median(ms[0]!);
  console.log(
    `${'variant'.padEnd(44)} ${'ms per batch'.padStart(12)} ${'÷ today'.padStart(8)} ${'WAL per batch'.padStart(14)}`,
  );
  for (const [i, variant] of VARIANTS.entries()) {
    const time = median(ms[i]!);
    console.log(
      `${variant.name.padEnd(44)} ${time.toFixed(1).padStart(12)} ${(time / today).toFixed(2).padStart(8)} ${`${(median(wal[i]!) / 1024).toFixed(0)} kB`.padStart(14)}`,
    );
  }
} finally {
  await sql.end();
  await bench.stop();
}
