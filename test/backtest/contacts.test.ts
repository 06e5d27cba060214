// Contacts in a backtest: someone the contact book does not know is found
// again as the engine's resolveContact finds a contact — by any one of its
// identity fields, auth user id first — made at their first event with an id
// and created_at, and filled in with the fields later events give; and a
// `set` action changes the simulated contact, so a later stage's
// `unless: contact.*` sees it, literal values and Liquid alike.
import { beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedContact } from '../../src/backtest/contacts.js';
import { readHistory } from '../../src/backtest/history.js';
import { type BacktestReport, runBacktest } from '../../src/backtest/index.js';
import { simulate } from '../../src/backtest/simulate.js';
import { loadConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { FeatureSet } from '../../src/engine/match/features.js';
import { loadFeatures } from '../../src/features/load.js';
import { readCatalog } from '../../src/source/catalog.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';
import { keep, projectFiles } from './fixtures.js';

const db = useDatabase();
const DAY = 86_400_000;
const now = Date.now();
const daysAgo = (n: number) => new Date(now - n * DAY);
const USER = '00000000-0000-4000-8000-0000000000aa';

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  await db.sql`create table public.orders (id bigint primary key, user_id uuid, email text, plan text)`;
});

const order = (id: number, ago: number, row: Record<string, unknown>) => ({
  sourceKey: `order-${id}`,
  schema: 'public',
  table: 'orders',
  operation: 'insert' as const,
  newRow: { id, ...row },
  occurredAt: daysAgo(ago),
});

async function project(config: string, features: Record<string, string>) {
  const cwd = await tempProject(projectFiles(config, features), 'nudge-backtest-contacts-');
  const loaded = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  const all = await loadFeatures(loaded.featuresDir, loaded.env, loaded.cwd);
  return { project: loaded, features: all };
}

async function backtest(
  config: string,
  features: Record<string, string>,
  name: string,
  from: Date,
  to: Date,
): Promise<BacktestReport> {
  const { project: loaded, features: all } = await project(config, features);
  return runBacktest({
    project: loaded,
    features: all,
    feature: all.find((f) => f.name === name)!,
    engine: db.sql,
    source: db.sql,
    catalog: await readCatalog(db.sql),
    from,
    to,
  });
}

const THANKS = `name: thanks
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id, email: new.email }
stages:
  - name: thanked
    do: [{ email: { template: thanks } }]
  - name: later
    after: 5d
    do: [{ email: { template: later } }]
`;

describe('contacts a backtest makes', () => {
  it('are found again by any one identity field, as the engine finds them', async () => {
    // One user, the contact book empty: three orders, with no email, then two emails.
    await keep(db.sql, [
      order(1, 3, { user_id: USER, email: null }),
      order(2, 2, { user_id: USER, email: 'a@example.com' }),
      order(3, 1, { user_id: USER, email: 'b@example.com' }),
      // Someone else, by the email the user's contact was given on order 2.
      order(4, 0.5, { user_id: null, email: 'a@example.com' }),
    ]);
    const report = await backtest('', { 'thanks.yaml': THANKS }, 'thanks', daysAgo(4), daysAgo(0));
    // The engine: one contact, made on order 1, its email filled in on order
    // 2; order 3 finds it by user id, order 4 by that email.
    expect(report.contacts).toEqual({ entered: 1, entries: 1 });
    expect(report.skips).toEqual({ 'already in the journey': 3 });

    // The simulated contact, as conditions and templates see it.
    const { project: loaded, features } = await project('', { 'thanks.yaml': THANKS });
    const catalog = await readCatalog(db.sql);
    const set = new FeatureSet(features, catalog);
    const history = await readHistory({
      engine: db.sql,
      source: db.sql,
      catalog,
      feature: features[0]!,
      from: daysAgo(4),
      to: daysAgo(0),
      allEvents: false,
      exclude: loaded.config.capture.exclude_columns,
    });
    const seen: SimulatedContact[] = [];
    await simulate({
      engine: db.sql,
      features: set,
      feature: set.get('thanks')!,
      events: history.events,
      to: daysAgo(0),
      observer: {
        event() {},
        decisions: (_, __, contact) => {
          if (contact) seen.push(contact);
        },
        actions() {},
      },
    });
    expect(new Set(seen).size).toBe(1);
    expect(seen[0]!.row).toEqual({
      id: seen[0]!.id,
      auth_user_id: USER,
      email: 'a@example.com',
      phone: null,
      external_id: null,
      created_at: daysAgo(3).toISOString(),
      deleted_at: null,
    });
    await db.sql`delete from nudge_engine.inbox`;
  });

  it('change with set actions: a later stage’s unless reads what an earlier stage set', async () => {
    await keep(db.sql, [
      order(11, 5, { email: 'pro@example.com', plan: 'pro' }),
      order(12, 5, { email: 'free@example.com', plan: 'free' }),
    ]);
    const config = 'contacts: { attributes: { welcomed: boolean, plan_seen: text } }\n';
    const WELCOME = `name: welcome
trigger: { table: public.orders, on: insert }
contact: { email: new.email }
stages:
  - name: first
    do: [{ set: { welcomed: true, plan_seen: "{{ new.plan }}" } }]
  - name: reminder
    after: 1d
    unless: { contact.welcomed: is.true }
    do: [{ email: { template: reminder } }]
  - name: upsell
    after: 1d
    if: { contact.plan_seen: eq.free }
    do: [{ email: { template: upsell } }]
`;
    const report = await backtest(
      config,
      { 'welcome.yaml': WELCOME },
      'welcome',
      daysAgo(6),
      daysAgo(0),
    );
    // Both were welcomed: no reminder. The Liquid value is rendered: only free gets the upsell.
    expect(report.actions).toEqual({
      set: { 'welcomed, plan_seen': 2 },
      email: { upsell: 1 },
    });
    expect(report.skips).toEqual({
      'stage reminder: if/unless false': 2,
      'stage upsell: if/unless false': 1,
    });
    expect(report.simplifications.join('\n')).toMatch(
      /set actions change the simulated contact once their step is done/,
    );
    // The contact book is read only.
    expect(await db.sql`select count(*)::int as n from nudge_engine.contacts`).toEqual([{ n: 0 }]);
  });
});
