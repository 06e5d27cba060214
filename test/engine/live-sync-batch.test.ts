// Live sync in both ways a lane processes a batch (process.ts): all together
// (batch.ts) and one event at a time. Both apply a change before the features
// of its event step, in the lane's transaction, and log it as a decision;
// together, the whole batch is synced first, so a feature sees its contact as
// the batch left it.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../src/capture/deploy.js';
import { pumpOnce } from '../../src/capture/transports/outbox/pump.js';
import { buildCaptureObjects } from '../../src/capture/triggers.js';
import { loadConfig } from '../../src/config/load.js';
import { compileLiveSync, liveSyncNeeds } from '../../src/contacts/live.js';
import { makeRouter } from '../../src/engine/intake/router.js';
import { processLanes } from '../../src/engine/lanes/process.js';
import { checkFeatures } from '../../src/features/check.js';
import { loadFeatures } from '../../src/features/load.js';
import { readCatalog } from '../../src/source/catalog.js';
import { useDatabase } from '../harness/db.js';
import { type TestEngine, testEngine } from './harness.js';

const db = useDatabase();
let engine: TestEngine;

const CONFIG = `connectors:
  supabase:
    sync: { users: true, tables: [customers], storage: true, realtime: true }
    user_mapping: { user_metadata.full_name: FIRSTNAME }
    table_mapping:
      customers: { email: email, plan: SUBSCRIPTION_PLAN }
`;

const WELCOME = `name: welcome
trigger: { event: user.signed_up }
stages:
  - name: welcomed
    do: [{ webhook: { url: "http://127.0.0.1:1/welcome" } }]
`;

beforeAll(async () => {
  await db.sql`create table public.customers (id bigserial primary key, email text not null, plan text)`;
  await db.sql`insert into storage.buckets (id, name) values ('docs', 'docs')`;
  engine = await testEngine(db, { 'welcome.yaml': WELCOME }, { config: CONFIG, partitions: 1 });
  // The same project again, for what `nudge deploy` adds for live sync and what launch compiles.
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-live-batch-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(path.join(cwd, 'nudge.yaml'), CONFIG);
  await writeFile(path.join(cwd, 'nudge/features/welcome.yaml'), WELCOME);
  const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  const catalog = await readCatalog(db.sql);
  const features = await loadFeatures(project.featuresDir, project.env, cwd);
  await deploy(
    db.sql,
    buildCaptureObjects([...checkFeatures(features, catalog), ...liveSyncNeeds(project, catalog)]),
  );
  const live = await compileLiveSync(project, db.sql);
  if (!live) throw new Error('live sync did not compile');
  engine.ctx.liveSync = live;
});

/** One user's sign-up, plan and upload committed together: three events in one lane batch. */
async function signUpWithPlanAndUpload(name: string): Promise<string> {
  const email = `${name}@example.com`;
  return db.sql.begin(async (tx) => {
    const [user] = await tx<{ id: string }[]>`
      insert into auth.users (id, email, raw_user_meta_data, created_at, updated_at)
      values (gen_random_uuid(), ${email}, ${tx.json({ full_name: name })}, now(), now())
      returning id::text`;
    await tx`insert into public.customers (email, plan) values (${email}, 'pro')`;
    await tx`insert into storage.objects (bucket_id, name, owner) values ('docs', ${`${name}/cv.pdf`}, ${user!.id})`;
    return user!.id;
  });
}

/** Pumps the outbox, then processes the lane's whole batch in one call. */
async function processBatch(oneByOne: boolean): Promise<number> {
  await pumpOnce({ source: db.sql, engine: db.sql, route: makeRouter(engine.features, 1) });
  return (await processLanes(engine.ctx, [0], 200, { oneByOne })).count;
}

async function outcomeFor(authUserId: string) {
  const [contact] = await db.sql<
    { id: string; email: string; attributes: Record<string, unknown> }[]
  >`
    select id, email, attributes from nudge_engine.contacts where auth_user_id = ${authUserId}`;
  const events = await db.sql<{ name: string }[]>`
    select name from nudge_engine.events where contact_id = ${contact!.id} order by occurred_at, id`;
  const decisions = await db.sql<{ feature: string | null; outcome: string; reason: string }[]>`
    select feature, outcome, reason from nudge_engine.decisions where contact_id = ${contact!.id} order by id`;
  const welcome = engine.queued.find((run) => run.contactId === contact!.id);
  return {
    contact,
    events: events.map((e) => e.name).sort(),
    decisions: decisions.map((d) => `${d.feature ?? '-'} ${d.outcome}: ${d.reason}`),
    welcomeSaw: (welcome?.context.contact ?? null) as Record<string, unknown> | null,
  };
}

const SYNCED = [
  '- synced: contact synced (user.signed_up)',
  '- synced: attributes SUBSCRIPTION_PLAN',
  '- synced: event storage.object.created recorded',
];
const WELCOMED = [
  'welcome matched: trigger matched',
  'welcome entered: entered (entry 1)',
  'welcome advanced: stage welcomed',
  'welcome action: stage welcomed: webhook queued',
  'welcome completed: completed after stage welcomed',
];

describe('live sync in a lane batch', () => {
  it('applies the batch before its features step when processed together', async () => {
    const id = await signUpWithPlanAndUpload('alice');
    expect(await processBatch(false)).toBe(3);
    const { contact, events, decisions, welcomeSaw } = await outcomeFor(id);
    expect(contact).toMatchObject({
      email: 'alice@example.com',
      attributes: { FIRSTNAME: 'alice', SUBSCRIPTION_PLAN: 'pro' },
    });
    expect(events).toEqual(['storage.object.created', 'user.signed_up']);
    // Live sync's decisions first, in inbox order, then the feature's.
    expect(decisions).toEqual([...SYNCED, ...WELCOMED]);
    // The sign-up's feature saw the plan the later row of the same batch set.
    expect(welcomeSaw).toMatchObject({ FIRSTNAME: 'alice', SUBSCRIPTION_PLAN: 'pro' });
  });

  it('applies each change just before its own event when processed one by one', async () => {
    const id = await signUpWithPlanAndUpload('bob');
    expect(await processBatch(true)).toBe(3);
    const { contact, events, decisions, welcomeSaw } = await outcomeFor(id);
    expect(contact).toMatchObject({
      email: 'bob@example.com',
      attributes: { FIRSTNAME: 'bob', SUBSCRIPTION_PLAN: 'pro' },
    });
    expect(events).toEqual(['storage.object.created', 'user.signed_up']);
    // Each event's sync, then its features: the sign-up's, then the others'.
    expect(decisions).toEqual([SYNCED[0], ...WELCOMED, ...SYNCED.slice(1)]);
    // Here the sign-up's feature ran before the plan's row was synced.
    expect(welcomeSaw).toMatchObject({ FIRSTNAME: 'bob' });
    expect(welcomeSaw).not.toHaveProperty('SUBSCRIPTION_PLAN');
  });
});
