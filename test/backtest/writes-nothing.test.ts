// nudge backtest writes nothing, the engine store's schema included: on a
// database Nudge never ran on it makes no nudge_engine or nudge_worker
// schema — it runs there, on the table's rows alone with an empty contact
// book — and on an engine store behind this version it applies no
// migration: it says which command does (src/backfill/session.ts).
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BacktestReport, runBacktest } from '../../src/backtest/index.js';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/load.js';
import { engineMigrations } from '../../src/db/migrate.js';
import { loadFeatures } from '../../src/features/load.js';
import { readCatalog } from '../../src/source/catalog.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';
import { projectFiles } from './fixtures.js';

const db = useDatabase();
let cwd: string;

beforeAll(async () => {
  await db.sql`create table public.accounts (
    id bigint primary key, email text not null, created_at timestamptz not null default now())`;
  await db.sql`insert into public.accounts (id, email) values (1, 'a@example.com'), (2, 'b@example.com'), (3, 'c@example.com')`;
  cwd = await tempProject(
    {
      'nudge.yaml': '',
      'nudge/features/welcome.yaml': `name: welcome
trigger: { table: public.accounts, on: insert }
contact: { email: new.email }
stages:
  - name: hi
    do: [{ email: { template: hi } }]
`,
    },
    'nudge-backtest-writes-',
  );
});

/** Every schema and relation of the database, and the migrations the engine store records. */
async function snapshot() {
  const relations = await db.sql<{ schema: string; name: string; kind: string }[]>`
    select n.nspname as schema, c.relname as name, c.relkind as kind
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
     order by 1, 2`;
  const schemas = await db.sql<{ nspname: string }[]>`
    select nspname from pg_namespace where nspname not like 'pg_t%' order by 1`;
  const [recorded] = await db.sql<{ present: boolean }[]>`
    select to_regclass('nudge_engine.migrations') is not null as present`;
  const migrations = recorded?.present
    ? (
        await db.sql<{ version: number }[]>`select version from nudge_engine.migrations order by 1`
      ).map((r) => r.version)
    : [];
  return { schemas: schemas.map((s) => s.nspname), relations, migrations };
}

async function backtest(...extra: string[]) {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  const code = await run(
    ['-c', path.join(cwd, 'nudge.yaml'), 'backtest', 'welcome', '--since', '30d', ...extra],
    m.io,
  );
  return { code, out: m.stdout(), err: m.stderr() };
}

describe('nudge backtest writes nothing', () => {
  it('on a database Nudge never ran on: runs on the rows alone, makes no schema, changes nothing', async () => {
    const before = await snapshot();
    expect(before.schemas).not.toContain('nudge_engine');
    expect(before.schemas).not.toContain('nudge_worker');
    const result = await backtest('--json');
    expect(await snapshot()).toEqual(before);
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.out) as BacktestReport;
    // No kept events: the table's rows are the whole window's history.
    expect(report.sources).toEqual([
      {
        table: 'public.accounts',
        source: 'rows',
        column: 'created_at',
        from: report.window.from,
        to: report.window.to,
      },
    ]);
    expect(report.events.bySource).toEqual({ rows: { read: 3, matched: 3, entered: 3 } });
    // An empty contact book: each of them is a new contact.
    expect(report.contacts).toEqual({ entered: 3, entries: 3 });
    expect(report.actions).toEqual({ email: { hi: 3 } });
    expect(report.samples.map((s) => s.contact).sort()).toEqual([
      'a@example.com',
      'b@example.com',
      'c@example.com',
    ]);
    expect(report.simplifications).toContain(
      'Nudge has not run on this database yet (no schema nudge_engine): the history is the table’s rows alone, and the contact book is empty',
    );
    // The text report says so too.
    const text = await backtest();
    expect(text.code).toBe(0);
    expect(text.out).toContain('Nudge has not run on this database yet (no schema nudge_engine)');
    expect(await snapshot()).toEqual(before);
  });

  it('where Nudge never ran, reads nothing of the engine store, whatever the feature', async () => {
    const files: Record<string, string> = {
      // Waits on other events (reads them all), and reads the contact.
      'waits.yaml': `name: waits
trigger: { table: public.accounts, on: insert, when: { contact.vip: is.null } }
contact: { email: new.email }
stages:
  - name: waiting
    next: [{ to: done, when: { new.email: like.*done* } }]
  - name: done
    do: [{ email: { template: done } }]
`,
      'daily.yaml': `name: daily
trigger: { table: public.accounts, schedule: { every: 1d } }
contact: { email: new.email }
stages: [{ name: one, do: [{ email: { template: daily } }] }]
`,
      'custom.yaml': `name: custom
trigger: { event: order_placed }
contact: { email: new.email }
stages: [{ name: one, do: [{ email: { template: placed } }] }]
`,
    };
    const dir = await tempProject(
      projectFiles('contacts: { attributes: { vip: boolean } }\n', files),
      'nudge-backtest-nostore-',
    );
    const project = await loadConfig({ cwd: dir, env: { DATABASE_URL: db.url } });
    const features = await loadFeatures(project.featuresDir, project.env, project.cwd);
    const to = new Date();
    const from = new Date(to.getTime() - 30 * 86_400_000);
    const report = async (name: string) =>
      runBacktest({
        project,
        features,
        feature: features.find((f) => f.name === name)!,
        // No store: there is no handle to read it by.
        engine: null,
        source: db.sql,
        catalog: await readCatalog(db.sql),
        from,
        to,
      });
    const waits = await report('waits');
    expect(waits.events.bySource).toEqual({ rows: { read: 3, matched: 3, entered: 3 } });
    expect(waits.journeys.waiting).toEqual({ waiting: 3 });
    expect(waits.simplifications[0]).toBe(
      'Nudge has not run on this database yet (no schema nudge_engine): the history is the table’s rows alone, and the contact book is empty',
    );
    const daily = await report('daily');
    expect(daily.events.read).toBe(0);
    expect(daily.simplifications).toContain(
      "missing history — schedule:daily: no kept run of the schedule in the window (Nudge has not run here yet); a backtest replays the runs the engine made and kept, and does not run the schedule's query at simulated times",
    );
    const custom = await report('custom');
    expect(custom.events.read).toBe(0);
    expect(custom.sources).toEqual([]);
    expect(custom.simplifications).toContain(
      'missing history — order_placed: no kept events (Nudge has not run here yet), and the event is held in no table to read instead',
    );
  });

  it('on an engine store behind this version: applies no migration, and names the command that does', async () => {
    // The store as an older Nudge left it: every migration but the last.
    const all = engineMigrations();
    const last = all.at(-1)!;
    await db.sql.begin(async (tx) => {
      await tx.unsafe(`CREATE SCHEMA nudge_engine;
        CREATE TABLE nudge_engine.migrations (
          version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const migration of all.slice(0, -1)) {
        await tx.unsafe(migration.sql);
        await tx`insert into nudge_engine.migrations (version, name)
                 values (${migration.version}, ${migration.name})`;
      }
    });
    const before = await snapshot();
    const result = await backtest();
    expect(await snapshot()).toEqual(before);
    expect(before.migrations).not.toContain(last.version);
    expect(result.err.split('\n')[0]).toBe(
      `✗ the engine store (schema nudge_engine in the source database) is behind this version of Nudge: migration ${String(last.version).padStart(3, '0')}_${last.name} not applied`,
    );
    expect(result.err).toContain(
      'run `nudge deploy` (or `nudge start`), which brings it up to date',
    );
    expect(result.code).toBe(1);
  });
});
