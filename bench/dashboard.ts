// What the dashboard's pages cost the server at volume: an engine store seeded
// with 100k contacts, 1M decisions, 200k action runs (and the inbox rows,
// journeys and mailbox they imply), then every API call the pages make,
// timed in-process (the Hono app's own request path, no network), with p50
// and p95 per call. Also the gzipped size of the initial JavaScript
// (dist/web, so run `npm run build` first; the npm script does).
//
//   npm run bench:dashboard            BENCH_SCALE=0.1 for a quick look
//   BENCH_HOLD=1 npx tsx bench/dashboard.ts   seeds, prints the database URL and
//                                      waits for Ctrl-C (for EXPLAIN ANALYZE)
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import postgres from 'postgres';
import { loadConfig } from '../src/config/load.js';
import { indexContacts } from '../src/contacts/search-index.js';
import { migrateEngine } from '../src/db/migrate.js';
import { loadFeatures } from '../src/features/load.js';
import { createApiKey } from '../src/server/api/keys.js';
import { makeServer } from '../src/server/index.js';
import { benchDatabase } from './database.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const CONTACTS = Math.round(100_000 * SCALE);
const DECISIONS = Math.round(1_000_000 * SCALE);
const ACTION_RUNS = Math.round(200_000 * SCALE);
const CALLS = Number(process.env.BENCH_CALLS ?? 40);
const FEATURES = ['welcome-drip', 'order-paid', 'heartbeat', 'inactivity'];

