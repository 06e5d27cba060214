// Teardown drops the capture triggers (locking the user's tables), then the
// nudge schema, whose tables a running engine's outbox pump holds while it
// waits for another lock. When the server ends teardown's transaction as the
// victim of such a deadlock, teardown runs it again instead of failing with
// "deadlock detected" (seen in CI with nudge start running).
import { describe, expect, it } from 'vitest';
import { deploy, teardown } from '../../src/capture/deploy.js';
import { buildCaptureObjects } from '../../src/capture/triggers.js';
import { loadConfig } from '../../src/config/load.js';
import { checkFeatures } from '../../src/features/check.js';
import { loadFeatures } from '../../src/features/load.js';
import { readCatalog } from '../../src/source/catalog.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';
import { waitFor } from '../harness/wait.js';

const db = useDatabase();

describe('teardown beside a transaction that holds a nudge table', () => {
  it('is run again when the server picks it as the victim of a deadlock', async () => {
    await db.sql`create table public.notes (id bigserial primary key, body text)`;
    const cwd = await tempProject({
      'nudge.yaml': '',
      'nudge/features/seen.yaml':
        'name: seen\ntrigger: { table: public.notes, on: insert }\nstages: [{ name: seen }]\n',
    });
    const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
    const features = await loadFeatures(project.featuresDir, project.env, cwd);
    await deploy(db.sql, buildCaptureObjects(checkFeatures(features, await readCatalog(db.sql))));

    // Another session holds a nudge table, as the pump does while it works.
    const other = await db.sql.reserve();
    try {
      await other`begin`;
      await other`lock table nudge.deployments in row exclusive mode`;
      const done = teardown(db.sql).then(
        (result) => ({ result }),
        (error: Error) => ({ error }),
      );
      // Teardown has dropped the trigger (public.notes is locked) and waits
      // for the nudge table; the other session then waits for public.notes.
      await waitFor(
        async () =>
          (
            await db.sql`
              select 1 from pg_locks
               where not granted and relation = 'nudge.deployments'::regclass`
          ).length > 0 || undefined,
        'teardown waiting for nudge.deployments',
      );
      await other`lock table public.notes in row exclusive mode`;
      await other`commit`;
      const outcome = await done;
      expect('error' in outcome ? outcome.error.message : '').toBe('');
      expect('result' in outcome && outcome.result.triggers).toBe(1);
    } finally {
      await other`rollback`.catch(() => {});
      other.release();
    }
    const [schema] = await db.sql`select to_regnamespace('nudge') as oid`;
    expect(schema!.oid).toBeNull();
  });
});
