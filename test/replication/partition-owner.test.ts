// Under capture: replication deploy sets REPLICA IDENTITY FULL on every
// partition of a table captured on update or delete, and publishes the table,
// and both need the partition's owner. A partition owned by another role is
// named by the plan, with its owner and the fixes, and deploy refuses it
// before it changes anything (not with PostgreSQL's "must be owner" halfway).
import { rm } from 'node:fs/promises';
import type postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../src/capture/deploy.js';
import { makePlan } from '../../src/capture/plan.js';
import { readCaptureState } from '../../src/capture/state.js';
import { replicationObjects } from '../../src/capture/transports/replication/desired.js';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { ident } from '../../src/db/quote.js';
import { needsOf } from '../capture/drift.js';
import { useConnections } from '../harness/connect.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';
import { dropSlotAfterAll, serverVersion, slotFor } from './helpers.js';

const db = useDatabase();
dropSlotAfterAll(db);
const connect = useConnections();
const events = { schema: 'public', table: 'events' };
let deployer: { name: string; url: string };
let other: { name: string; url: string };
let asDeployer: postgres.Sql;

beforeAll(async () => {
  other = await db.loginRole('other');
  // A deploying role that is not a superuser (superusers own everything), and a
  // partition two levels down that belongs to another role.
  deployer = await db.loginRole(
    'deployer',
    `ALTER ROLE {role} REPLICATION;
     GRANT CREATE ON DATABASE ${ident(db.name)} TO {role};
     CREATE TABLE public.events (id int, at date, note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
     CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
     CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')
       PARTITION BY RANGE (at);
     CREATE TABLE public.events_2025_h1 PARTITION OF public.events_2025 FOR VALUES FROM ('2025-01-01') TO ('2025-07-01');
     ALTER TABLE public.events OWNER TO {role};
     ALTER TABLE public.events_2024 OWNER TO {role};
     ALTER TABLE public.events_2025 OWNER TO {role};
     ALTER TABLE public.events_2025_h1 OWNER TO ${ident(other.name)}`,
  );
  asDeployer = connect(deployer.url);
});

async function desired(sql: postgres.Sql) {
  const needs = await needsOf(sql, events, ['insert', 'update'], 'events');
  return replicationObjects(needs, { slot: slotFor(db), serverVersion: await serverVersion(sql) });
}

const identities = async () =>
  db.sql<{ table: string; identity: string }[]>`
    select relname as table, relreplident::text as identity from pg_class
     where relname like 'events%' and relkind in ('r', 'p') order by 1`;