const bench = await benchDatabase('dashboard');
try {
  const sql = postgres(bench.url, { onnotice: () => {}, max: 10 });
  await migrateEngine(sql, bench.url);

  const seedStart = performance.now();
  process.stdout.write(
    `Seeding ${CONTACTS} contacts, ${DECISIONS} decisions, ${ACTION_RUNS} action runs… `,
  );
  await sql.unsafe(`
    INSERT INTO nudge_engine.contacts (auth_user_id, email, attributes, created_at, last_event_at)
    SELECT gen_random_uuid(), 'user' || g || '@example.com',
           jsonb_build_object('plan', (ARRAY['free', 'pro', 'team'])[1 + g % 3], 'onboarded', g % 2 = 0),
           now() - make_interval(mins => g % 100000), now() - make_interval(secs => g % 86400)
      FROM generate_series(1, ${CONTACTS}) g;
    CREATE UNLOGGED TABLE seed_contacts AS
      SELECT row_number() OVER (ORDER BY id) AS n, id, email FROM nudge_engine.contacts;
    CREATE INDEX ON seed_contacts (n);
    ANALYZE seed_contacts;
    -- One inbox row per 4 decisions (an event and the features it met).
    INSERT INTO nudge_engine.inbox (source, source_key, schema_name, table_name, operation,
                                    new_row, occurred_at, received_at, partition, processed_at)
    SELECT 'outbox', g::text, 'public', 'orders', (ARRAY['insert', 'update'])[1 + g % 2],
           jsonb_build_object('id', g, 'status', 'paid'),
           now() - make_interval(secs => (${DECISIONS / 4} - g) / 2), now() - make_interval(secs => (${DECISIONS / 4} - g) / 2),
           g % 2, now()
      FROM generate_series(1, ${DECISIONS / 4}) g;
    INSERT INTO nudge_engine.action_runs (key, feature, contact_id, stage, kind, params, status,
                                          attempts, last_error, created_at, updated_at)
    SELECT 'run-' || g, ${literalList(FEATURES)}[1 + g % ${FEATURES.length}], c.id, 'welcomed',
           (ARRAY['email', 'webhook'])[1 + g % 2], '{"template": "welcome"}',
           CASE WHEN g % 500 = 0 THEN 'dead' WHEN g % 300 = 0 THEN 'retrying' ELSE 'succeeded' END,
           1 + (g % 500 = 0)::int * 7, CASE WHEN g % 500 = 0 THEN 'HTTP 503 from https://hooks.example.com' END,
           now() - make_interval(secs => (${ACTION_RUNS} - g)), now() - make_interval(secs => (${ACTION_RUNS} - g))
      FROM generate_series(1, ${ACTION_RUNS}) g
      JOIN seed_contacts c ON c.n = 1 + g % ${CONTACTS};
    -- Decisions in time order: per event, a match with an action (every other
    -- event), skips for the rest of the features, and events with no contact.
    INSERT INTO nudge_engine.decisions (at, inbox_id, feature, contact_id, outcome, reason, detail)
    SELECT now() - make_interval(secs => (${DECISIONS} - g) / 8), 1 + (g - 1) / 4,
           ${literalList(FEATURES)}[1 + g % ${FEATURES.length}],
           CASE WHEN g % 7 = 0 THEN NULL ELSE c.id END,
           (ARRAY['matched', 'skipped', 'action', 'skipped'])[1 + g % 4],
           (ARRAY['trigger matched', 'condition false: new.status eq.paid', 'stage welcomed: email queued', 'cooldown 30d'])[1 + g % 4],
           CASE WHEN g % 4 = 2 THEN jsonb_build_object('kind', 'email', 'key', 'run-' || (1 + g % ${ACTION_RUNS})) END
      FROM generate_series(1, ${DECISIONS}) g
      JOIN seed_contacts c ON c.n = 1 + g % ${CONTACTS};
    INSERT INTO nudge_engine.journeys (feature, contact_id, status, stage, entries, entered_at,
                                       stage_entered_at, ended_at, wake_at)
    SELECT f.name, c.id, (ARRAY['active', 'completed', 'exited'])[1 + c.n % 3],
           CASE WHEN c.n % 3 = 0 THEN (ARRAY['welcomed', 'nudged'])[1 + c.n % 2] END, 1,
           now() - make_interval(hours => (c.n % 720)::int), now() - make_interval(hours => (c.n % 48)::int),
           CASE WHEN c.n % 3 <> 0 THEN now() - make_interval(hours => (c.n % 24)::int) END,
           CASE WHEN c.n % 3 = 0 THEN now() + make_interval(hours => (c.n % 48)::int) END
      FROM seed_contacts c CROSS JOIN unnest(${literalList(FEATURES.slice(0, 2))}) AS f(name);
    -- A static list of every 20th contact (5,000 at full scale), and a segment.
    INSERT INTO nudge_engine.lists (name) VALUES ('early');
    INSERT INTO nudge_engine.lists (name, query) VALUES ('pros', 'plan=eq.pro&onboarded=is.true');
    INSERT INTO nudge_engine.list_members (list_id, contact_id)
    SELECT (SELECT id FROM nudge_engine.lists WHERE name = 'early'), id FROM seed_contacts WHERE n % 20 = 0;
    INSERT INTO nudge_engine.mailbox (key, to_address, subject, html, text, sent_at)
    SELECT 'mail-' || g, 'user' || g || '@example.com', 'Welcome aboard',
           '<p>Welcome!</p>', 'Welcome!', now() - make_interval(secs => ${Math.round(ACTION_RUNS / 2)} - g)
      FROM generate_series(1, ${Math.round(ACTION_RUNS / 2)}) g;
    ANALYZE;`);
  // The search documents, as a running engine's indexer writes them.
  while ((await indexContacts(sql)) > 0);
  // Settled, as a live store is: autovacuum would otherwise start on every
  // freshly filled table (inserts count towards it since PostgreSQL 13) while
  // the calls below are timed, and compete with them for the two cores.
  await sql`vacuum analyze`;
  console.log(`${((performance.now() - seedStart) / 1000).toFixed(0)} s`);
  if (process.env.BENCH_HOLD) {
    console.log(`holding the seeded database at ${bench.url}; Ctrl-C stops it`);
    await new Promise((resolve) => process.once('SIGINT', resolve));
  }

  const project = await loadConfig({
    cwd: path.resolve('examples/demo'),
    env: { DATABASE_URL: bench.url },
  });
  const features = await loadFeatures(project.featuresDir, project.env, project.cwd);
  const server = await makeServer({
    sql,
    project,
    route: () => 0,
    log: pino({ level: 'silent' }),
    keys: { key: Buffer.alloc(32, 5) },
    dashboard: { features, sourceUrl: bench.url, movableClock: false },
  });
  const { key } = await createApiKey(sql, 'bench', 'dashboard');
  const [someone] = await sql<{ email: string; id: string }[]>`
    select email, id::text from seed_contacts where n = ${Math.round(CONTACTS / 2)}`;
  const [page2] = await sql<{ id: number }[]>`
    select (max(id) - 5000)::int as id from nudge_engine.decisions`;

  const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
  const halfHourAgo = new Date(Date.now() - 1_800_000).toISOString();
  // Each page's calls, as the web app makes them (web/src/pages).
  const calls: [string, string, Record<string, string>?][] = [
    ['Overview', '/v1/overview'],
    // nudge doctor's checks as the page reads them: the server's last run
    // (a run itself is a connection test, timed apart below).
    ['Overview', '/v1/overview/checks'],
    ['Overview', '/v1/clock'],
    ['Features', '/v1/features?window=7d'],
    ['Feature', '/v1/features/welcome-drip?window=7d'],
    ['Logs', '/v1/decisions?limit=50'],
    ['Logs', `/v1/decisions?limit=50&before=${page2!.id}`],
    ['Logs', '/v1/decisions?limit=50&feature=inactivity'],
    ['Logs', '/v1/decisions?limit=50&outcome=action'],
    ['Logs', `/v1/decisions?limit=50&contact=${encodeURIComponent(someone!.email)}`],
    ['Logs', '/v1/decisions?limit=50&feature=heartbeat&outcome=matched'],
    ['Logs', `/v1/decisions?limit=50&feature=inactivity&from=${hourAgo}&to=${halfHourAgo}`],
    ['Actions', '/v1/actions?status=dead'],
    ['Actions', '/v1/actions?status=retrying&feature=order-paid'],
    ['Actions', '/v1/actions'],
    ['Actions', '/v1/actions?status=dead&feature=order-paid&since=24h'],
    ['Ingest', '/v1/ingest?limit=50'],
    ['Ingest', `/v1/ingest?limit=50&subject=public.orders&from=${hourAgo}`],
    ['Lists', '/v1/lists'],
    ['Lists', '/v1/lists/early/contacts?order=id.desc&limit=50'],
    ['Lists', `/v1/lists/early/contacts?order=id.desc&limit=50&id=lt.${someone!.id}`],
    ['Lists', '/v1/lists/pros/contacts?order=id.desc&limit=50'],
    // The new segment's live count.
    ['Lists', '/v1/contacts?plan=eq.pro&onboarded=is.true&limit=0', { prefer: 'count=exact' }],
    ['Contact', `/v1/contacts/${someone!.id}/lists`],
    ['Mailbox', '/v1/mailbox'],
    ['Contacts', '/v1/contacts?order=id.desc&limit=50'],
    // The page's search: full-text, each word a prefix of a word of the email.
    [
      'Contacts',
      `/v1/contacts?order=id.desc&limit=50&email=fts.${encodeURIComponent("'user4242':*")}`,
    ],
    ['Contacts', '/v1/contacts?email=wfts.user4242&limit=50'],
    ['Contacts', `/v1/contacts/${someone!.id}`],
  ];
  const headers = { authorization: `Bearer ${key}` };
  console.log(
    `\nNudge dashboard benchmark — ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}; ${CALLS} calls each, in-process\n`,
  );
  console.log(
    `${'page'.padEnd(10)} ${'call'.padEnd(58)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)}`,
  );
  const worst: number[] = [];
  for (const [page, url, extra] of calls) {
    const times: number[] = [];
    for (let i = 0; i < CALLS + 3; i++) {
      const start = performance.now();
      const response = await server.app.request(`http://127.0.0.1${url}`, {
        headers: { ...headers, ...extra },
      });
      await response.arrayBuffer();
      if (response.status >= 300) throw new Error(`${url}: HTTP ${response.status}`);
      if (i >= 3) times.push(performance.now() - start); // the first calls warm caches
    }
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
    worst.push(at(0.95));
    console.log(
      `${page.padEnd(10)} ${`GET ${url}`.slice(0, 58).padEnd(58)} ${at(0.5).toFixed(1).padStart(8)} ${at(0.95).toFixed(1).padStart(8)}`,
    );
  }
  console.log(`\nslowest p95: ${Math.max(...worst).toFixed(1)} ms (target ≤ 50 ms)`);

  // "Check again": nudge doctor run now — new connections to both databases,
  // the catalog, the features' plan. Not a read of the data, and not
  // counted above; its time does not grow with the rows seeded.
  const runs: number[] = [];
  for (let i = 0; i < 10; i++) {
    const start = performance.now();
    const response = await server.app.request('http://127.0.0.1/v1/overview/checks?fresh', {
      headers,
    });
    await response.arrayBuffer();
    runs.push(performance.now() - start);
  }
  runs.sort((a, b) => a - b);
  console.log(
    `"Check again" (GET /v1/overview/checks?fresh, nudge doctor run now, 10 runs): p50 ${runs[5]!.toFixed(0)} ms, slowest ${runs[9]!.toFixed(0)} ms`,
  );

  const assets = path.resolve('dist/web/assets');
  const scripts = (await readdir(assets)).filter((f) => f.endsWith('.js'));
  const html = await readFile(path.resolve('dist/web/index.html'), 'utf8');
  const initial = scripts.filter((f) => html.includes(f));
  let gzipped = 0;
  for (const file of initial)
    gzipped += gzipSync(await readFile(path.join(assets, file)), { level: 9 }).length;
  console.log(
    `initial JavaScript: ${initial.join(', ')} — ${(gzipped / 1024).toFixed(1)} KB gzipped (target ≤ 150 KB)`,
  );
  await sql.end();
} finally {
  await bench.stop();
}

function literalList(items: string[]): string {
  return `(ARRAY[${items.map((item) => `'${item.replaceAll("'", "''")}'`).join(', ')}]::text[])`;
}
