// After `nudge teardown` the nudge schema is made again by the next deploy,
// while the engine store — its inbox among it — stays. The outbox's ids key
// the inbox (`<id>:<row>`), so ids counted from 1 again would be taken for
// copies of rows the inbox already holds, and the new rows dropped without a
// word. The ids of a new schema start past any an earlier one handed out.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deploy, teardown } from '../../src/capture/deploy.js';
import { pumpOnce } from '../../src/capture/transports/outbox/pump.js';
import { buildCaptureObjects } from '../../src/capture/triggers.js';
import { loadConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { checkFeatures } from '../../src/features/check.js';
import { loadFeatures } from '../../src/features/load.js';
import { readCatalog } from '../../src/source/catalog.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();

// An insert and an update capture: typed rows and event_log, one sequence.
const SEEN = `name: seen
trigger: { table: public.notes, on: [insert, update] }
stages: [{ name: seen, do: [{ track: { event: note_seen } }] }]
`;

async function deployNotes() {
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-ids-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(path.join(cwd, 'nudge.yaml'), '');
  await writeFile(path.join(cwd, 'nudge/features/seen.yaml'), SEEN);
  const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  const features = await loadFeatures(project.featuresDir, project.env, cwd);
  await deploy(db.sql, buildCaptureObjects(checkFeatures(features, await readCatalog(db.sql))));
}

const route = () => 0;
const inboxed = async () =>
  (
    await db.sql<{ body: string }[]>`
      select operation || ' ' || (new_row ->> 'body') as body from nudge_engine.inbox order by id`
  ).map((r) => r.body);

describe('outbox ids after teardown', () => {
  it('a schema made again hands out ids the inbox has not seen, so no new row is taken for a copy', async () => {
    await db.sql`create table public.notes (id bigserial primary key, body text)`;
    await migrateEngine(db.sql, db.url);
    await deployNotes();
    await db.sql`insert into public.notes (body) values ('a'), ('b')`;
    await db.sql`update public.notes set body = 'c' where body = 'b'`;
    while ((await pumpOnce({ source: db.sql, engine: db.sql, route })) > 0) {}
    expect(await inboxed()).toEqual(['insert a', 'insert b', 'update c']);

    await teardown(db.sql);
    await deployNotes();
    await db.sql`insert into public.notes (body) values ('d')`;
    await db.sql`update public.notes set body = 'e' where body = 'a'`;
    await db.sql`insert into public.notes (body) values ('f')`;
    while ((await pumpOnce({ source: db.sql, engine: db.sql, route })) > 0) {}
    expect(await inboxed()).toEqual([
      'insert a',
      'insert b',
      'update c',
      'insert d',
      'update e',
      'insert f',
    ]);
  });
});
