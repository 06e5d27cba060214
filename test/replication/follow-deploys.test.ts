// A deploy while an engine streams the slot (capture: replication): the
// changes committed after it are kept and cut as its features say, though
// no notification of it reached the engine. Before, the consumer dropped
// the changes of a table the deploy added to the publications, and cut a
// new column away, until the deploy's NOTIFY made the process read its
// feature files again (engine/wiring/follow-deploys.ts): a row written at
// once was lost to the new feature. Now the deploy writes a message in the
// stream with its publications, and the consumer reads the files again
// before it stores what follows (replication/consumer.ts).
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Running } from '../../src/engine/wiring/launch.js';
import { BIG_ORDER_FEATURE, launchLogged, signUp, WELCOME_FEATURE } from '../engine/harness.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import { dropSlotAfterAll, migrated, nudgeIn, replicationProject } from './helpers.js';

const db = useDatabase();
dropSlotAfterAll(db);
let running: Running;
let cwd = '';
const logged: string[] = [];

beforeAll(async () => {
  await db.sql`create table public.orders (
    id bigint generated always as identity primary key,
    user_id uuid not null, total numeric not null, note text)`;
  cwd = await replicationProject(db, 'server: { port: 0 }\n', { welcome: WELCOME_FEATURE });
  await migrated(db);
  const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  running = await launchLogged(project, logged);
});

afterAll(async () => {
  await running?.stop();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

/** The outcomes of `feature` on the inbox events of this order, in order. */
async function outcomes(feature: string, order: string) {
  const rows = await db.sql<{ outcome: string }[]>`
    select d.outcome from nudge_engine.decisions d
      join nudge_engine.inbox i on i.id = d.inbox_id
     where d.feature = ${feature} and i.table_name = 'orders' and i.new_row ->> 'id' = ${order}
     order by d.id`;
  return rows.map((row) => row.outcome);
}

const insertOrder = async (user: string, total: number, note: string | null = null) => {
  const [order] = await db.sql<{ id: string }[]>`
    insert into public.orders (user_id, total, note) values (${user}, ${total}, ${note})
    returning id::text`;
  return order!.id;
};

/**
 * `deploy --sql`'s script in its two transactions: the publications (and
 * the deploy's message), then the deployment's record (and its NOTIFY).
 */
async function deployScript() {
  const script = await nudgeIn(db, cwd, ['deploy', '--sql']);
  expect(script.code, script.err).toBe(0);
  const split = script.out.indexOf('COMMIT;') + 'COMMIT;'.length;
  const publications = script.out.slice(0, split);
  expect(publications).toContain(`pg_logical_emit_message(true, 'nudge_deploy', '')`);
  const apply = async (text: string) => {
    // As psql runs it: one session.
    const psql = await db.sql.reserve();
    try {
      await psql.unsafe(text);
    } finally {
      psql.release();
    }
  };
  return {
    publications: () => apply(publications),
    record: () => apply(script.out.slice(split)),
  };
}

describe('a deploy while the engine streams the slot', () => {
  // Written between the deploy's two commits, the row is in the stream
  // after the publications changed and before anything told the engine of
  // a deployment (no record yet, no NOTIFY): only the stream's message does.
  it('keeps the rows of a table it publishes from the commit of its publications on', async () => {
    const ada = await signUp(db.sql, 'ada@example.com');
    await writeFile(path.join(cwd, 'nudge/features/big-order.yaml'), BIG_ORDER_FEATURE);
    const deploy = await deployScript();
    await deploy.publications();
    const order = await insertOrder(ada, 250);
    const made = await waitFor(async () => {
      const rows = await outcomes('big-order', order);
      return rows.includes('entered') ? rows : undefined;
    }, 'the new feature to enter on the order');
    expect(made).toContain('matched');
    expect(logged.join('\n')).toMatch(
      /a deploy changes what is captured: feature files read again; 2 features run \(\+big-order\)/,
    );
    // Stored under the deployment the features were read at (the new one's record is still to come).
    const [stored] = await db.sql<{ deployment: number; latest: number }[]>`
      select deployment, (select max(id)::int from nudge.deployments) as latest
        from nudge_engine.inbox where table_name = 'orders' and new_row ->> 'id' = ${order}`;
    expect(stored!.deployment).toBe(stored!.latest);
    await deploy.record();
    // The record's message in the stream: what follows is stored under the new deployment.
    const [recorded] = await db.sql<
      { id: number }[]
    >`select max(id)::int as id from nudge.deployments`;
    await waitFor(
      () =>
        logged.some((line) =>
          line.includes(`deployment #${recorded!.id}: feature files read again`),
        )
          ? true
          : undefined,
      'the recorded deployment read',
    );
    const next = await insertOrder(ada, 400);
    const [later] = await waitFor(async () => {
      const rows = await db.sql<{ deployment: number }[]>`
        select deployment from nudge_engine.inbox
         where table_name = 'orders' and new_row ->> 'id' = ${next}`;
      return rows.length ? rows : undefined;
    }, 'the next order stored');
    expect(later!.deployment).toBe(recorded!.id);
  });

  it('keeps a column it adds to what is captured of a table already published', async () => {
    const grace = await signUp(db.sql, 'grace@example.com');
    await writeFile(
      path.join(cwd, 'nudge/features/big-order.yaml'),
      BIG_ORDER_FEATURE.replace(
        'when: { new.total: gte.100 }',
        'when: { new.total: gte.100, new.note: eq.vip }',
      ),
    );
    const deploy = await deployScript();
    await deploy.publications();
    const order = await insertOrder(grace, 300, 'vip');
    const made = await waitFor(async () => {
      const rows = await outcomes('big-order', order);
      return rows.length ? rows : undefined;
    }, 'a decision on the order');
    // Cut as the deploy says: the note kept, so the condition holds.
    expect(made).toContain('entered');
    // Named as changed by the reading that found it (the message's, or
    // the notification of the last test's record, which may come after
    // this test's file).
    expect(logged.join('\n')).toMatch(/feature files read again; 2 features run \(~big-order\)/);
    const [stored] = await db.sql<{ new_row: Record<string, unknown> }[]>`
      select new_row from nudge_engine.inbox
       where table_name = 'orders' and new_row ->> 'id' = ${order}`;
    expect(stored!.new_row).toEqual({ id: Number(order), user_id: grace, total: 300, note: 'vip' });
    await deploy.record();
  });

  it('is told by nudge deploy too, in the transaction of the publications', async () => {
    const said = () => logged.filter((line) => line.includes('a deploy changes what is captured'));
    const before = said().length;
    await rm(path.join(cwd, 'nudge/features/big-order.yaml'));
    const deployed = await nudgeIn(db, cwd, ['deploy', '--yes']);
    expect(deployed.code, deployed.err).toBe(0);
    const told = await waitFor(
      () => (said().length > before ? said().at(-1) : undefined),
      "the deploy's message to reach the consumer",
    );
    // (Its `-big-order` may be said by the reading the deployment's record
    // brought first: the outbox pump's claim looks at it too.)
    expect(told).toMatch(/feature files read again; 1 feature run/);
    expect(running.featureSet.get('big-order')).toBeUndefined();
  });
});
