// `nudge dev` (what `npm start` runs): all of Nudge on a laptop, no database
// URL. An embedded PostgreSQL under .nudge/ holds a Supabase-shaped demo
// database; the project's features (or the bundled demo) are deployed; the
// engine runs with its HTTP server; a few demo writes go through capture,
// journeys and actions (dev mailbox, a signed webhook to a local sink); and
// every decision is printed. Then it keeps running until Ctrl-C, printing
// what happens; `nudge clock advance 2d` fires waits.

import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { deploy as applyPlan } from '../capture/deploy.js';
import { renderPlan } from '../capture/render.js';
import type { LoadedConfig } from '../config/load.js';
import { loadConfig } from '../config/load.js';
import { openDemoDatabase } from '../dev/demo.js';
import { reuseNote } from '../dev/embedded.js';
import { decisionLines } from '../engine/decision-log.js';
import { launch } from '../engine/launch.js';
import { makeLog } from '../engine/log.js';
import { pendingCaptures } from '../engine/pump.js';
import { redactUrl } from '../source/connect.js';
import { planChange } from './capture.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';

export interface DevOptions extends GlobalOptions {
  /** Exit after the demo instead of following new decisions. */
  once?: boolean;
  dataDir?: string;
  port?: string;
}

const BUNDLED_DEMO = new URL('../../examples/demo/', import.meta.url);

export async function dev(options: DevOptions, io: Io): Promise<number> {
  const c = io.colors;
  const sink = await startSink();
  const env = { FULFILMENT_WEBHOOK_URL: `${sink.url}/orders`, ...io.env };
  const dataDir = path.resolve(io.cwd, options.dataDir ?? '.nudge/pg');
  const own =
    options.config || ['nudge.yaml', 'nudge.yml'].some((n) => existsSync(path.join(io.cwd, n)));
  if (!own) io.out(c.dim('No nudge.yaml here: running the bundled demo project (examples/demo).'));
  io.out(
    `${c.bold('Nudge dev')} — embedded PostgreSQL in ${path.relative(io.cwd, dataDir) || dataDir}`,
  );
  const demo = await openDemoDatabase(dataDir, options.port ? Number(options.port) : undefined);
  const loaded = await loadConfig({
    ...(own
      ? options.config
        ? { configPath: options.config }
        : {}
      : { configPath: fileURLToPath(new URL('nudge.yaml', BUNDLED_DEMO)) }),
    cwd: io.cwd,
    env,
  });
  const project: LoadedConfig = { ...loaded, databaseUrl: demo.url, databaseUrlFrom: 'nudge dev' };
  let sql: postgres.Sql | undefined;
  let running: Awaited<ReturnType<typeof launch>> | undefined;
  try {
    if (demo.created)
      io.out(
        c.dim(
          'Created a Supabase-shaped demo database (auth, storage, roles, realtime publication).',
        ),
      );
    io.out(`Database: ${c.cyan(redactUrl(demo.url))}`);
    const reuse = reuseNote(demo.server);
    if (reuse) io.out(c.dim(`  server: ${reuse}`));
    io.out(c.dim(`  connect: psql "${demo.url}"`));
    io.out('');
    sql = postgres(demo.url, { onnotice: () => {}, max: 2 });
    const { plan } = await planChange(project, sql);
    renderPlan(plan, io);
    if (plan.hasChanges) {
      const result = await applyPlan(sql, plan.desired);
      io.out(`${c.green('✓')} Deployed (deployment #${result.deploymentId ?? '-'})`);
    }
    io.out('');
    const lines: string[] = [];
    running = await launch(project, {
      http: true,
      log: makeLog({ write: (line) => lines.push(line) }),
      port: await freeOr(project.config.server.port),
      idleMs: 50,
    });
    io.out(
      `Engine running: ${c.cyan(running.url ?? '')} (POST /ingest, GET /health) · state in ${running.store.describe()}`,
    );
    if (running.dashboardUrl) io.out(`Dashboard: ${c.cyan(running.dashboardUrl)}`);
    // From this process's start (not npm's build before it) to the server answering.
    io.out(c.dim(`Ready in ${process.uptime().toFixed(1)} s.`));
    io.out('');
    const since = await lastDecision(sql);
    await demoWrites(sql, io);
    await settled(sql);
    await printDecisions(sql, io, since);
    await printMailbox(sql, io);
    printSink(sink.received, io);
    if (options.once) return 0;
    io.out('');
    io.out(
      `Watching — write to the database (psql above) and decisions appear here. Move time: ${c.cyan('nudge clock advance 2d')}. Ctrl-C to stop.`,
    );
    await follow(sql, io, await lastDecision(sql));
    return 0;
  } finally {
    await running?.stop();
    await sql?.end({ timeout: 1 });
    await sink.close();
    await demo.server.stop();
  }
}

