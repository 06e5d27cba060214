// `nudge teardown --dry-run` says what teardown would remove and what it
// would refuse to lose, as warnings, and changes nothing: no --yes, no
// terminal, exit 0, also where access is read-only. Its list is the one
// teardown then removes.
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';

const db = useDatabase();
let cwd = '';

async function nudge(args: string[]) {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  const code = await run(args, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

const setAccess = (access: string) =>
  writeFile(path.join(cwd, 'nudge.yaml'), `capture: outbox\naccess: ${access}\n`);

/** What teardown would remove: the lines of its list. */
const listed = (out: string) => out.split('\n').filter((line) => line.startsWith('  - '));

/** The nudge schema and the Nudge triggers, and what the outbox holds. */
async function installed() {
  const [row] = await db.sql<{ schemas: number; triggers: number; pending: number }[]>`
    select (select count(*) from pg_namespace where nspname = 'nudge')::int as schemas,
           (select count(*) from pg_trigger t join pg_proc p on p.oid = t.tgfoid
             where p.pronamespace = 'nudge'::regnamespace and not t.tgisinternal)::int as triggers,
           (select count(*) from nudge.pending())::int as pending`;
  return row!;
}

beforeAll(async () => {
  cwd = await tempProject(
    {
      'nudge.yaml': 'capture: outbox\naccess: read-write\n',
      'nudge/features/orders.yaml': `name: orders
trigger: { table: public.orders, on: insert }
stages:
  - name: seen
    do: [{ track: { event: order-insert } }]
`,
    },
    'nudge-teardown-dry-',
  );
  await db.sql`create table public.orders (id bigserial primary key, status text)`;
  const deployed = await nudge(['deploy', '--yes']);
  expect(deployed.code, deployed.err).toBe(0);
  await db.sql`insert into public.orders (status) values ('new')`;
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describe('nudge teardown --dry-run', () => {
  it('lists what it would remove and warns of what would be lost, changing nothing', async () => {
    const before = await installed();
    expect(before).toEqual({ schemas: 1, triggers: 1, pending: 1 });
    // No --yes and no terminal to ask: a dry run asks nothing.
    const dry = await nudge(['teardown', '--dry-run']);
    expect(dry.err).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(/^Nudge would remove:$/m);
    expect(listed(dry.out)).toEqual([
      expect.stringMatching(/^ {2}- trigger \S+ on public\.orders$/),
      '  - schema nudge (event_log, failed_events, enrichment_map, deployments)',
    ]);
    // Teardown's refusal, as a warning, with how to keep them.
    expect(dry.out).toContain(
      '  ! teardown would drop the nudge schema while it holds 1 captured change not yet processed; they would be lost\n',
    );
    expect(dry.out).toContain('`nudge teardown --discard-unread`');
    expect(dry.out).toContain(
      'Dry run: nothing was removed. Without --dry-run, teardown refuses over what is marked !.',
    );
    expect(await installed()).toEqual(before);

    // With --discard-unread, teardown's notice instead; still nothing removed.
    const discarding = await nudge(['teardown', '--dry-run', '--discard-unread']);
    expect(discarding.code, discarding.err).toBe(0);
    expect(discarding.out).toContain('  ! 1 captured change not yet processed will be lost\n');
    expect(discarding.out).toContain(
      'Dry run: nothing was removed. Run without --dry-run to remove them.',
    );
    expect(await installed()).toEqual(before);
  });

  it('runs where access is read-only, saying teardown itself would refuse', async () => {
    await setAccess('read-only');
    try {
      const dry = await nudge(['teardown', '--dry-run']);
      expect(dry.code, dry.err).toBe(0);
      expect(listed(dry.out)).toHaveLength(2);
      expect(dry.out).toContain('  ! access is read-only: teardown refuses to write\n');
      expect((await nudge(['teardown', '--yes'])).err).toContain(
        'access is read-only: teardown refuses to write',
      );
    } finally {
      await setAccess('read-write');
    }
  });

  it('lists what teardown then removes', async () => {
    const dry = await nudge(['teardown', '--dry-run', '--discard-unread']);
    const removed = await nudge(['teardown', '--yes', '--discard-unread']);
    expect(removed.code, removed.err).toBe(0);
    expect(listed(removed.out)).toEqual(listed(dry.out));
    const [schema] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from pg_namespace where nspname = 'nudge'`;
    expect(schema!.n).toBe(0);
    expect((await nudge(['teardown', '--dry-run'])).out).toBe(
      'Nothing to remove: no nudge schema, no Nudge triggers, publications or slots.',
    );
  });
});
