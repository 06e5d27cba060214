// npm run bench:attribute-reads — a segment filter on a time, a date and
// a text attribute over 50,000 contacts, read three ways side by side in one
// run: migration 002's cast (which also took 'yesterday'), 028's reading and
// 029's (the one migrateEngine installs now). 002's and 028's functions are
// created from their migration files in schemas of their own. Each round
// runs every query once (EXPLAIN ANALYZE, no per-node timing, no parallel
// workers), in the opposite order the next round; prints the median and the
// lowest execution time of each and the ratio of medians to 028. First it
// checks that 028 and 029 give every contact the same value.
import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { migrateEngine } from '../src/db/migrate.js';
import { benchDatabase } from './database.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const CONTACTS = Number(process.env.BENCH_CONTACTS ?? 50_000);

const migration = (file: string) =>
  readFileSync(new URL(`../src/db/migrations/${file}`, import.meta.url), 'utf8');

/** 028's functions as they were, in schema `schema`. */
function readers028(schema: string): string {
  return migration('028_attribute_reads.sql').replaceAll('nudge_engine.', `${schema}.`);
}

/** 002's time readers (the cast), in schema `schema`. */
function readers002(schema: string): string {
  const text = migration('002_contacts_search.sql');
  const functions = text.match(
    /CREATE FUNCTION nudge_engine\.attribute_(timestamptz|date)\(value jsonb\)[\s\S]*?\n\$\$;/g,
  );
  if (functions?.length !== 2) throw new Error('002: the two time readers were not found');
  return functions.join('\n').replaceAll('nudge_engine.', `${schema}.`);
}

const filters = {
  time: {
    '002': `v002.attribute_timestamptz(c.attributes -> 'seen') < now() - interval '30 days'`,
    '028': `v028.attribute_timestamptz(c.attributes -> 'seen') < now() - interval '30 days'`,
    '029': `nudge_engine.attribute_timestamptz(c.attributes -> 'seen') < now() - interval '30 days'`,
  },
  date: {
    '002': `v002.attribute_date(c.attributes -> 'day') < current_date - 30`,
    '028': `v028.attribute_date(c.attributes -> 'day') < current_date - 30`,
    '029': `nudge_engine.attribute_date(c.attributes -> 'day') < current_date - 30`,
  },
  text: {
    '->>': `c.attributes ->> 'plan' = 'pro'`,
    '028': `v028.attribute_text(c.attributes -> 'plan') = 'pro'`,
    '029': `nudge_engine.attribute_text(c.attributes, 'plan') = 'pro'`,
  },
} as const;

const db = await benchDatabase('attribute-reads');
const sql = postgres(db.url, { onnotice: () => {}, max: 1 });
try {
  await migrateEngine(sql, db.url);
  await sql.unsafe(`CREATE SCHEMA v028; CREATE SCHEMA v002;
    ${readers028('v028')}
    ${readers002('v002')}`);
  // Times as to_jsonb() writes them (a fraction of 1 to 6 digits, an
  // offset), dates, a plan, a number with a trailing zero.
  await sql`
    insert into nudge_engine.contacts (email, attributes)
    select 'u' || g || '@example.com',
           jsonb_build_object('seen', to_jsonb(now() - random() * interval '400 days'),
                              'day', to_jsonb(current_date - (random() * 400)::int),
                              'plan', (array['free', 'pro', 'team'])[1 + g % 3],
                              'mrr', round((random() * 200)::numeric, 1), 'name', 'User ' || g)
      from generate_series(1, ${CONTACTS}) g`;
  await sql`vacuum analyze nudge_engine.contacts`;
  const [differ] = await sql<{ time: number; date: number; text: number }[]>`
    select count(*) filter (where v028.attribute_timestamptz(attributes -> 'seen')
                              is distinct from nudge_engine.attribute_timestamptz(attributes -> 'seen'))::int as time,
           count(*) filter (where v028.attribute_date(attributes -> 'day')
                              is distinct from nudge_engine.attribute_date(attributes -> 'day'))::int as date,
           count(*) filter (where v028.attribute_text(attributes -> 'mrr')
                              is distinct from nudge_engine.attribute_text(attributes, 'mrr')
                              or v028.attribute_text(attributes -> 'plan')
                              is distinct from nudge_engine.attribute_text(attributes, 'plan'))::int as text
      from nudge_engine.contacts`;
  if (differ!.time || differ!.date || differ!.text) {
    throw new Error(`028 and 029 disagree on ${JSON.stringify(differ)} contacts`);
  }
  await sql`set max_parallel_workers_per_gather = 0`;
  const runs = Object.entries(filters).flatMap(([attribute, ways]) =>
    Object.entries(ways).map(([way, where]) => ({ attribute, way, where, ms: [] as number[] })),
  );
  for (let round = 0; round < ROUNDS; round++) {
    for (const run of round % 2 ? [...runs].reverse() : runs) {
      const [plan] = await sql.unsafe(
        `explain (analyze, timing off, format json) select count(*) from nudge_engine.contacts c where ${run.where}`,
      );
      run.ms.push((plan!['QUERY PLAN'] as { 'Execution Time': number }[])[0]!['Execution Time']);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
  console.log(`${CONTACTS} contacts, ${ROUNDS} rounds: median (lowest) ms, median ÷ 028's`);
  for (const run of runs) {
    const base = runs.find((r) => r.attribute === run.attribute && r.way === '028')!;
    console.log(
      `${run.attribute.padEnd(5)} ${run.way.padEnd(4)} ${median(run.ms).toFixed(1).padStart(8)} (${Math.min(...run.ms).toFixed(1)})  ${(median(run.ms) / median(base.ms)).toFixed(2)}`,
    );
  }
} finally {
  await sql.end();
  await db.stop();
}
