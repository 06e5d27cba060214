// A feature file's mistakes in the words the rest of Nudge uses, at their
// line: the operations `on:` takes, with the closest; a bound and the value
// given; the type expected and the type found.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFeatures } from './load.js';

async function problems(files: Record<string, string>): Promise<string[]> {
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-features-'));
  await mkdir(path.join(cwd, 'features'));
  for (const [name, text] of Object.entries(files))
    await writeFile(path.join(cwd, 'features', name), text);
  const error = await loadFeatures(path.join(cwd, 'features'), {}, cwd).then(
    () => undefined,
    (e: Error) => e,
  );
  return (error?.message ?? '').split('\n').sort();
}

const feature = (name: string, extra: string, on = 'insert') => `name: ${name}
trigger: { table: public.orders, on: ${on} }
${extra}stages:
  - name: s
    do: [{ webhook: { url: "http://127.0.0.1:1/x" } }]
`;

describe('feature files', () => {
  it('word a bad operation, a bound and a type as the rest of Nudge does', async () => {
    expect(
      await problems({
        'a.yaml': feature('a', '', 'inserted'),
        'b.yaml': feature('b', 'max_entries: 0\n'),
        'c.yaml': feature('c', 'max_entries: three\n'),
      }),
    ).toEqual([
      'features/a.yaml:2:38 trigger.on: expected insert, update or delete, or a list of them (did you mean "insert"?)',
      'features/b.yaml:3:14 max_entries: expected a number above 0, got 0',
      'features/c.yaml:3:14 max_entries: expected a number, got a string',
    ]);
  });
});
