// `nudge doctor` and saved segments that no longer compile: one saved before
// ordering an undeclared attribute was refused answers 400 on its own page
// and holds no contact; doctor names it, why, and what to do. Segments that
// compile say nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { segmentProblem } from '../../src/contacts/query.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { setSecret } from '../../src/db/secrets.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';

const db = useDatabase();

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
});

describe('saved segments in nudge doctor', () => {
  it('says nothing while every segment compiles', async () => {
    await db.sql`insert into nudge_engine.lists (name, query) values ('pros', 'plan=eq.pro')`;
    const cwd = await tempProject({ 'nudge.yaml': '' }, 'nudge-doctor-segments-');
    const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    await run(['doctor'], m.io);
    expect(m.stdout()).not.toContain('Segments');
  });

  it('names a segment that no longer compiles, with why and the fix', async () => {
    await db.sql`insert into nudge_engine.lists (name, query) values ('big-spenders', 'mrr=gt.100')`;
    const cwd = await tempProject({ 'nudge.yaml': '' }, 'nudge-doctor-segments-');
    const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    await run(['doctor'], m.io);
    const lines = m.stdout().split('\n');
    const line = lines.findIndex((l) => l.includes('Segments'));
    expect(lines[line]).toMatch(
      /^⚠ Segments +1 saved segment no longer compiles: big-spenders \(mrr: gt cannot order contact\.mrr: nudge\.yaml does not declare its type/,
    );
    expect(lines[line + 1]).toContain('or delete the segment (DELETE /v1/lists/<name>)');
    expect(m.stdout()).not.toContain('pros (');

    // Declared, it compiles: nothing to say.
    const declared = await tempProject(
      { 'nudge.yaml': 'contacts:\n  attributes:\n    mrr: numeric\n' },
      'nudge-doctor-segments-',
    );
    const again = memoryIo({ cwd: declared, env: { DATABASE_URL: db.url } });
    await run(['doctor'], again.io);
    expect(again.stdout()).not.toContain('Segments');
    expect(segmentProblem('mrr=gt.100', { mrr: 'numeric' })).toBeUndefined();
  });

  it('still checks the segments when the secrets do not decrypt with this key', async () => {
    await db.sql`insert into nudge_engine.lists (name, query) values ('big-spenders', 'mrr=gt.100')
      on conflict do nothing`;
    await setSecret(db.sql, 'ingest', 'stored under another key', { key: Buffer.alloc(32, 1) });
    const cwd = await tempProject({ 'nudge.yaml': '' }, 'nudge-doctor-segments-');
    const wrong = Buffer.alloc(32, 2).toString('base64');
    const m = memoryIo({ cwd, env: { DATABASE_URL: db.url, NUDGE_SECRET_KEY: wrong } });
    await run(['doctor'], m.io);
    expect(m.stdout()).toMatch(
      /^✗ Secrets +secret "ingest" cannot be decrypted: wrong master key/m,
    );
    expect(m.stdout()).toMatch(/^⚠ Segments +1 saved segment no longer compiles: big-spenders /m);
  });
});
