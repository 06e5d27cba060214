// nudge backfill on a database Nudge never ran on: the dry run writes
// nothing (no engine store's schema) and reads the store as empty — nobody
// backfilled before, contacts named from the rows and auth.users, and it says
// so; the real run makes the store only once it may write (--yes), then
// enters the rows.
import { beforeAll, describe, expect, it } from 'vitest';
import { backfill } from '../../src/cli/backfill.js';
import { memoryIo } from '../../src/cli/io.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';

const db = useDatabase();
let cwd: string;

beforeAll(async () => {
  await db.sql`create table public.members (id bigint primary key, user_id uuid not null)`;
  await db.sql`insert into auth.users (id, email) values
    ('00000000-0000-4000-8000-000000000001', 'auth-one@example.com')`;
  await db.sql`insert into public.members values
    (1, '00000000-0000-4000-8000-000000000001'), (2, '00000000-0000-4000-8000-000000000002')`;
  cwd = await tempProject(
    {
      'nudge.yaml': '',
      'nudge/features/joined.yaml': `name: joined
trigger: { table: public.members, on: insert }
contact: { id: new.user_id }
stages:
  - name: noted
    do: [{ track: { event: joined } }]
`,
    },
    'nudge-backfill-fresh-',
  );
});

const cli = () => memoryIo({ cwd, env: { DATABASE_URL: db.url } });
const schemas = async () =>
  (
    await db.sql<{ nspname: string }[]>`
      select nspname from pg_namespace where nspname like 'nudge%' order by 1`
  ).map((r) => r.nspname);

describe('nudge backfill where Nudge never ran', () => {
  it('dry run: makes no schema, names contacts from auth.users or the row, says there is no store', async () => {
    expect(await schemas()).toEqual([]);
    const out = cli();
    expect(await backfill(['joined'], { dryRun: true }, out.io)).toBe(0);
    expect(await schemas()).toEqual([]);
    expect(out.stdout()).toContain('2 rows of public.members would enter joined as inserts.');
    expect(out.stdout()).toContain(
      'Nudge has not run here yet (its engine store has no schema nudge_engine): nobody was backfilled before',
    );
    expect(out.stdout()).toContain('id=1  contact auth-one@example.com');
    expect(out.stdout()).toContain('id=2  contact 00000000-0000-4000-8000-000000000002');
  });

  it('real run: makes the store only once it may write', async () => {
    await expect(backfill(['joined'], {}, cli().io)).rejects.toThrow(
      /needs confirmation and there is no terminal/,
    );
    expect(await schemas()).toEqual([]);

    const out = cli();
    expect(await backfill(['joined'], { yes: true, rate: 'unlimited' }, out.io)).toBe(0);
    expect(out.stdout()).toMatch(/backfill done in .* 2 rows read, 2 new to the engine/);
    expect(await schemas()).toEqual(['nudge_engine', 'nudge_worker']);
    const [inbox] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from nudge_engine.inbox where source = 'backfill'`;
    expect(inbox!.n).toBe(2);
  });
});
