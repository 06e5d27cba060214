// What the replication tests share: a slot name unique to the test database
// (slots are server-wide), the capture deployed by replication, the engine
// store migrated, a consumer feeding its inbox, the inbox read back, and the
// slot dropped before the harness drops the database (a database with a
// logical slot cannot be dropped).
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type postgres from 'postgres';
import { afterAll, beforeAll } from 'vitest';
import { deploy } from '../../src/capture/deploy.js';
import { desiredCaptures } from '../../src/capture/desired.js';
import { replicationObjects } from '../../src/capture/transports/replication/desired.js';
import { dropReplication } from '../../src/capture/transports/replication/slot.js';
import type { CaptureNeed } from '../../src/capture/triggers.js';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { loadFeatures } from '../../src/features/load.js';
import { readCatalog } from '../../src/source/catalog.js';
import type { TestDatabase } from '../harness/db.js';

export function slotFor(db: TestDatabase): string {
  return `nudge_${db.name}`;
}

export async function serverVersion(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ v: number }[]>`select current_setting('server_version_num')::int as v`;
  return row!.v;
}

export async function deployReplication(db: TestDatabase, needs: CaptureNeed[]) {
  const desired = replicationObjects(needs, {
    slot: slotFor(db),
    serverVersion: await serverVersion(db.sql),
  });
  const result = await deploy(db.sql, desired);
  return { desired, result };
}

export async function migrated(db: TestDatabase): Promise<void> {
  await migrateEngine(db.sql, db.url);
}

/** Drops the test database's slot first when the file ends (registered before useDatabase's drop runs). */
export function dropSlotAfterAll(db: TestDatabase): void {
  afterAll(async () => {
    if (db.sql) await dropReplication(db.sql).catch(() => {});
  });
}

export interface InboxRow {
  source_key: string;
  table_name: string;
  operation: string;
  new_row: Record<string, unknown> | null;
  old_row: Record<string, unknown> | null;
}

export async function replicated(sql: postgres.Sql): Promise<InboxRow[]> {
  return sql<InboxRow[]>`
    select source_key, table_name, operation, new_row, old_row
      from nudge_engine.inbox where source = 'replication' order by id`;
}

/**
 * A project folder for `nudge start` capturing by replication: nudge.yaml
 * (capture.replication.slot set to this database's slot) and the features,
 * deployed. Returns the folder (the caller removes it).
 */
export async function replicationProject(
  db: TestDatabase,
  yaml: string,
  features: Record<string, string>,
): Promise<string> {
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-replication-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(
    path.join(cwd, 'nudge.yaml'),
    `capture: { transport: replication, replication: { slot: ${slotFor(db)} } }\n${yaml}`,
  );
  for (const [name, text] of Object.entries(features))
    await writeFile(path.join(cwd, `nudge/features/${name}.yaml`), text);
  const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  const loaded = await loadFeatures(project.featuresDir, project.env, cwd);
  const catalog = await readCatalog(db.sql);
  await deploy(db.sql, await desiredCaptures(project, db.sql, loaded, catalog));
  return cwd;
}

/** Runs the nudge CLI in a project folder against the test database, as a user would. */
export async function nudgeIn(db: TestDatabase, cwd: string, args: string[]) {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  const code = await run(args, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

/** A feature on public.orders: one event per `on` (insert, update), nothing else. */
export function ordersFeature(on: 'insert' | 'update'): Record<string, string> {
  return {
    orders: `name: orders
trigger: { table: public.orders, on: ${on} }
stages:
  - name: seen
    do: [{ track: { event: order-${on} } }]
`,
  };
}

/** ordersFeature and a feature on public.events (PARTITIONED_EVENTS) for one event per `on`. */
export function ordersAndEventsFeatures(on: 'insert' | 'update'): Record<string, string> {
  return {
    ...ordersFeature('insert'),
    events: `name: events
trigger: { table: public.events, on: ${on} }
stages:
  - name: seen
    do: [{ track: { event: event-${on} } }]
`,
  };
}

/** public.events partitioned by date, with one partition (2024). */
export const PARTITIONED_EVENTS = `create table public.events (id int, at date, primary key (id, at)) partition by range (at);
   create table public.events_2024 partition of public.events for values from ('2024-01-01') to ('2025-01-01')`;

/**
 * For a test file driving the CLI: public.orders (and \`tables\`) made, a
 * replication project (read-write) with these features deployed and the
 * engine store migrated before all tests; its folder removed after them.
 * The slot is dropped after all tests too (dropSlotAfterAll).
 */
export function useOrdersProject(db: TestDatabase, features: Record<string, string>, tables = '') {
  dropSlotAfterAll(db);
  let cwd = '';
  beforeAll(async () => {
    await db.sql`create table public.orders (id bigserial primary key, status text)`;
    if (tables) await db.sql.unsafe(tables);
    cwd = await replicationProject(db, 'access: read-write\n', features);
    await migrated(db);
  });
  afterAll(async () => {
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });
  return {
    cwd: () => cwd,
    nudge: (args: string[]) => nudgeIn(db, cwd, args),
    /** Whether the test database's slot (or `name`) exists. */
    slotExists: (name?: string) => slotExists(db, name),
  };
}

/** Rewrites the capture line of the project's nudge.yaml (the first line). */
export async function useCapture(cwd: string, line: string): Promise<void> {
  const file = path.join(cwd, 'nudge.yaml');
  const [, ...rest] = (await readFile(file, 'utf8')).split('\n');
  await writeFile(file, [line, ...rest].join('\n'));
}

/**
 * public.items (an identity id, `customer` and these columns) captured on
 * insert by one feature tracking `item_seen` for new.customer, in a
 * replication project of its own, the engine store migrated. The project
 * folder, for the engines the test spawns there.
 */
export async function itemsProject(db: TestDatabase, columns = ''): Promise<string> {
  await db.sql.unsafe(`create table public.items (
    id bigint generated by default as identity primary key,${columns} customer text not null)`);
  const cwd = await replicationProject(db, 'server: { port: 0 }\n', {
    'item-added': `name: item-added
trigger: { table: public.items, on: insert }
contact: { id: new.customer }
stages:
  - name: seen
    do: [{ track: { event: item_seen } }]
`,
  });
  await migrated(db);
  return cwd;
}

/** Whether the test database's slot (or `name`) exists. */
export async function slotExists(db: TestDatabase, name = slotFor(db)): Promise<boolean> {
  return (await db.sql`select 1 from pg_replication_slots where slot_name = ${name}`).length === 1;
}
