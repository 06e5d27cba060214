// The story `nudge dev` plays on the demo app, step by step, as the app
// would write it: sign-ups, a sign-in, a checkout and a cart left behind, a
// trial, an upload whose webhook fails until it is dead, an order paid, a
// write rolled back, and then the engine clock moved two days ahead (at every
// start: the demo database keeps the clock, so it adds up). After
// each step it waits until the engine has done everything the step caused,
// then reports what that was, read from the engine store (never assumed).
import type postgres from 'postgres';
import { pendingInSource } from '../capture/transports/index.js';
import { clockOffsetInWords } from '../config/duration-words.js';
import type { Delivery, DemoReceiver } from './receiver.js';

export interface StoryStep {
  title: string;
  /** What the app wrote. */
  wrote: string;
  /** What Nudge did about it: one entry per feature and kind of action. */
  outcomes: string[];
}

export interface StoryContext {
  /** The demo database, which also holds the engine store (schema nudge_engine). */
  sql: postgres.Sql;
  receiver: DemoReceiver;
  /** Moves the engine clock forward and waits until every engine has seen it. */
  advanceClock(ms: number): Promise<void>;
  /** The scheduled features, whose runs a clock move is waited on. */
  schedules: { name: string; everyMs: number }[];
  /** The engine's time now. */
  now(): Date;
  /** True once the user asked to stop (Ctrl-C): waits end early. */
  stopped(): boolean;
  /**
   * The transport's mark of what is written now, and how many changes
   * written before it are not stored yet (capture: replication: the slot's;
   * transports/port.ts Transport.unstored); none when a trigger stores them.
   */
  unstored?: () => Promise<() => Promise<number>>;
}

const DAY = 86_400_000;
export const MEDIA_PATH = '/thumbnails';

export async function playStory(ctx: StoryContext, say: (step: StoryStep) => void): Promise<void> {
  const { sql } = ctx;
  const run = await storyRun(sql);
  const email = (name: string) => `${name}${run > 1 ? `+${run}` : ''}@example.com`;
  const ada = email('ada');
  const grace = email('grace');

  const step = async (title: string, write: () => Promise<string>) => {
    const before = await lastIds(sql);
    const delivered = ctx.receiver.received.length;
    const wrote = await write();
    await settled(ctx);
    const deliveries = deliveryLines(ctx.receiver.received.slice(delivered));
    say({ title, wrote, outcomes: [...(await outcomesSince(sql, before)), ...deliveries] });
  };

  const ids: Record<string, string> = {};
  await step('Sign-ups', async () => {
    ids.ada = await signUp(sql, ada, 'Ada', 'pro');
    ids.grace = await signUp(sql, grace, 'Grace', 'free');
    return `${ada} and ${grace} signed up`;
  });
  await step('Sign-in', async () => {
    await sql`update auth.users set last_sign_in_at = now(), updated_at = now() where id = ${ids.ada!}`;
    return `${ada} signed in`;
  });
  let order = 0;
  await step('Orders', async () => {
    const [cart] = await sql<{ id: number }[]>`
      insert into public.carts (user_id, items, total)
      values (${ids.ada!}, '[{"sku":"tea","name":"Green tea","qty":2}]', 42.50) returning id::int`;
    await sql`update public.carts set status = 'checked_out', updated_at = now() where id = ${cart!.id}`;
    const [placed] = await sql<{ id: number }[]>`
      insert into public.orders (user_id, cart_id, total, items)
      values (${ids.ada!}, ${cart!.id}, 42.50, '[{"sku":"tea","name":"Green tea","qty":2}]') returning id::int`;
    order = placed!.id;
    await sql`insert into public.carts (user_id, items, total)
              values (${ids.grace!}, '[{"sku":"mug","name":"Mug","qty":1}]', 9.00)`;
    // A write that rolls back: the capture trigger's row goes with it.
    await sql
      .begin(async (tx) => {
        await tx`insert into public.orders (user_id, total) values (${ids.grace!}, 1)`;
        throw new Error('rolled back on purpose');
      })
      .catch(() => {});
    return `${ada} checked out order #${order}; ${grace} left a cart; an order rolled back (never captured)`;
  });
  await step('Trial', async () => {
    const ends = new Date(ctx.now().getTime() + 4 * DAY);
    await sql`insert into public.subscriptions (user_id, plan, trial_ends_at)
              values (${ids.grace!}, 'pro', ${ends})`;
    return `${grace} started a pro trial, ending in 4 days`;
  });
  // Settled means every attempt made: the last one failed, the run is dead.
  await step('Upload', async () => {
    await sql`insert into storage.objects (bucket_id, name, owner)
              values ('avatars', ${`${ids.ada!}/avatar.png`}, ${ids.ada!})`;
    return `${ada} uploaded avatars/…/avatar.png; the media service is down`;
  });
  await step('Order paid', async () => {
    await sql`update public.orders set status = 'paid' where id = ${order}`;
    return `order #${order} → paid`;
  });
  // Every start moves it, and the demo database keeps it: said with where it is now.
  await step('Two days later', async () => {
    await ctx.advanceClock(2 * DAY);
    const [clock] = await sql<{ offset_ms: number }[]>`
      select offset_ms::float8 as offset_ms from nudge_engine.clock`;
    return `the engine clock moved 2 days ahead (every start does: ${clockOffsetInWords(clock?.offset_ms ?? 0)} now; --fresh resets it)`;
  });
}

