// One `nudge dev` per embedded server: a second one in the same folder is
// refused before it changes anything (--fresh would have dropped the first
// one's database under it), while a URL-less `nudge start` or the CLI's
// commands still share the server. Once the first lets go, the next opens.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { type DemoDatabase, openDemoDatabase } from '../../src/dev/demo.js';
import { tempProject } from '../harness/project.js';

let folder = '';
const opened: DemoDatabase[] = [];
afterAll(async () => {
  for (const demo of opened.reverse()) {
    await demo.release();
    await demo.server.stop();
  }
  if (folder) await rm(folder, { recursive: true, force: true });
});

describe('nudge dev on an embedded server another nudge dev runs', () => {
  it('is refused before --fresh drops anything; others share it; the next opens once the first lets go', async () => {
    // The postgres OS user runs the server: the folder must be world-readable.
    folder = await tempProject({}, 'nudge-dev-one-', { worldReadable: true });
    const dataDir = path.join(folder, '.nudge/pg');
    const first = await openDemoDatabase(dataDir, undefined, { exclusive: true });
    opened.push(first);
    const sql = postgres(first.url, { onnotice: () => {}, max: 1 });
    try {
      await sql`create table public.kept_by_first (id int)`;
      await expect(
        openDemoDatabase(dataDir, undefined, { exclusive: true, fresh: true }),
      ).rejects.toThrow(`nudge dev already runs on the embedded PostgreSQL in ${dataDir}`);
      // Nothing was dropped: the first one's table is still there.
      const [kept] = await sql<
        { t: string | null }[]
      >`select to_regclass('public.kept_by_first')::text as t`;
      expect(kept?.t).toBe('kept_by_first');

      // A URL-less nudge start (not exclusive) shares it.
      const shared = await openDemoDatabase(dataDir);
      opened.push(shared);
      expect(shared.url).toBe(first.url);

      await first.release();
      const next = await openDemoDatabase(dataDir, undefined, { exclusive: true });
      opened.push(next);
      expect(next.url).toBe(first.url);
    } finally {
      await sql.end();
    }
  }, 120_000);
});
