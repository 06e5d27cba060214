// `nudge dev` (what `npm start` runs): Nudge on a laptop with no database URL.
// Starts an embedded PostgreSQL under .nudge/, creates a Supabase-shaped demo
// database, plans and deploys the project's features (or the bundled demo),
// makes a few demo writes, and shows the events the triggers captured. Then
// it keeps running and prints each new captured change until Ctrl-C.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { deploy as applyPlan } from '../capture/deploy.js';
import { renderPlan } from '../capture/render.js';
import type { LoadedConfig } from '../config/load.js';
import { loadConfig } from '../config/load.js';
import { openDemoDatabase } from '../dev/demo.js';
import { redactUrl } from '../source/connect.js';
import { planChange } from './capture.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';

export interface DevOptions extends GlobalOptions {
  /** Exit after the demo instead of following new events. */
  once?: boolean;
  /** Directory for the embedded server's data (default .nudge/pg). */
  dataDir?: string;
  port?: string;
}

const BUNDLED_DEMO = new URL('../../examples/demo/', import.meta.url);

export async function dev(options: DevOptions, io: Io): Promise<number> {
  const c = io.colors;
  const project = await devProject(options, io);
  const dataDir = path.resolve(io.cwd, options.dataDir ?? '.nudge/pg');
  io.out(
    `${c.bold('Nudge dev')} — embedded PostgreSQL in ${path.relative(io.cwd, dataDir) || dataDir}`,
  );
  const demo = await openDemoDatabase(dataDir, options.port ? Number(options.port) : undefined);
  const { server, url } = demo;
  let sql: postgres.Sql | undefined;
  try {
    if (demo.created) {
      io.out(
        c.dim(
          'Created a Supabase-shaped demo database (auth, storage, roles, realtime publication).',
        ),
      );
    }
    io.out(`Database: ${c.cyan(redactUrl(url))}`);
    io.out(c.dim(`  connect: psql "${url}"`));
    io.out('');

    sql = postgres(url, { onnotice: () => {}, max: 2 });
    const { plan } = await planChange({ ...project, databaseUrl: url }, sql);
    renderPlan(plan, io);
    if (plan.hasChanges) {
      const result = await applyPlan(sql, plan.desired);
      io.out(`${c.green('✓')} Deployed (deployment #${result.deploymentId ?? '-'})`);
    }
    io.out('');

    const after = await lastEventId(sql);
    await demoWrites(sql, io);
    await printEventsSince(sql, io, after);
    io.out('');
    if (options.once) return 0;

    io.out(
      `Watching ${c.cyan('nudge.event_log')} — insert or update rows (e.g. in psql) and the captured events appear here. Ctrl-C to stop.`,
    );
    await follow(sql, io, await lastEventId(sql));
    return 0;
  } finally {
    await sql?.end({ timeout: 1 });
    await server.stop();
  }
}

/** The user's project if the working directory has one, else the bundled demo. */
async function devProject(options: DevOptions, io: Io): Promise<LoadedConfig> {
  const own =
    options.config ||
    ['nudge.yaml', 'nudge.yml'].some((name) => existsSync(path.join(io.cwd, name)));
  if (own) {
    return loadConfig({
      ...(options.config ? { configPath: options.config } : {}),
      cwd: io.cwd,
      env: io.env,
    });
  }
  io.out(io.colors.dim('No nudge.yaml here: running the bundled demo project (examples/demo).'));
  return loadConfig({
    configPath: fileURLToPath(new URL('nudge.yaml', BUNDLED_DEMO)),
    cwd: io.cwd,
    env: io.env,
  });
}

/** A sign-up, a profile and a paid order, as the demo app would write them. */
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
    insert into public.orders (user_id, total, items) values (${user!.id}, 42.50, '[{"sku":"tea","qty":2}]')
    returning id`;
  io.out(`  insert into public.orders     order ${order!.id}, 42.50`);
  await sql`update public.orders set status = 'paid' where id = ${order!.id}`;
  io.out(`  update public.orders          order ${order!.id} → paid`);
  await sql
    .begin(async (tx) => {
      await tx`insert into public.orders (user_id, total) values (${user!.id}, 1)`;
      throw new Error('rolled back on purpose');
    })
    .catch(() => {});
  io.out('  insert into public.orders     (rolled back: must not be captured)');
  io.out('');
}

async function lastEventId(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<
    { id: number }[]
  >`select coalesce(max(id), 0)::int as id from nudge.event_log`;
  return row?.id ?? 0;
}

interface EventRow {
  id: number;
  schema_name: string;
  table_name: string;
  operation: string;
  row_count: number;
  new_rows: Record<string, unknown>[] | null;
  old_rows: Record<string, unknown>[] | null;
  enrichment: unknown[] | null;
  captured_at: Date;
}

function eventsSince(sql: postgres.Sql, after: number) {
  return sql<EventRow[]>`
    select id::int as id, schema_name, table_name, operation, row_count, new_rows, old_rows, enrichment, captured_at
      from nudge.event_log where id > ${after} order by id`;
}

async function printEventsSince(sql: postgres.Sql, io: Io, after: number): Promise<number> {
  const rows = await eventsSince(sql, after);
  const c = io.colors;
  if (rows.length === 0) {
    io.out(c.dim('No new events in nudge.event_log.'));
    return after;
  }
  return printEvents(io, rows);
}

function printEvents(io: Io, rows: EventRow[]): number {
  const c = io.colors;
  io.out(
    c.bold(`Captured in nudge.event_log (${rows.length} row${rows.length === 1 ? '' : 's'}):`),
  );
  for (const row of rows) {
    const sample = row.new_rows?.[0] ?? row.old_rows?.[0] ?? {};
    const key =
      'email' in sample ? `email=${sample.email}` : 'id' in sample ? `id=${sample.id}` : '';
    const extra = row.row_count > 1 ? ` (+${row.row_count - 1} more rows)` : '';
    const enrichment = row.enrichment?.[0]
      ? `  enrichment=${JSON.stringify(row.enrichment[0])}`
      : '';
    io.out(
      `  #${row.id}  ${row.operation.padEnd(6)} ${row.schema_name}.${row.table_name}  ${key}${extra}${enrichment}`,
    );
  }
  return rows[rows.length - 1]!.id;
}

/** Prints new outbox rows until the process is interrupted. */
async function follow(sql: postgres.Sql, io: Io, from: number): Promise<void> {
  let last = from;
  let stop = false;
  const onSignal = () => {
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    while (!stop) {
      const rows = await eventsSince(sql, last);
      if (rows.length > 0) last = printEvents(io, rows);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    io.out(
      '\nStopping; the demo database stays in .nudge/ for next time (delete the folder to start over).',
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
