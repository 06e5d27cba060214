// `nudge doctor` with one feature file that does not parse and three that do:
// the Features line names the broken file, and the trigger privilege check
// still covers the tables the readable features name (it used to say no
// feature named any table).
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';

const db = useDatabase();

const feature = (name: string, table: string) => `name: ${name}
trigger: { table: ${table}, on: insert }
contact: { email: new.email }
stages:
  - name: noted
    do: [{ track: { event: ${name} } }]
`;

beforeAll(async () => {
  await db.sql.unsafe(`
    create table public.orders (id bigint primary key, email text);
    create table public.invoices (id bigint primary key, email text);
    create table public.signups (id bigint primary key, email text);`);
});

describe('nudge doctor with a feature file that does not parse', () => {
  it('checks the trigger privilege on the tables of the features it could read', async () => {
    const cwd = await tempProject(
      {
        'nudge.yaml': '',
        'nudge/features/big-order.yaml': feature('big-order', 'public.orders'),
        'nudge/features/invoiced.yaml': feature('invoiced', 'public.invoices'),
        'nudge/features/welcome.yaml': feature('welcome', 'public.signups'),
        'nudge/features/broken.yaml':
          'name: broken\ntrigger: { table: public.orders, on: insert\nstages: [\n',
      },
      'nudge-doctor-broken-',
    );
    const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    const code = await run(['doctor'], m.io);
    const lines = m.stdout().split('\n');
    // One missing } is one problem, not the parser's two or three.
    expect(lines).toContainEqual(
      expect.stringMatching(/^✗ Features {11}nudge\/features\/broken\.yaml:3:1 Flow map/),
    );
    expect(lines).toContain(
      '✓ Trigger privilege  can create triggers on public.orders, public.invoices, public.signups',
    );
    expect(m.stdout()).not.toContain('no tables named by features');
    expect(code).toBe(1);
  });
});
