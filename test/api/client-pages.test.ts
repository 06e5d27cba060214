// The typed client follows the contacts cursor: `.page()` gives `next`,
// `.after(next)` asks for the page after it, and `.pages()` walks them all,
// each contact there was when the walk began once, while others are created.
import { beforeAll, describe, expect, it } from 'vitest';
import { Nudge } from '../../src/client/index.js';
import { useDatabase } from '../harness/db.js';
import { startApi } from './helpers.js';

const db = useDatabase();
let nudge: Nudge<{ mrr: number; plan: string }>;

beforeAll(async () => {
  const api = await startApi(db);
  nudge = new Nudge({ url: api.url, apiKey: api.readKey });
});

async function create(from: number, n: number): Promise<void> {
  await db.sql`
    insert into nudge_engine.contacts (email, attributes)
    select 'walk-' || (${from}::int + i) || '@example.com', jsonb_build_object('mrr', (${from}::int + i) % 4)
      from generate_series(0, ${n} - 1) i`;
}

describe('the typed client and the contacts cursor', () => {
  it('walks every page with pages() while contacts are created', async () => {
    await create(0, 12);
    const query = () =>
      nudge.contacts
        .query()
        .like('email', 'walk-*')
        .order('mrr', { ascending: false })
        .select('id');
    const everything = (await query()).map((row) => row.id);
    const seen: string[] = [];
    let created = 12;
    for await (const page of query().limit(5).pages()) {
      seen.push(...page.rows.map((row) => row.id));
      await create(created, 3);
      created += 3;
    }
    const before = new Set(everything);
    expect(seen.filter((id) => before.has(id))).toEqual(everything);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('walks from a range() on without skipping, and each pages() from its start', async () => {
    await create(1000, 9);
    const query = nudge.contacts.query().like('email', 'walk-100*').select('email');
    const everything = (await query).map((row) => row.email);
    expect(everything).toHaveLength(9);
    const walk = async () => {
      const seen: (string | null)[] = [];
      for await (const page of query.range(2, 4).pages())
        seen.push(...page.rows.map((r) => r.email));
      return seen;
    };
    expect(await walk()).toEqual(everything.slice(2));
    expect(await walk()).toEqual(everything.slice(2));
  });

  it('gives next from page() and takes it with after()', async () => {
    const first = await nudge.contacts.query().select('id').limit(1).page();
    expect(first.next).toEqual(expect.any(String));
    const second = await nudge.contacts
      .query()
      .select('id')
      .limit(1)
      .after(first.next ?? '')
      .page();
    expect(second.rows).toHaveLength(1);
    expect(second.rows[0]?.id).not.toBe(first.rows[0]?.id);
    const last = await nudge.contacts.query().select('id').limit(1000).page();
    expect(last.next).toBeNull();
  });
});
