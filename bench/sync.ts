import os from 'node:os';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';
import type { Io } from '../src/cli/io.js';
import { memoryIo } from '../src/cli/io.js';
import { SYNC_BATCH_SIZE } from '../src/config/schema.js';
import { compileUserMapping } from '../src/contacts/mapping.js';
import { indexContacts } from '../src/contacts/search-index.js';
import { makeSyncLog, type SyncReporter } from '../src/contacts/sync/report.js';
import { syncUsers } from '../src/contacts/sync/users.js';
import { migrateEngine } from '../src/db/migrate.js';
import { ident } from '../src/db/quote.js';
import { benchDatabase } from './database.js';

const USERS = Number(process.env.BENCH_USERS ?? 1_000_000);
const BATCH = Number(process.env.BENCH_BATCH ?? SYNC_BATCH_SIZE);
const DROP = (process.env.BENCH_DROP_INDEXES ?? '').split(',').filter(Boolean);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

const bench = await benchDatabase(
  'sync',
  process.env.BENCH_SHARED_BUFFERS ? { shared_buffers: process.env.BENCH_SHARED_BUFFERS } : {},
);
try {
  const url = bench.url;
  const engine = postgres(url, { onnotice: () => {}, max: 6 });
  const source = postgres(url, { onnotice: () => {}, max: 2 });
  await migrateEngine(engine, url);
  for (const index of DROP) await engine.unsafe(`DROP INDEX nudge_engine.${ident(index)}`);

  console.log(`Nudge sync benchmark — ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}`);
  console.log(`PostgreSQL: ${(await engine`select version()`)[0]!.version.split(' on ')[0]}`);
  if (DROP.length) console.log(`engine-store indexes dropped: ${DROP.join(', ')}`);
  let started = performance.now();
  await engine.unsafe(`
    INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                            last_sign_in_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
    SELECT '00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated',
           'user' || g || '@example.com', '$2a$10$abcdefghijklmnopqrstuv', now() - make_interval(secs => g),
           CASE WHEN g % 3 = 0 THEN now() - make_interval(mins => g % 10000) END,
           '{"provider": "email", "providers": ["email"]}',
           jsonb_build_object('full_name', 'User ' || g, 'avatar_url', 'https://img.example.com/' || g || '.png'),
           now() - make_interval(secs => g), now() - make_interval(secs => g)
      FROM generate_series(1, ${USERS}) g`);
  await engine`vacuum analyze auth.users`;
  console.log(
    `generated ${USERS.toLocaleString('en-US')} auth users in ${((performance.now() - started) / 1000).toFixed(1)}s\n`,
  );

  /** COPY out of auth.users into a plain table, through this process (as the sync's rows go). */
  async function rawCopy(): Promise<number> {
    await engine`drop table if exists public.raw_users`;
    await engine`create table public.raw_users as select * from auth.users with no data`;
    await engine`checkpoint`;
    // Two clients: one pool running both COPYs can stall.
    const from = postgres(url, { max: 1 });
    const to = postgres(url, { max: 1 });
    const start = performance.now();
    const readable = await from`copy (select * from auth.users) to stdout`.readable();
    const writable = await to`copy public.raw_users from stdin`.writable();
    await pipeline(readable, writable);
    const seconds = (performance.now() - start) / 1000;
    await Promise.all([from.end(), to.end()]);
    return USERS / seconds;
  }

  /** One INSERT ... SELECT into a copy of nudge_engine.contacts with all its indexes. */
  async function serverSideInsert(): Promise<number> {
    await engine`create table public.contacts_copy (like nudge_engine.contacts including all)`;
    await engine`checkpoint`;
    const start = performance.now();
    await engine`
      insert into public.contacts_copy (auth_user_id, email, phone, attributes, deleted_at)
      select id, lower(email), phone, jsonb_build_object(
               'full_name', raw_user_meta_data->'full_name', 'avatar_url', raw_user_meta_data->'avatar_url',
               'created_at', created_at, 'last_sign_in_at', last_sign_in_at,
               'provider', raw_app_meta_data->'provider', 'confirmed_at', confirmed_at), deleted_at
        from auth.users`;
    const seconds = (performance.now() - start) / 1000;
    await engine`drop table public.contacts_copy`;
    return USERS / seconds;
  }

  const rawBefore = await rawCopy();
  console.log(`raw COPY (before):  ${rawBefore.toFixed(0).padStart(8)} rows/s`);
  const ceiling = await serverSideInsert();
  console.log(
    `INSERT … SELECT into a copy of contacts (server-side): ${ceiling.toFixed(0).padStart(8)} rows/s`,
  );

  /**
   * A full `nudge sync users`: in the database when the engine store is the
   * source database (the default), else through this process, as with a
   * separate engine store. Returns rows/s and memory samples at each tenth.
   */
  async function sync(holdsEngine: boolean) {
    await engine`truncate nudge_engine.contacts, nudge_engine.contact_search_queue, nudge_engine.sync_state cascade`;
    await engine`checkpoint`;
    const samples: string[] = [];
    let nextTenth = 1;
    const { io } = memoryIo();
    const report: SyncReporter = {
      log: makeSyncLog(io as Io, { log_level: 'warn' }, []),
      start() {},
      progress(stats) {
        if (stats.read < (USERS * nextTenth) / 10) return;
        const memory = process.memoryUsage();
        samples.push(`${nextTenth * 10}%: rss ${mb(memory.rss)}, heap ${mb(memory.heapUsed)}`);
        nextTenth++;
      },
      skipped() {},
      stop() {},
    };
    const started = performance.now();
    const result = await syncUsers({
      engine,
      engineUrl: url,
      source: { kind: 'database', sql: source, holdsEngine },
      mapping: compileUserMapping(undefined),
      batchSize: BATCH,
      report,
    });
    const seconds = (performance.now() - started) / 1000;
    if (result.status !== 'done' || result.stats.synced !== USERS) {
      throw new Error(`sync ended ${result.status} with ${result.stats.synced} synced`);
    }
    return { rate: USERS / seconds, seconds, samples };
  }

  const viaProcess = await sync(false);
  const inDatabase = await sync(true);
  // The search documents are written after the contacts, by the engine's
  // indexer (contacts/search-index.ts); here it runs alone until caught up.
  started = performance.now();
  let indexed = 0;
  for (let n = await indexContacts(engine); n > 0; n = await indexContacts(engine)) indexed += n;
  const indexSeconds = (performance.now() - started) / 1000;
  const rawAfter = await rawCopy();
  const raw = (rawBefore + rawAfter) / 2;
  const line = (label: string, run: { rate: number; seconds: number }, how: string) =>
    console.log(
      `${label.padEnd(34)}${run.rate.toFixed(0).padStart(8)} rows/s  (${run.seconds.toFixed(1)}s, full, batches of ${BATCH}, ${how})`,
    );
  line('nudge sync users, in the database:', inDatabase, 'engine store = source database');
  line('nudge sync users, through Nudge:', viaProcess, 'as with a separate engine store');
  console.log(
    `${'search indexer:'.padEnd(34)}${(indexed / indexSeconds).toFixed(0).padStart(8)} rows/s  (${indexSeconds.toFixed(1)}s to index the ${indexed.toLocaleString('en-US')} contacts the sync queued)`,
  );
  console.log(`raw COPY (after):   ${rawAfter.toFixed(0).padStart(8)} rows/s`);
  console.log(
    `\nratio sync ÷ raw COPY (mean of before/after): ${(inDatabase.rate / raw).toFixed(3)} in the database, ${(viaProcess.rate / raw).toFixed(3)} through Nudge`,
  );
  console.log(
    `ratio sync and search indexing together ÷ raw COPY: ${(USERS / (inDatabase.seconds + indexSeconds) / raw).toFixed(3)} in the database, ${(USERS / (viaProcess.seconds + indexSeconds) / raw).toFixed(3)} through Nudge`,
  );
  console.log(
    `ratio sync ÷ server-side INSERT … SELECT into contacts: ${(inDatabase.rate / ceiling).toFixed(3)} in the database, ${(viaProcess.rate / ceiling).toFixed(3)} through Nudge`,
  );
  console.log(`peak RSS of this process: ${mb(process.resourceUsage().maxRSS * 1024)}`);
  console.log(`memory during the sync in the database: ${inDatabase.samples.join(' · ')}`);
  console.log(`memory during the sync through Nudge: ${viaProcess.samples.join(' · ')}`);
  await Promise.all([engine.end(), source.end()]);
} finally {
  await bench.stop();
}
