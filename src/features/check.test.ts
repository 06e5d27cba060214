// A condition's error found against the live schema and the declared
// attributes is located at the key it was written under (a stage's unless,
// a transition's until), and a misspelt attribute names the declared one.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogTable } from '../../test/harness/catalog.js';
import { Catalog } from '../source/catalog.js';
import { checkFeatures } from './check.js';
import { loadFeatures } from './load.js';

const USERS = new Catalog([catalogTable('auth.users', { id: 'uuid', email: 'text' })]);

/** The feature files, loaded, then checked against `catalog`: the message thrown. */
async function checked(files: Record<string, string>, catalog: Catalog): Promise<string[]> {
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-check-'));
  await mkdir(path.join(cwd, 'features'));
  for (const [name, text] of Object.entries(files))
    await writeFile(path.join(cwd, 'features', name), text);
  const features = await loadFeatures(path.join(cwd, 'features'), {}, cwd);
  try {
    checkFeatures(features, catalog);
  } catch (error) {
    return (error as Error).message.split('\n');
  }
  return [];
}

describe('checkFeatures', () => {
  it('locates a misspelt attribute at its stage key and names the declared one', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-check-'));
    await mkdir(path.join(cwd, 'features'));
    await writeFile(
      path.join(cwd, 'features', 'welcome.yaml'),
      `name: welcome
trigger: { table: auth.users, on: insert }
contact: { id: new.id, email: new.email }
stages:
  - name: welcomed
    do: [{ webhook: { url: "http://127.0.0.1:1/a" } }]
  - name: nudged
    after: 2d
    unless: { contact.onbaorded: is.true }
    do: [{ webhook: { url: "http://127.0.0.1:1/b" } }]
`,
    );
    const features = await loadFeatures(path.join(cwd, 'features'), {}, cwd);
    let thrown: (Error & { hint?: string }) | undefined;
    try {
      checkFeatures(features, USERS, { onboarded: 'boolean' });
    } catch (error) {
      thrown = error as Error & { hint?: string };
    }
    expect(thrown?.message).toMatch(
      /^features\/welcome\.yaml:9:34 stages\[1\]\.unless\["contact\.onbaorded"\]: /,
    );
    expect(thrown?.hint).toMatch(/^did you mean contact\.onboarded\? Else declare/);
  });

  it('says every problem the schema shows, each test of a condition on its own', async () => {
    const shop = new Catalog([
      catalogTable('public.orders', { id: 'bigint', user_id: 'uuid', total: 'numeric' }),
      catalogTable('public.profiles', { id: 'uuid', plan: 'text' }),
    ]);
    const stage = `stages:
  - name: s
    do: [{ webhook: { url: "http://127.0.0.1:1/x" } }]
`;
    expect(
      await checked(
        {
          'a.yaml': `name: a
trigger:
  table: public.orders
  on: insert
  when: { new.totl: gt.abc, new.total: gt.abc, new.user_id: eq.nope }
${stage}`,
          'b.yaml': `name: b
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
enrich:
  profile: { table: public.profiles, match: { uid: new.userid }, columns: [plann, plan, tier] }
${stage}`,
          // Two tests written in one place with one problem: said once.
          'c.yaml': `name: c
trigger: { table: public.orders, on: insert, when: { or: "(new.totl.eq.1,new.totl.gt.2)" } }
${stage}`,
        },
        shop,
      ),
    ).toEqual([
      // A column that does not exist is that problem alone, not also its literal's.
      'features/a.yaml:5:11 trigger.when["new.totl"]: column "totl" does not exist on public.orders (did you mean "total"?)',
      'features/a.yaml:5:40 trigger.when["new.total"]: expected a number for new.total, got "abc"',
      'features/a.yaml:5:61 trigger.when["new.user_id"]: expected a UUID for new.user_id, got "nope"',
      'features/b.yaml:5:38 enrich.profile.match: column "uid" does not exist on public.profiles (did you mean "id"?)',
      'features/b.yaml:5:52 enrich.profile.match.uid: column "userid" does not exist on public.orders (did you mean "user_id"?)',
      'features/b.yaml:5:76 enrich.profile.columns[0]: column "plann" does not exist on public.profiles (did you mean "plan"?)',
      'features/b.yaml:5:89 enrich.profile.columns[2]: column "tier" does not exist on public.profiles',
      'features/c.yaml:2:54 trigger.when.or: column "totl" does not exist on public.orders (did you mean "total"?)',
    ]);
  });
});
