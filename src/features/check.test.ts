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
});
