// Live sync in the running engine (`nudge start`): with connectors.supabase
// sync.realtime and sync.storage, captured changes of auth.users,
// storage.objects and mapped tables reach the contact book through the
// capture triggers, the outbox and the engine — with their events, their
// decisions, and features that see the contact as synced.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../src/capture/deploy.js';
import { buildCaptureObjects } from '../../src/capture/triggers.js';
import { type LoadedConfig, loadConfig } from '../../src/config/load.js';
import { applyLiveSync, compileLiveSync, liveSyncNeeds } from '../../src/contacts/live.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { checkFeatures } from '../../src/features/check.js';
import { loadFeatures } from '../../src/features/load.js';
import { silentLog } from '../../src/log.js';
import { readCatalog } from '../../src/source/catalog.js';
import { useDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { waitFor } from '../harness/wait.js';

const db = useDatabase();
const SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
let recorder: Recorder;
let running: Running;
let project: LoadedConfig;

const CONFIG = `webhooks: { secret: "${SECRET}" }
engine: { partitions: 2 }
connectors:
  supabase:
    sync:
      users: true
      tables: [customers]
      storage: true
      realtime: true
    user_mapping:
      email: email
      user_metadata.full_name: FIRSTNAME
    table_mapping:
      customers:
        email: email
        plan: SUBSCRIPTION_PLAN
        company: COMPANY
`;

/** Triggered by the sign-up itself: its condition and template read what live sync wrote. */
const WELCOME = (url: string) => `name: welcome
trigger: { event: user.signed_up, when: { contact.FIRSTNAME: eq.Ada } }
stages:
  - name: welcomed
    do:
      - webhook:
          url: "${url}/welcome"
          body: { email: "{{ contact.email }}", name: "{{ contact.FIRSTNAME }}" }
`;

/** Waits for a contact attribute that only a mapped table's row sets. */
const UPGRADE = (url: string) => `name: upgrade
trigger: { event: user.signed_up }
stages:
  - name: trial
  - name: upgraded
    until: { contact.SUBSCRIPTION_PLAN: eq.pro }
    within: 7d
    do:
      - webhook:
          url: "${url}/upgraded"
          body: { email: "{{ contact.email }}", plan: "{{ contact.SUBSCRIPTION_PLAN }}" }
`;

interface Contact {
  id: string;
  auth_user_id: string | null;
  email: string | null;
  phone: string | null;
  attributes: Record<string, unknown>;
  deleted_at: Date | null;
}

async function contactOf(authUserId: string): Promise<Contact | undefined> {
  const [contact] = await db.sql<Contact[]>`
    select id, auth_user_id::text, email, phone, attributes, deleted_at
      from nudge_engine.contacts where auth_user_id = ${authUserId}`;
  return contact;
}

async function eventsOf(contactId: string) {
  return db.sql<{ name: string; source: string; properties: Record<string, unknown> }[]>`
    select name, source, properties from nudge_engine.events where contact_id = ${contactId} order by id`;
}

/** The live sync decision whose reason is `reason`, once it is written. */
function syncDecision(reason: string) {
  return waitFor(async () => {
    const [decision] = await db.sql<
      { feature: string | null; outcome: string; contact_id: string | null; inbox_id: number }[]
    >`select feature, outcome, contact_id::text, inbox_id::int from nudge_engine.decisions
       where reason = ${reason} order by id desc limit 1`;
    return decision;
  }, `the decision "${reason}"`);
}

async function signUp(email: string, fullName: string, phone: string | null = null) {
  const [user] = await db.sql<{ id: string }[]>`
    insert into auth.users (id, email, phone, raw_user_meta_data, created_at, updated_at)
    values (gen_random_uuid(), ${email}, ${phone}, ${db.sql.json({ full_name: fullName })}, now(), now())
    returning id::text`;
  return user!.id;
}

beforeAll(async () => {
  recorder = await startRecorder(() => ({ status: 200, body: { ok: true } }));
  await db.sql`create table public.customers (id bigserial primary key, email text not null, plan text, company text)`;
  await db.sql`insert into storage.buckets (id, name) values ('avatars', 'avatars')`;
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-live-sync-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(path.join(cwd, 'nudge.yaml'), CONFIG);
  await writeFile(path.join(cwd, 'nudge/features/welcome.yaml'), WELCOME(recorder.url));
  await writeFile(path.join(cwd, 'nudge/features/upgrade.yaml'), UPGRADE(recorder.url));
  project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  const features = await loadFeatures(project.featuresDir, project.env, cwd);
  const catalog = await readCatalog(db.sql);
  // What `nudge deploy` installs: the features' capture and live sync's.
  await deploy(
    db.sql,
    buildCaptureObjects([...checkFeatures(features, catalog), ...liveSyncNeeds(project, catalog)]),
  );
  running = await launch(project, { http: false, log: silentLog, idleMs: 20 });
});

afterAll(async () => {
  await running?.stop();
  await recorder?.close();
});

describe('live sync in the engine', () => {
  it('counts the live sync triggers as deployed', () => {
    expect(running.undeployed).toBe(0);
  });

  it('creates the contact of a new auth user, with its sign-up event and decision', async () => {
    const id = await signUp('Grace@Example.com', 'Grace', '+15550001');
    const decision = await syncDecision('contact synced (user.signed_up)');
    const contact = (await contactOf(id))!;
    expect(decision).toMatchObject({ feature: null, outcome: 'synced', contact_id: contact.id });
    expect(contact).toMatchObject({
      auth_user_id: id,
      email: 'grace@example.com',
      phone: '+15550001',
      deleted_at: null,
    });
    expect(contact.attributes.FIRSTNAME).toBe('Grace');
    expect(await eventsOf(contact.id)).toEqual([
      { name: 'user.signed_up', source: 'capture', properties: {} },
    ]);
    // The welcome feature ran on the same event, after the sync: Grace is not Ada.
    const [welcome] = await db.sql<{ outcome: string; reason: string }[]>`
      select outcome, reason from nudge_engine.decisions
       where feature = 'welcome' and inbox_id = ${decision.inbox_id}`;
    expect(welcome?.outcome).toBe('skipped');
    expect(welcome?.reason).toContain('trigger condition false');
    // The engine's search indexer writes her document (contacts/search-index.ts).
    const document = await waitFor(async () => {
      const [row] = await db.sql<{ document: string }[]>`
        select document::text from nudge_engine.contact_search where contact_id = ${contact.id}`;
      return row?.document;
    }, "grace's search document");
    expect(document).toContain("'grace'");
    expect(document).toContain("'grace@example.com'");
  });

  it('follows a sign-in (user.signed_in), an email change (user.updated) and a deletion (user.deleted)', async () => {
    const id = await signUp('linus@example.com', 'Linus');
    const contact = await waitFor(async () => contactOf(id), 'the contact of linus');

    // What Supabase Auth writes on a sign-in: not a user.updated.
    await db.sql`update auth.users set last_sign_in_at = now(), updated_at = now() where id = ${id}`;
    await waitFor(
      async () =>
        (await eventsOf(contact.id)).some((e) => e.name === 'user.signed_in') ? true : undefined,
      'user.signed_in',
    );

    await db.sql`update auth.users set email = 'linus@kernel.example.org', updated_at = now() where id = ${id}`;
    await waitFor(
      async () =>
        (await eventsOf(contact.id)).some((e) => e.name === 'user.updated') ? true : undefined,
      'user.updated',
    );
    const updated = (await contactOf(id))!;
    expect(updated.id).toBe(contact.id);
    expect(updated.email).toBe('linus@kernel.example.org');
    expect(updated.deleted_at).toBeNull();

    await db.sql`delete from auth.users where id = ${id}`;
    const decision = await syncDecision('contact marked deleted (user.deleted)');
    expect(decision).toMatchObject({ outcome: 'synced', contact_id: contact.id });
    const deleted = (await contactOf(id))!;
    expect(deleted.deleted_at).toBeInstanceOf(Date);
    expect(deleted.email).toBe('linus@kernel.example.org');
    expect((await eventsOf(contact.id)).map((e) => e.name)).toEqual([
      'user.signed_up',
      'user.signed_in',
      'user.updated',
      'user.deleted',
    ]);
  });

  it('takes a soft delete (deleted_at set, the address obfuscated) for a deletion, not an email change', async () => {
    const id = await signUp('ken@example.com', 'Ken');
    const contact = await waitFor(async () => contactOf(id), 'the contact of ken');
    // What Supabase Auth's admin delete with should_soft_delete writes.
    await db.sql`
      update auth.users set deleted_at = now(), email = ${`${id}@deleted.invalid`}, phone = null,
             updated_at = now() where id = ${id}`;
    const decision = await syncDecision('contact marked soft-deleted (user.deleted)');
    expect(decision).toMatchObject({ outcome: 'synced', contact_id: contact.id });
    const deleted = (await contactOf(id))!;
    expect(deleted.deleted_at).toBeInstanceOf(Date);
    expect(deleted.email).toBe('ken@example.com');
    // A later write to the soft-deleted row changes nothing.
    await db.sql`update auth.users set updated_at = now(), raw_user_meta_data = '{}' where id = ${id}`;
    await syncDecision('user already soft-deleted: not synced');
    expect((await contactOf(id))!.email).toBe('ken@example.com');
    expect(await eventsOf(contact.id)).toEqual([
      { name: 'user.signed_up', source: 'capture', properties: {} },
      { name: 'user.deleted', source: 'capture', properties: { id, soft: true } },
    ]);
  });

  it("puts a Storage upload on its owner's timeline", async () => {
    const id = await signUp('margaret@example.com', 'Margaret');
    const contact = await waitFor(async () => contactOf(id), 'the contact of margaret');
    await db.sql`
      insert into storage.objects (bucket_id, name, owner, metadata)
      values ('avatars', 'margaret/face.png', ${id}, ${db.sql.json({ size: 1234, mimetype: 'image/png' })})`;
    const decision = await syncDecision('event storage.object.created recorded');
    expect(decision).toMatchObject({ outcome: 'synced', contact_id: contact.id });
    // On the timeline like any event: last_event_at moves to it.
    const [seen] = await db.sql<{ last: Date; occurred: Date }[]>`
      select c.last_event_at as last, max(e.occurred_at) as occurred
        from nudge_engine.contacts c join nudge_engine.events e on e.contact_id = c.id
       where c.id = ${contact.id} group by c.last_event_at`;
    expect(seen!.last).toEqual(seen!.occurred);
    expect((await eventsOf(contact.id)).at(-1)).toEqual({
      name: 'storage.object.created',
      source: 'capture',
      properties: {
        bucket_id: 'avatars',
        name: 'margaret/face.png',
        size: 1234,
        mimetype: 'image/png',
      },
    });
  });

  it('records an upload over the same path and a move as storage.object.updated, and not an access', async () => {
    const id = await signUp('grace.h@example.com', 'Grace H');
    const contact = await waitFor(async () => contactOf(id), 'the contact of grace h');
    await db.sql`
      insert into storage.objects (bucket_id, name, owner, metadata, version)
      values ('avatars', 'grace/cv.pdf', ${id}, ${db.sql.json({ size: 10, mimetype: 'application/pdf' })}, 'v1')`;
    await syncDecision('event storage.object.created recorded');
    // Storage writes last_accessed_at on its own: not an event.
    await db.sql`update storage.objects set last_accessed_at = now() + interval '1 minute' where name = 'grace/cv.pdf'`;
    // What Storage's upload with x-upsert does to an existing path.
    await db.sql`
      insert into storage.objects (bucket_id, name, owner, metadata, version)
      values ('avatars', 'grace/cv.pdf', ${id}, ${db.sql.json({ size: 20, mimetype: 'application/pdf' })}, 'v2')
      on conflict (bucket_id, name) do update set metadata = excluded.metadata, version = excluded.version`;
    await db.sql`update storage.objects set name = 'grace/resume.pdf' where name = 'grace/cv.pdf'`;
    const events = await waitFor(async () => {
      const all = await eventsOf(contact.id);
      return all.filter((e) => e.name === 'storage.object.updated').length === 2 ? all : undefined;
    }, 'two storage.object.updated events');
    expect(events.map((e) => e.name)).toEqual([
      'user.signed_up',
      'storage.object.created',
      'storage.object.updated',
      'storage.object.updated',
    ]);
    expect(events[2]!.properties).toEqual({
      bucket_id: 'avatars',
      name: 'grace/cv.pdf',
      size: 20,
      mimetype: 'application/pdf',
    });
    // An upload with no owner (a service-role upload) is on no timeline, and says so.
    await db.sql`insert into storage.objects (bucket_id, name) values ('avatars', 'public/logo.png')`;
    expect(await syncDecision('no owner: on no timeline')).toMatchObject({
      outcome: 'skipped',
      contact_id: null,
    });
    expect(events[3]!.properties).toMatchObject({
      name: 'grace/resume.pdf',
      previous_bucket_id: 'avatars',
      previous_name: 'grace/cv.pdf',
    });
  });

  it('records no event for a Storage access that a capture of every update took', async () => {
    // Under capture: replication, or with a feature that captures every
    // update of storage.objects, an access reaches live sync: it is no event.
    const id = await signUp('hedy@example.com', 'Hedy');
    const contact = await waitFor(async () => contactOf(id), 'the contact of hedy');
    const live = (await compileLiveSync(project, db.sql))!;
    const object = { id: 'o1', bucket_id: 'avatars', name: 'hedy/a.png', owner: id, version: 'v1' };
    const outcome = await db.sql.begin((tx) =>
      applyLiveSync(tx, live, {
        inboxId: 0,
        schema: 'storage',
        table: 'objects',
        operation: 'update',
        newRow: { ...object, last_accessed_at: '2026-01-02T00:00:00Z' },
        oldRow: { ...object, last_accessed_at: '2026-01-01T00:00:00Z' },
        occurredAt: new Date(),
      }),
    );
    expect(outcome).toEqual({ contactIds: [] });
    expect((await eventsOf(contact.id)).map((e) => e.name)).toEqual(['user.signed_up']);
  });

  it('sets contact attributes from a row of a table mapped as attributes', async () => {
    await db.sql`insert into public.customers (email, plan, company) values ('Edsger@Example.com', 'team', 'Mathematical Centre')`;
    const decision = await syncDecision('attributes SUBSCRIPTION_PLAN, COMPANY');
    const [contact] = await db.sql<Contact[]>`
      select id, auth_user_id::text, email, attributes from nudge_engine.contacts where email = 'edsger@example.com'`;
    expect(decision).toMatchObject({ outcome: 'synced', contact_id: contact!.id });
    expect(contact!.auth_user_id).toBeNull();
    expect(contact!.attributes).toEqual({
      SUBSCRIPTION_PLAN: 'team',
      COMPANY: 'Mathematical Centre',
    });
  });

  it('runs a feature triggered by the sign-up on the synced contact', async () => {
    const id = await signUp('ada@example.com', 'Ada');
    const request = await recorder.waitFor((r) => r.path === '/welcome', 20_000);
    expect(request.json).toEqual({ email: 'ada@example.com', name: 'Ada' });
    const contact = (await contactOf(id))!;
    const decisions = await db.sql<{ outcome: string; contact_id: string }[]>`
      select outcome, contact_id::text from nudge_engine.decisions where feature = 'welcome' and contact_id = ${contact.id} order by id`;
    expect(decisions.map((d) => d.outcome)).toContain('matched');
    expect(recorder.requests.filter((r) => r.path === '/welcome')).toHaveLength(1);
  });

  it('lets a journey waiting on a contact attribute move when a mapped row sets it', async () => {
    const id = await signUp('barbara@example.com', 'Barbara');
    const contact = await waitFor(async () => {
      const found = await contactOf(id);
      if (!found) return undefined;
      const [journey] = await db.sql`
        select stage from nudge_engine.journeys where feature = 'upgrade' and contact_id = ${found.id} and status = 'active'`;
      return journey ? found : undefined;
    }, "barbara's upgrade journey");
    expect(recorder.requests.filter((r) => r.path === '/upgraded')).toHaveLength(0);

    await db.sql`insert into public.customers (email, plan) values ('barbara@example.com', 'pro')`;
    const request = await recorder.waitFor((r) => r.path === '/upgraded', 20_000);
    expect(request.json).toEqual({ email: 'barbara@example.com', plan: 'pro' });
    expect((await contactOf(id))!.attributes).toMatchObject({
      FIRSTNAME: 'Barbara',
      SUBSCRIPTION_PLAN: 'pro',
    });
    // It moved on the customers row's event, the one live sync applied.
    const moved = await db.sql<{ feature: string | null; outcome: string; reason: string }[]>`
      select feature, outcome, reason from nudge_engine.decisions
       where inbox_id = (select inbox_id from nudge_engine.decisions
                          where feature = 'upgrade' and contact_id = ${contact.id} and reason = 'stage upgraded (until)')
       order by id`;
    expect(moved.map((d) => [d.feature, d.outcome, d.reason])).toEqual([
      [null, 'synced', 'attributes SUBSCRIPTION_PLAN, COMPANY'],
      ['upgrade', 'advanced', 'stage upgraded (until)'],
      ['upgrade', 'action', 'stage upgraded: webhook queued'],
      ['upgrade', 'completed', 'completed after stage upgraded'],
    ]);
  });
});
