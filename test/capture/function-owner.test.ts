// The capture functions run as their owner (SECURITY DEFINER): the roles that
// write the app's tables need nothing in schema nudge, and an owner that
// cannot write there captures nothing. Plan names a function given to
// another owner, and an owner that revoked from itself what capture needs;
// deploy gives the function back to the deploying role and grants that role
// back its own privileges, and capture works again.
import type postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionNameFor } from '../../src/capture/triggers.js';
import { ident } from '../../src/db/quote.js';
import { useConnections } from '../harness/connect.js';
import { useDatabase } from '../harness/db.js';
import { capturesOf, rowsTableOf } from './drift.js';

const db = useDatabase();
const connect = useConnections();
const orders = { schema: 'public', table: 'orders' };

const { plan, deploy } = capturesOf(orders, ['insert', 'update'], 'orders');

/** What is captured and not consumed (pending), and what failed, as counts. */
async function counts(sql: postgres.Sql) {
  const [row] = await sql<{ pending: number; failed: number }[]>`
    select (select count(*) from nudge.pending())::int as pending,
           (select count(*) from nudge.failed_events)::int as failed`;
  return row!;
}

let deployer: { name: string; url: string };
let asDeployer: postgres.Sql;
let rowsTable = '';
const insertFunction = functionNameFor(orders, 'insert');

beforeAll(async () => {
  // A deploying role that is not a superuser (superusers pass every privilege check).
  deployer = await db.loginRole(
    'deployer',
    `GRANT CREATE ON DATABASE ${ident(db.name)} TO {role};
     CREATE TABLE public.orders (id bigserial primary key, status text);
     ALTER TABLE public.orders OWNER TO {role}`,
  );
  asDeployer = connect(deployer.url);
  await deploy(asDeployer);
  rowsTable = await rowsTableOf(db.sql, 'insert');
});

describe('the roles that write the app’s tables', () => {
  it('need no privilege in schema nudge: the functions run as their owner', async () => {
    const writer = await db.loginRole(
      'writer',
      `GRANT USAGE ON SCHEMA public TO {role};
       GRANT INSERT, UPDATE, SELECT ON public.orders TO {role};
       GRANT USAGE ON SEQUENCE public.orders_id_seq TO {role}`,
    );
    const asWriter = connect(writer.url);
    const before = await counts(db.sql);
    await asWriter`insert into public.orders (status) values ('new')`;
    await asWriter`update public.orders set status = 'paid'`;
    expect(await counts(db.sql)).toEqual({ pending: before.pending + 2, failed: 0 });
    expect((await plan(asDeployer)).hasChanges).toBe(false);
  });
});

describe('a capture function given to another owner', () => {
  it('loses its rows; plan names it and deploy gives it back to the deploying role', async () => {
    const stranger = await db.loginRole('stranger');
    await db.sql.unsafe(
      `ALTER FUNCTION nudge.${ident(insertFunction)}() OWNER TO ${ident(stranger.name)}`,
    );
    const before = await counts(db.sql);
    await db.sql`insert into public.orders (status) values ('lost')`;
    expect(await counts(db.sql)).toEqual(before);

    const said = `function nudge.${insertFunction}() runs as role ${stranger.name} (SECURITY DEFINER), which lacks usage on schema nudge, insert on nudge.failed_events, insert on nudge.event_log, usage on sequence nudge.event_log_id_seq, insert on nudge.${rowsTable}: its rows are lost (nudge.failed_events refuses them too; only a WARNING in the server log says so)`;
    // The deploying role may not take a function from a role it is not a member of: said, with the fix.
    const shown = (await plan(asDeployer)).items.find((i) => i.subject === 'public.orders insert')!;
    expect([shown.action, shown.drift, shown.sql]).toEqual(['unchanged', undefined, []]);
    expect(shown.warning).toEqual({
      label: 'owner',
      text: `${said}; deploy cannot give it back (role ${deployer.name} is not a member of ${stranger.name}): as a superuser or as ${stranger.name}, run ALTER FUNCTION "nudge"."${insertFunction}"() OWNER TO "${deployer.name}"`,
    });

    await db.sql.unsafe(`GRANT ${ident(stranger.name)} TO ${ident(deployer.name)}`);
    const p = await plan(asDeployer);
    const item = p.items.find((i) => i.subject === 'public.orders insert')!;
    expect(item.action).toBe('replace');
    expect(item.drift).toEqual([`${said}; deploy gives it to ${deployer.name}`]);
    expect(item.sql).toEqual([
      `ALTER FUNCTION "nudge"."${insertFunction}"() OWNER TO CURRENT_USER`,
    ]);
    expect(p.items.find((i) => i.subject === 'public.orders update')!.action).toBe('unchanged');

    await deploy(asDeployer);
    expect((await plan(asDeployer)).hasChanges).toBe(false);
    await db.sql`insert into public.orders (status) values ('kept')`;
    expect(await counts(db.sql)).toEqual({ pending: before.pending + 1, failed: 0 });
  });
});

