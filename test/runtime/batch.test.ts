// A lane's batch processed all together (src/engine/batch.ts) gives what
// processing its events one at a time gives: the same decisions in the same
// order, the same actions with the same keys, the frequency cap counted across
// the batch; and a batch with a bad event falls back to one at a time, which
// records that event as an error and processes the others.
import { afterAll, describe, expect, it } from 'vitest';
import type { NewActionRun } from '../../src/actions/types.js';
import { pumpOnce } from '../../src/capture/transports/outbox/pump.js';
import { processLanes } from '../../src/engine/lanes/process.js';
import { signUp, testEngine } from '../engine/harness.js';
import { createTestDatabase, type TestDatabase } from '../harness/db.js';

const CONFIG = `actions:
  frequency_cap: { max: 1, per: 1d }
`;
const WELCOME = `name: welcome
trigger: { table: auth.users, on: insert }
stages:
  - name: welcomed
    do: [{ email: { template: welcome } }]
`;
const ORDERS = `name: order-flow
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: placed
    do:
      - email: { template: receipt }
      - webhook: { url: "http://127.0.0.1:1/placed", body: { order: "{{ new.id }}" } }
    next: [{ to: paid, when: { new.status: eq.paid } }]
  - name: paid
    do: [{ webhook: { url: "http://127.0.0.1:1/paid" } }]
exit:
  when: { new.status: eq.refunded }
`;
const PAID = `name: paid-orders
trigger: { table: public.orders, on: update }
contact: { id: new.user_id }
stages:
  - name: thanked
    unless: { new.status: neq.paid }
    do: [{ track: { event: paid } }]
`;
const LEADS = `name: lead
trigger: { table: public.leads, on: insert }
contact: { email: new.email, phone: new.phone }
stages:
  - name: called
    do: [{ webhook: { url: "http://127.0.0.1:1/lead" } }]
`;

const databases: (TestDatabase & { drop(): Promise<void> })[] = [];
afterAll(async () => {
  for (const db of databases) await db.drop();
});

/** The same writes on a fresh database, then one batch through the given path. */
async function scenario(options: { oneByOne: boolean; badLead: boolean }) {
  const db = await createTestDatabase();
  databases.push(db);
  await db.sql`create table public.orders (id bigserial primary key, user_id uuid, status text not null default 'new')`;
  await db.sql`create table public.leads (id bigserial primary key, email text, phone text)`;
  const engine = await testEngine(
    db,
    { 'welcome.yaml': WELCOME, 'orders.yaml': ORDERS, 'paid.yaml': PAID, 'lead.yaml': LEADS },
    { config: CONFIG, partitions: 1 },
  );
  const fallbacks: unknown[] = [];
  engine.ctx.onBatchFallback = (error) => fallbacks.push(error);

  // Contacts that exist before the batch: one known by email, one by phone.
  await db.sql`insert into nudge_engine.contacts (email) values ('lee@example.com')`;
  await db.sql`insert into nudge_engine.contacts (phone) values ('+15550100')`;
  const ada = await signUp(db.sql, 'ada@example.com');
  const bob = await signUp(db.sql, 'bob@example.com');
  const [first] = await db.sql<{ id: string }[]>`
    insert into public.orders (user_id) values (${ada}) returning id`;
  await db.sql`insert into public.orders (user_id) values (${bob}), (${ada})`;
  await db.sql`update public.orders set status = 'paid' where id = ${first!.id}`;
  await db.sql`insert into public.leads (email) values ('lee@example.com')`;
  if (options.badLead) {
    // Stands for a bug or bad data: stepping lee's second lead fails in the database.
    await db.sql.unsafe(`
      create function public.refuse_second_lead() returns trigger language plpgsql as $$
      begin
        if new.feature = 'lead' and new.entries = 2 then raise exception 'second lead refused'; end if;
        return new;
      end $$;
      create trigger refuse_second_lead before insert or update on nudge_engine.journeys
        for each row execute function public.refuse_second_lead();`);
    await db.sql`insert into public.leads (email) values ('lee@example.com')`;
  }
  await db.sql`update public.orders set status = 'refunded' where user_id = ${bob}`;
  await db.sql`insert into public.leads (phone) values ('+15550100')`;

  while ((await pumpOnce({ source: db.sql, engine: db.sql, route: () => 0 })) > 0) {}
  const [pending] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from nudge_engine.inbox where processed_at is null`;
  expect((await processLanes(engine.ctx, [0], 200, { oneByOne: options.oneByOne })).count).toBe(
    pending!.n,
  );

  // Contacts are named by what they are, not by their random ids.
  const names = new Map(
    (
      await db.sql<{ id: string; name: string }[]>`
        select id::text, coalesce(email, phone) as name from nudge_engine.contacts`
    ).map((c) => [c.id, c.name]),
  );
  const name = (text: string) =>
    text.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, (id) => names.get(id) ?? id);
  const decisions = (await engine.decisions()).map(
    (d) =>
      `${d.feature} ${d.contact_id ? names.get(d.contact_id) : '-'} ${d.outcome}: ${name(d.reason)}`,
  );
  const actions = engine.queued.map((a: NewActionRun) => name(a.key));
  return { decisions, actions, fallbacks };
}

describe('a lane batch processed together', () => {
  it('decides and enqueues exactly what one event at a time does', async () => {
    const together = await scenario({ oneByOne: false, badLead: false });
    const oneByOne = await scenario({ oneByOne: true, badLead: false });
    expect(together.fallbacks).toEqual([]);
    expect(together.decisions).toEqual(oneByOne.decisions);
    expect(together.actions).toEqual(oneByOne.actions);
    // What the batch contained, in order: the cap let one email per contact through.
    // (On the update, the feature it triggers comes before the journey it advances.)
    expect(together.actions).toEqual([
      'welcome:ada@example.com:1:welcomed:0',
      'welcome:bob@example.com:1:welcomed:0',
      'order-flow:ada@example.com:1:placed:1',
      'order-flow:bob@example.com:1:placed:1',
      'paid-orders:ada@example.com:1:thanked:0',
      'order-flow:ada@example.com:1:paid:0',
      'lead:lee@example.com:1:called:0',
      'lead:+15550100:1:called:0',
    ]);
    expect(together.decisions).toContain(
      'order-flow ada@example.com skipped: stage placed: email skipped by the frequency cap',
    );
    expect(together.decisions).toContain(
      'order-flow bob@example.com exited: exit.when became true',
    );
  });

  it('falls back to one event at a time when an event fails, and records only that one', async () => {
    const result = await scenario({ oneByOne: false, badLead: true });
    expect(result.fallbacks).toHaveLength(1);
    const errors = result.decisions.filter((d) => d.includes(' error: '));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBe('null - error: engine error: second lead refused');
    // Everything else in the batch went through as usual.
    const clean = await scenario({ oneByOne: true, badLead: false });
    expect(result.actions).toEqual(clean.actions);
  });
});
