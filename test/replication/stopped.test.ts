// The engine's last words under capture: replication: `engine stopped`
// counts its own lanes' work (another process may have processed the
// events), and `replication consumer stopped` what this process streamed
// into the inbox.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import { type EngineProcess, spawnEngine, waitFor } from '../runtime/helpers.js';
import { dropSlotAfterAll, itemsProject } from './helpers.js';

const db = useDatabase();
dropSlotAfterAll(db);
let cwd: string;
let engine: EngineProcess | undefined;

beforeAll(async () => {
  cwd = await itemsProject(db);
});

afterAll(async () => {
  await engine?.kill();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

it('says on stop how many rows its consumer stored, beside what its lanes processed', async () => {
  engine = spawnEngine(cwd, { DATABASE_URL: db.url }, 'start');
  await engine.ready;
  await db.sql`insert into public.items (customer) select 'c' || s from generate_series(1, 3) s`;
  await waitFor(
    async () => {
      const [row] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from nudge_engine.inbox where processed_at is not null`;
      return row!.n >= 3 ? true : undefined;
    },
    () => engine!.output(),
    30_000,
  );
  const exited = new Promise((resolve) => engine!.child.once('exit', resolve));
  engine.child.kill('SIGTERM');
  await exited;
  const output = engine.output();
  expect(output).toMatch(/replication consumer stopped .*stored=3\b/);
  expect(output).toMatch(/engine stopped .*processed=3\b/);
});