describe('a deploying role that revoked from itself what capture needs', () => {
  it('sends rows to failed_events; plan names it and deploy grants it back', async () => {
    await asDeployer.unsafe(`REVOKE INSERT ON nudge.event_log FROM CURRENT_USER;
      REVOKE INSERT ON nudge.${ident(rowsTable)} FROM CURRENT_USER`);
    const before = await counts(db.sql);
    await db.sql`insert into public.orders (status) values ('failed')`;
    expect(await counts(db.sql)).toEqual({ pending: before.pending, failed: before.failed + 1 });

    const p = await plan(asDeployer);
    const rights = p.items.find((i) => i.kind === 'privileges')!;
    expect(rights).toMatchObject({
      action: 'replace',
      detail: `grant ${deployer.name} back what the capture functions, which run as it, need`,
      drift: [
        `role ${deployer.name} lacks insert on nudge.event_log (revoked by hand)`,
        `role ${deployer.name} lacks insert on nudge.${rowsTable} (revoked by hand)`,
      ],
    });
    expect(p.items.find((i) => i.subject === 'public.orders insert')!.drift).toEqual([
      `function nudge.${insertFunction}() runs as role ${deployer.name} (SECURITY DEFINER), which lacks insert on nudge.event_log, insert on nudge.${rowsTable}: its rows go to nudge.failed_events instead`,
    ]);
    expect(p.items.find((i) => i.subject === 'public.orders update')!.drift).toEqual([
      `function nudge.${functionNameFor(orders, 'update')}() runs as role ${deployer.name} (SECURITY DEFINER), which lacks insert on nudge.event_log: its rows go to nudge.failed_events instead`,
    ]);

    await deploy(asDeployer);
    expect((await plan(asDeployer)).hasChanges).toBe(false);
    await db.sql`insert into public.orders (status) values ('captured')`;
    expect(await counts(db.sql)).toEqual({
      pending: before.pending + 1,
      failed: before.failed + 1,
    });
  });
});

describe('a role that only plans', () => {
  it('is not told to grant itself what it never owned', async () => {
    const planner = await db.loginRole(
      'planner',
      `GRANT USAGE ON SCHEMA nudge TO {role};
       GRANT SELECT ON ALL TABLES IN SCHEMA nudge TO {role};
       GRANT SELECT ON public.orders TO {role}`,
    );
    const p = await plan(connect(planner.url));
    expect(p.items.filter((i) => i.drift?.length || i.warning)).toEqual([]);
    expect(p.hasChanges).toBe(false);
  });
});

describe('a deploying role that does not own nudge.event_log', () => {
  it('is told, for a capture it makes, what the new function will lack and who can grant it', async () => {
    const items = { schema: 'public', table: 'items' };
    const second = await db.loginRole(
      'second',
      `GRANT USAGE, CREATE ON SCHEMA nudge TO {role};
       GRANT SELECT ON ALL TABLES IN SCHEMA nudge TO {role};
       GRANT INSERT ON nudge.failed_events TO {role};
       CREATE TABLE public.items (id bigserial primary key, note text);
       ALTER TABLE public.items OWNER TO {role}`,
    );
    const p = await capturesOf(items, ['insert'], 'items').plan(connect(second.url));
    const made = p.items.find((i) => i.subject === 'public.items insert')!;
    expect(made.action).toBe('create');
    const fn = functionNameFor(items, 'insert');
    expect(made.warning).toEqual({
      label: 'owner',
      text: `function nudge.${fn}() will run as role ${second.name} (SECURITY DEFINER), which lacks insert on nudge.event_log, usage on sequence nudge.event_log_id_seq: its rows go to nudge.failed_events instead; deploy cannot grant insert on nudge.event_log, usage on sequence nudge.event_log_id_seq (role ${second.name} does not own them): as their owner, run GRANT INSERT ON "nudge"."event_log" TO "${second.name}"; GRANT USAGE ON SEQUENCE nudge.event_log_id_seq TO "${second.name}"`,
    });
  });
});