/** A sign-up, a profile and a paid order, as the demo app would write them; and one rolled back. */
async function demoWrites(sql: postgres.Sql, io: Io): Promise<void> {
  io.out(io.colors.bold('Demo writes:'));
  const email = `ada+${Date.now()}@example.com`;
  const [user] = await sql<{ id: string }[]>`
    insert into auth.users (instance_id, id, aud, role, email, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
    values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated', ${email},
            '{"provider":"email","providers":["email"]}', '{"full_name":"Ada Lovelace"}', now(), now())
    returning id`;
  io.out(`  insert into auth.users        ${email}`);
  await sql`insert into public.profiles (id, full_name, plan) values (${user!.id}, 'Ada Lovelace', 'pro')`;
  const [order] = await sql<{ id: string }[]>`
    insert into public.orders (user_id, total, items) values (${user!.id}, 42.50, '[{"sku":"tea","qty":2}]') returning id`;
  io.out(`  insert into public.orders     order ${order!.id}, 42.50`);
  await sql`update public.orders set status = 'paid' where id = ${order!.id}`;
  io.out(`  update public.orders          order ${order!.id} → paid`);
  await sql
    .begin(async (tx) => {
      await tx`insert into public.orders (user_id, total) values (${user!.id}, 1)`;
      throw new Error('rolled back on purpose');
    })
    .catch(() => {});
  io.out('  insert into public.orders     (rolled back: never captured)');
  io.out('');
}

/** Waits (up to 20 s) until captured changes are processed and no action is pending. */
async function settled(sql: postgres.Sql): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const [state] = await sql<{ busy: number }[]>`
      select ${await pendingCaptures(sql)}::int
           + (select count(*) from nudge_engine.inbox where processed_at is null)
           + (select count(*) from nudge_engine.action_runs where status in ('pending', 'retrying')) as busy`;
    if (Number(state?.busy) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function lastDecision(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<
    { id: number }[]
  >`select coalesce(max(id), 0)::int as id from nudge_engine.decisions`;
  return row?.id ?? 0;
}

async function printDecisions(sql: postgres.Sql, io: Io, after: number): Promise<number> {
  const rows = await sql<
    {
      id: number;
      feature: string | null;
      contact: string | null;
      outcome: string;
      reason: string;
      detail: unknown;
    }[]
  >`
    select d.id::int as id, d.feature, coalesce(c.email, '-') as contact, d.outcome, d.reason, d.detail
      from nudge_engine.decisions d left join nudge_engine.contacts c on c.id = d.contact_id
     where d.id > ${after} order by d.id`;
  if (rows.length) io.out(io.colors.bold('Decisions (nudge logs shows them any time):'));
  for (const r of rows.flatMap((row) => decisionLines(row))) {
    io.out(
      `  ${(r.feature ?? '-').padEnd(14)} ${(r.contact ?? '-').padEnd(34)} ${r.outcome.padEnd(9)} ${r.reason}`,
    );
  }
  return rows.at(-1)?.id ?? after;
}

async function printMailbox(sql: postgres.Sql, io: Io): Promise<void> {
  const mails = await sql<{ to_address: string; subject: string | null }[]>`
    select to_address, subject from nudge_engine.mailbox order by id desc limit 5`;
  if (!mails.length) return;
  io.out('');
  io.out(io.colors.bold('Dev mailbox (email.provider: dev):'));
  for (const m of mails.reverse()) io.out(`  to ${m.to_address}  "${m.subject ?? ''}"`);
}

function printSink(received: { path: string; body: string; id: string }[], io: Io): void {
  if (!received.length) return;
  io.out('');
  io.out(io.colors.bold('Webhooks received by the demo sink:'));
  for (const r of received) io.out(`  POST ${r.path}  ${r.body}  webhook-id ${r.id}`);
}

/** Prints new decisions until Ctrl-C. */
async function follow(sql: postgres.Sql, io: Io, from: number): Promise<void> {
  let last = from;
  let stop = false;
  const onSignal = () => {
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  try {
    while (!stop) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      last = await printDecisions(sql, io, last);
    }
    io.out(
      '\nStopping; the demo database stays in .nudge/ for next time (delete the folder to start over).',
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
}

/** The configured port if it is free, else any free port. */
async function freeOr(port: number): Promise<number> {
  if (port === 0) return 0;
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(0));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(port)));
  });
}

/** A local HTTP endpoint standing in for the demo's fulfilment service. */
async function startSink() {
  const received: { path: string; body: string; id: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push({ path: req.url ?? '/', body, id: String(req.headers['webhook-id'] ?? '-') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
