// Live sync's capture goes through the same plan and deploy as features: the
// connector block's sync.realtime / sync.storage become triggers on
// auth.users, the mapped tables and storage.objects; a mapped table that does
// not exist fails the plan at its line in nudge.yaml; a table listed in
// sync.tables without a table_mapping entry has nothing to sync and is not
// captured.
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';

const db = useDatabase();

const CONFIG = `connectors:
  supabase:
    sync:
      users: true
      tables: [customers, products]
      storage: true
      realtime: true
    table_mapping:
      customers: { email: email, plan: SUBSCRIPTION_PLAN }
      orders: { sync_as: events, event_name: order_placed }
`;

async function plan(config: string) {
  const cwd = await tempProject({ 'nudge.yaml': config }, 'nudge-live-');
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  const code = await run(['plan'], m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

beforeAll(async () => {
  await db.sql`create table public.customers (id bigserial primary key, email text, plan text)`;
  await db.sql`create table public.orders (id bigserial primary key, customer_id bigint, total numeric)`;
  await db.sql`create table public.products (id bigserial primary key, name text)`;
});

describe('live sync capture', () => {
  it('plans triggers for users, mapped tables and storage', async () => {
    const result = await plan(CONFIG);
    expect(result.err).toBe('');
    for (const line of [
      /\+ capture auth\.users insert\s+statement trigger · typed rows · used by sync: users/,
      /\+ capture auth\.users update\s+row trigger · used by sync: users/,
      /\+ capture auth\.users delete\s+statement trigger · typed rows · used by sync: users/,
      /\+ capture public\.customers update\s+row trigger · used by sync: customers/,
      /\+ capture public\.orders insert\s+statement trigger · typed rows · used by sync: orders/,
      /\+ capture storage\.objects insert\s+statement trigger · typed rows · used by sync: storage/,
      /\+ capture storage\.objects delete\s+statement trigger · typed rows · used by sync: storage/,
    ]) {
      expect(result.out).toMatch(line);
    }
    // Events-only tables need inserts alone; a table synced as attributes
    // merges inserts and updates, and a delete changes nothing.
    expect(result.out).not.toMatch(/capture public\.orders update/);
    expect(result.out).toMatch(/\+ capture public\.customers insert/);
    expect(result.out).not.toMatch(/capture public\.customers delete/);
    // products is listed with no table_mapping entry: nothing would sync
    // from its rows, so nothing captures them (nudge doctor warns).
    expect(result.out).not.toMatch(/products/);
  });

  it('fails on a mapped table that does not exist, at its line, and writes nothing', async () => {
    const result = await plan(CONFIG.replace('orders: {', 'ordres: {'));
    expect(result.code).toBe(2);
    expect(result.err).toContain(
      'nudge.yaml:10:7 connectors.supabase.table_mapping.ordres: table public.ordres does not exist (did you mean "public.orders"?)',
    );
    const [schema] =
      await db.sql`select count(*)::int as n from pg_namespace where nspname = 'nudge'`;
    expect(schema!.n).toBe(0);
  });
});