/** The how-manieth time the story plays on this database (1 on a new one). */
async function storyRun(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from auth.users where email like 'ada%@example.com'`;
  return (row?.n ?? 0) + 1;
}

async function signUp(sql: postgres.Sql, email: string, firstName: string, plan: string) {
  const [user] = await sql<{ id: string }[]>`
    insert into auth.users (instance_id, id, aud, role, email, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
    values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated', ${email},
            '{"provider":"email","providers":["email"]}', ${sql.json({ first_name: firstName })}, now(), now())
    returning id`;
  await sql`insert into public.profiles (id, full_name, plan) values (${user!.id}, ${firstName}, ${plan})`;
  return user!.id;
}

interface Marks {
  run: number;
  decision: number;
}

async function lastIds(sql: postgres.Sql): Promise<Marks> {
  const [row] = await sql<Marks[]>`
    select (select coalesce(max(id), 0) from nudge_engine.action_runs)::float8 as run,
           (select coalesce(max(id), 0) from nudge_engine.decisions)::float8 as decision`;
  return row ?? { run: 0, decision: 0 };
}

/** How the story says a kind of action: "2 emails sent", "event tracked", "attribute set". */
const SAID: Record<string, { noun: string; done: string }> = {
  email: { noun: 'email', done: 'sent' },
  webhook: { noun: 'webhook', done: 'delivered' },
  function: { noun: 'function call', done: 'answered' },
  set: { noun: 'attribute', done: 'set' },
  add_to_list: { noun: 'list addition', done: 'made' },
  remove_from_list: { noun: 'list removal', done: 'made' },
  track: { noun: 'event', done: 'tracked' },
};

/** What the stand-ins received: "fulfilment service received {…}", "media service answered 503 to 3 attempts". */
function deliveryLines(deliveries: Delivery[]): string[] {
  const groups = new Map<string, Delivery[]>();
  for (const d of deliveries) {
    const key = d.status < 300 ? `${d.service}\0${d.body}` : `${d.service}\0${d.status}`;
    groups.set(key, [...(groups.get(key) ?? []), d]);
  }
  return [...groups.values()].map((group) => {
    const [first] = group as [Delivery];
    const times = group.length === 1 ? '' : ` (${group.length} times)`;
    return first.status < 300
      ? `${first.service} received ${first.body}${times}`
      : `${first.service} answered ${first.status} to ${group.length} attempt${group.length === 1 ? '' : 's'}`;
  });
}

/**
 * What happened after the marks: contacts the contact book synced, by why
 * ("contact book: 2 contacts synced (user.signed_up)"), and action runs by
 * feature, kind and status ("welcome-drip: 2 emails sent").
 */
async function outcomesSince(sql: postgres.Sql, after: Marks): Promise<string[]> {
  const synced = await sql<{ reason: string; n: number }[]>`
    select reason, count(*)::int as n from nudge_engine.decisions
     where id > ${after.decision} and outcome = 'synced'
     group by reason order by min(id)`;
  const rows = await sql<
    {
      feature: string | null;
      kind: string;
      status: string;
      n: number;
      attempts: number;
      last_error: string | null;
    }[]
  >`
    select feature, kind, status, count(*)::int as n, max(attempts)::int as attempts, max(last_error) as last_error
      from nudge_engine.action_runs where id > ${after.run}
     group by feature, kind, status order by min(id)`;
  const contacts = synced.map((s) => {
    const some = `${s.n} contact${s.n === 1 ? '' : 's'}`;
    return s.reason.startsWith('contact synced')
      ? `contact book: ${s.reason.replace(/^contact synced/, `${some} synced`)}`
      : `contact book: ${s.reason}${s.n === 1 ? '' : ` for ${some}`}`;
  });
  const actions = rows.map((r) => {
    const said = SAID[r.kind] ?? { noun: r.kind, done: 'done' };
    const what = r.n === 1 ? said.noun : `${r.n} ${said.noun}s`;
    const status =
      r.status === 'succeeded'
        ? said.done
        : r.status === 'dead'
          ? `dead after ${r.attempts} attempt${r.attempts === 1 ? '' : 's'} (${r.last_error ?? 'no error recorded'})`
          : r.status;
    return `${r.feature ?? '-'}: ${what} ${status}`;
  });
  return [...contacts, ...actions];
}

/**
 * Waits (up to 30 s) until captured changes are processed (with a
 * transport that stores them on its own, capture: replication, until every
 * change written before the wait began is stored), no journey is due by the
 * engine clock, each scheduled feature has run its current window, and no
 * action is pending or being retried.
 */
export async function settled(ctx: StoryContext): Promise<void> {
  const { sql } = ctx;
  const deadline = Date.now() + 30_000;
  const unstored = await ctx.unstored?.();
  while (Date.now() < deadline && !ctx.stopped()) {
    const now = ctx.now();
    const windows = ctx.schedules.map((s) => ({
      feature: s.name,
      start: new Date(Math.floor(now.getTime() / s.everyMs) * s.everyMs),
    }));
    const [state] = await sql<{ busy: number }[]>`
      select ${await pendingInSource(sql)}::int
           + ${(await unstored?.()) ?? 0}::int
           + (select count(*) from nudge_engine.inbox where processed_at is null)
           + (select count(*) from nudge_engine.journeys where status = 'active' and wake_at <= ${now})
           + (select count(*) from nudge_engine.action_runs where status in ('pending', 'retrying'))
           + ${windows.length}
           - (select count(*) from nudge_engine.schedule_runs r
                join unnest(${windows.map((w) => w.feature)}::text[], ${windows.map((w) => w.start.toISOString())}::timestamptz[])
                  as w(feature, start) on r.feature = w.feature and r.window_start = w.start
               where r.matched is not null) as busy`;
    if (Number(state?.busy) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
