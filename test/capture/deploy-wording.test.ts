// What plan and deploy say of a change, as a user reads it: the listing
// shown before deploy asks (and when it is refused, or answered no) says
// what deploy would do, and only a deploy that ran says what was done.
// The change here drops two typed captures and their emptied rows tables.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { useDatabase } from '../harness/db.js';
import { copyDemo } from '../harness/demo-project.js';

const db = useDatabase();
let cwd: string;

async function nudge(args: string[], answer?: boolean) {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  if (answer !== undefined) m.io.confirm = async () => answer;
  const code = await run(args, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

const rowsTables = async () =>
  (
    await db.sql<{ name: string }[]>`
      select relname as name from pg_class
       where relnamespace = 'nudge'::regnamespace and relkind = 'r' and relname like 'rows\\_%'
       order by 1`
  ).map((t) => t.name);

/** Lines that say something was done: past participles of deploy's actions. */
const saysDone = (text: string) =>
  text
    .split('\n')
    .filter((line) => /\b(dropped|created|replaced|deployed)\b/.test(line))
    .filter((line) => line !== 'Nothing deployed.');

const DROP_ROWS =
  /^ {2}- capture table nudge\.rows_\S+ +old outbox: rows table no capture uses, empty now: deploy would drop it$/gm;

beforeAll(async () => {
  await db.sql.unsafe(await readFile(path.resolve('src/dev/demo.sql'), 'utf8'));
  cwd = await copyDemo({ prefix: 'nudge-wording-', firstFeatures: true });
  expect((await nudge(['deploy', '--yes'])).code).toBe(0);
  expect(await rowsTables()).toHaveLength(2);
  // The two features whose captures are typed go: their rows tables are empty.
  for (const name of ['heartbeat', 'welcome-drip'])
    await rm(path.join(cwd, 'nudge/features', `${name}.yaml`));
});

describe('a change that drops emptied rows tables', () => {
  it('is planned as what deploy would do', async () => {
    const planned = await nudge(['plan']);
    expect(planned.code).toBe(0);
    expect(planned.out.match(DROP_ROWS)).toHaveLength(2);
    expect(saysDone(planned.out)).toEqual([]);
  });

  it('is listed as what deploy would do when deploy is refused for want of a terminal', async () => {
    const refused = await nudge(['deploy']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('deploy needs confirmation and there is no terminal to ask');
    expect(refused.out.match(DROP_ROWS)).toHaveLength(2);
    expect(saysDone(refused.out)).toEqual([]);
    expect(await rowsTables()).toHaveLength(2);
  });

  it('is listed as what deploy would do when the answer is no', async () => {
    const declined = await nudge(['deploy'], false);
    expect(declined.code).toBe(1);
    expect(declined.out.match(DROP_ROWS)).toHaveLength(2);
    expect(declined.out.trimEnd().split('\n').at(-1)).toBe('Nothing deployed.');
    expect(saysDone(declined.out)).toEqual([]);
    expect(await rowsTables()).toHaveLength(2);
  });

  it('says nothing was done in the script deploy --sql prints', async () => {
    const script = await nudge(['deploy', '--sql']);
    expect(script.code).toBe(0);
    expect(script.out.match(/^ +DROP TABLE "nudge"\."rows_\S+";$/gm)).toHaveLength(2);
    expect(saysDone(script.out + script.err)).toEqual([]);
  });

  it('says it was done only once deploy has done it', async () => {
    const deployed = await nudge(['deploy'], true);
    expect(deployed.code).toBe(0);
    expect(deployed.out.match(DROP_ROWS)).toHaveLength(2);
    expect(saysDone(deployed.out)).toEqual([
      expect.stringMatching(
        /^✓ Deployment #2: 0 created, 1 replaced \(the feature list\), \d+ dropped \(.*2 rows tables.*\)\.$/,
      ),
    ]);
    expect(await rowsTables()).toEqual([]);
  });
});
