// npx tsx bench/journey-counts.ts — what the journey-count triggers
// (migrations 010 and 018) cost the database per journey write. Times, inside
// the server (one DO block, no round trips), 5,000 journeys each inserted
// then moved to another stage, as a lane writes them, three ways in turn:
// without the triggers; with journey_facts as migration 010 made it (its own
// search_path, so called once per row); and as it is now (inlined). Prints
// ms per insert + update, rounds alternating.
import postgres from 'postgres';
import { migrateEngine } from '../src/db/migrate.js';
import { benchDatabase } from './database.js';

const JOURNEYS = 5000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FACTS = 'nudge_engine.journey_facts(text, text, timestamptz, timestamptz, integer)';

const bench = await benchDatabase('journey-counts');
const sql = postgres(bench.url, { onnotice: () => {}, max: 1 });
try {
  await migrateEngine(sql, bench.url);
  await sql`insert into nudge_engine.contacts (id)
    select gen_random_uuid() from generate_series(1, ${JOURNEYS})`;
  const ways = {
    'no triggers': `ALTER TABLE nudge_engine.journeys DISABLE TRIGGER USER`,
    'as in 010 (a call per row)': `ALTER TABLE nudge_engine.journeys ENABLE TRIGGER USER;
      ALTER FUNCTION ${FACTS} SET search_path = pg_catalog, pg_temp`,
    'now (inlined, 018)': `ALTER TABLE nudge_engine.journeys ENABLE TRIGGER USER;
      ALTER FUNCTION ${FACTS} RESET ALL`,
  };
  const results = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [way, setUp] of Object.entries(ways)) {
      await sql`truncate nudge_engine.journeys, nudge_engine.journey_counts`;
      await sql.unsafe(setUp);
      await sql.unsafe(`
        CREATE OR REPLACE FUNCTION pg_temp.bench_writes() RETURNS float8 LANGUAGE plpgsql AS $$
        DECLARE c uuid; started timestamptz := clock_timestamp();
        BEGIN
          FOR c IN SELECT id FROM nudge_engine.contacts LOOP
            INSERT INTO nudge_engine.journeys (feature, contact_id, status, stage, entries, entered_at, stage_entered_at)
              VALUES ('f', c, 'active', 'a', 1, now(), now());
            UPDATE nudge_engine.journeys SET stage = 'b', wake_at = now() + interval '1 day'
             WHERE feature = 'f' AND contact_id = c;
          END LOOP;
          RETURN extract(epoch FROM clock_timestamp() - started) * 1000;
        END $$`);
      const [row] = await sql<{ ms: number }[]>`select pg_temp.bench_writes() as ms`;
      const ms = row!.ms;
      results.set(way, [...(results.get(way) ?? []), ms / JOURNEYS]);
    }
  }
  console.log(
    `journey-count triggers: ms of database time per journey insert + update (${JOURNEYS} journeys, ${ROUNDS} rounds)`,
  );
  for (const [way, each] of results)
    console.log(`  ${way.padEnd(28)} ${each.map((ms) => ms.toFixed(3)).join('  ')}`);
} finally {
  await sql.end();
  await bench.stop();
}