describe('a partition owned by another role than the deploying one', () => {
  it('is named by the plan with its owner and the fixes, and deploy refuses it before changing anything', async () => {
    const plan = makePlan(await desired(asDeployer), await readCaptureState(asDeployer));
    const item = plan.items.find(
      (i) => i.kind === 'replica identity' && i.subject === 'public.events_2025_h1',
    )!;
    const said = `role ${deployer.name} does not own partition public.events_2025_h1 of public.events (owner ${other.name}): deploy sets its replica identity FULL, which needs its owner`;
    const fix = `as a superuser, run ALTER TABLE "public"."events_2025_h1" OWNER TO "${deployer.name}"; or run nudge deploy as ${other.name}; or, as ${other.name}, run ALTER TABLE "public"."events_2025_h1" REPLICA IDENTITY FULL (deploy then leaves it)`;
    expect(item.warning).toEqual({ label: 'owner', text: `${said}; ${fix}` });
    // The partitions it owns are not named.
    expect(plan.items.filter((i) => i.warning).map((i) => i.subject)).toEqual([
      'public.events_2025_h1',
    ]);

    const before = await identities();
    const refused = await deploy(asDeployer, await desired(asDeployer)).catch((e: unknown) => e);
    expect(refused).toMatchObject({
      message: `deploy refused; nothing was changed: ${said}`,
      hint: fix,
    });
    expect(await identities()).toEqual(before);
    expect(
      await db.sql`select pubname from pg_publication where pubname like 'nudge%'
                   union all select nspname from pg_namespace where nspname = 'nudge'`,
    ).toEqual([]);
  });

  it('nudge deploy refuses it before asking to apply the plan', async () => {
    const cwd = await tempProject(
      {
        'nudge.yaml': `capture:\n  transport: replication\n  replication:\n    slot: ${slotFor(db)}\n`,
        'nudge/features/events.yaml': `name: events
trigger: { table: public.events, on: update }
stages:
  - name: seen
    do: [{ webhook: { url: "http://127.0.0.1:9/events" } }]
`,
      },
      'nudge-owner-cli-',
    );
    try {
      const m = memoryIo({ cwd, env: { DATABASE_URL: deployer.url } });
      expect(await run(['deploy'], m.io)).toBe(1);
      // Refused before the prompt (this io has none to answer: that would be
      // "deploy needs confirmation"), naming the partition.
      expect(m.stderr()).toContain('deploy refused; nothing was changed: role');
      expect(m.stderr()).toContain('partition public.events_2025_h1 of public.events');
      expect(m.stderr()).not.toContain('needs confirmation');
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it('deploys once its owner made it FULL by hand: publishing its table needs no more of it', async () => {
    const asOther = connect(other.url);
    await asOther.unsafe('ALTER TABLE public.events_2025_h1 REPLICA IDENTITY FULL');
    const plan = makePlan(await desired(asDeployer), await readCaptureState(asDeployer));
    expect(plan.items.filter((i) => i.warning)).toEqual([]);
    await deploy(asDeployer, await desired(asDeployer));
    expect(await identities()).toEqual([
      { table: 'events', identity: 'f' },
      { table: 'events_2024', identity: 'f' },
      { table: 'events_2025', identity: 'f' },
      { table: 'events_2025_h1', identity: 'f' },
    ]);
    await db.sql`insert into public.events values (1, '2025-02-01', 'x')`;
    await db.sql`update public.events set note = 'y'`;
  });
});

describe('a captured table owned by another role', () => {
  it('is named on the publication item, and deploy refuses before changing anything', async () => {
    await db.sql.unsafe(`CREATE TABLE public.notes (id int primary key, body text);
      ALTER TABLE public.notes OWNER TO ${ident(other.name)}`);
    const notes = { schema: 'public', table: 'notes' };
    const wanted = replicationObjects(await needsOf(asDeployer, notes, ['insert'], 'notes'), {
      slot: slotFor(db),
      serverVersion: await serverVersion(asDeployer),
    });
    const plan = makePlan(wanted, await readCaptureState(asDeployer));
    const item = plan.items.find((i) => i.kind === 'publication' && i.warning)!;
    const said = `role ${deployer.name} does not own public.notes (owner ${other.name}): deploy publishes it (publication ${item.subject}), which needs its owner`;
    const fix = `as a superuser, run ALTER TABLE "public"."notes" OWNER TO "${deployer.name}"; or run nudge deploy as ${other.name}`;
    expect(item.warning).toEqual({ label: 'owner', text: `${said}; ${fix}` });
    const publications = async () =>
      db.sql`select pubname, tablename from pg_publication_tables where pubname like 'nudge%' order by 1, 2`;
    const before = await publications();
    await expect(deploy(asDeployer, wanted)).rejects.toMatchObject({
      message: `deploy refused; nothing was changed: ${said}`,
      hint: fix,
    });
    expect(await publications()).toEqual(before);
  });

  it('is said once when both its identity and its publication need its owner', async () => {
    await db.sql.unsafe(`CREATE TABLE public.memos (id int primary key, body text);
      ALTER TABLE public.memos OWNER TO ${ident(other.name)}`);
    const memos = { schema: 'public', table: 'memos' };
    const wanted = replicationObjects(await needsOf(asDeployer, memos, ['update'], 'memos'), {
      slot: slotFor(db),
      serverVersion: await serverVersion(asDeployer),
    });
    const plan = makePlan(wanted, await readCaptureState(asDeployer));
    expect(plan.items.filter((i) => i.refusal).map((i) => i.kind)).toEqual([
      'replica identity',
      'publication',
    ]);
    const said = `role ${deployer.name} does not own public.memos (owner ${other.name}): deploy sets its replica identity FULL, which needs its owner`;
    const fix = `as a superuser, run ALTER TABLE "public"."memos" OWNER TO "${deployer.name}"; or run nudge deploy as ${other.name}`;
    await expect(deploy(asDeployer, wanted)).rejects.toMatchObject({
      message: `deploy refused; nothing was changed: ${said}`,
      hint: fix,
    });
  });
});
