// nudge report on real Postgres with seeded data whose true conversion rates
// are known: 2000 contacts entered a feature with a 20% holdout and two
// variants, each group converting at its own rate (a seeded PRNG draws who
// converts, so the data is the same on every run). The counts must be exact,
// every interval must be the one the formulas give for them (stats.test.ts
// checks the formulas by hand), the intervals must cover the true
// differences, and the CLI (text and --json), GET /v1/features/:name/report
// and the client must agree.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { report } from '../../src/cli/report.js';
import { Nudge } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/load.js';
import { parseYaml } from '../../src/config/yaml.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { assign } from '../../src/engine/journeys/experiment.js';
import { parseFeature } from '../../src/features/load.js';
import type { FeatureReport } from '../../src/report/index.js';
import { differenceInterval, wilson } from '../../src/report/stats.js';
import { createApiKey } from '../../src/server/api/keys.js';
import { useDatabase } from '../harness/db.js';
import { seededRandom } from '../runtime/helpers.js';
import { startTestServer, type TestServer } from '../server/helpers.js';

const db = useDatabase();
const DAY = 86_400_000;

const WELCOME = `name: welcome
trigger: { table: auth.users, on: insert }
goal:
  when: { "contact.onboarded": "is.true" }
  within: 7d
holdout: 20
stages:
  - name: welcomed
    do: [{ email: { template: welcome, subject: Welcome } }]
    split:
      - { name: short, with: { email: { subject: Hi } } }
      - { name: long, with: { email: { subject: "Welcome to Acme" } } }
`;

/** The true conversion rate of each group. */
const TRUE_RATE: Record<string, number> = { holdout: 0.1, short: 0.15, long: 0.25 };
const CONTACTS = 2000;
/** The last 150 entered a day ago: still within the goal's 7 days. */
const RECENT = 150;

interface Expected {
  entered: number;
  converted: number;
  open: number;
}
const expected = new Map<string, Expected>();
let cwd: string;
let server: TestServer | undefined;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-report-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(
    path.join(cwd, 'nudge.yaml'),
    'contacts: { attributes: { onboarded: boolean } }\n',
  );
  await writeFile(path.join(cwd, 'nudge/features/welcome.yaml'), WELCOME);
  await writeFile(
    path.join(cwd, 'nudge/features/plain.yaml'),
    WELCOME.replace('name: welcome', 'name: plain').split('goal:')[0]! +
      'stages:\n  - name: only\n    do: [{ email: { template: welcome } }]\n',
  );
  const experiment = parseFeature(parseYaml(WELCOME, 'welcome.yaml', {}), 'welcome.yaml')
    .experiment!;
  const random = seededRandom(2112);
  const now = Date.now();
  const rows = [];
  for (let i = 0; i < CONTACTS; i++) {
    const id = `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
    const { group } = assign('welcome', id, experiment);
    const converts = random() < TRUE_RATE[group]!;
    const recent = i >= CONTACTS - RECENT;
    const entered = new Date(now - (recent ? 1 : 10) * DAY);
    const deadline = new Date(entered.getTime() + 7 * DAY);
    const counts = expected.get(group) ?? { entered: 0, converted: 0, open: 0 };
    counts.entered++;
    if (converts) counts.converted++;
    else if (recent) counts.open++;
    expected.set(group, counts);
    rows.push({
      id,
      group,
      entered,
      deadline,
      converted: converts ? new Date(entered.getTime() + 2 * DAY) : null,
    });
  }
  await db.sql`
    insert into nudge_engine.experiment_entries (feature, contact_id, "group", entered_at, deadline, converted_at)
    select 'welcome', * from unnest(${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => r.group)}::text[],
                                    ${rows.map((r) => r.entered.toISOString())}::timestamptz[],
                                    ${rows.map((r) => r.deadline.toISOString())}::timestamptz[],
                                    ${rows.map((r) => r.converted?.toISOString() ?? null)}::timestamptz[])`;
  // Another feature's entries are not counted.
  await db.sql`
    insert into nudge_engine.experiment_entries (feature, contact_id, "group", entered_at, deadline, converted_at)
    values ('other', ${rows[0]!.id}, 'treated', now(), now() + interval '1 day', now())`;
});

afterAll(async () => {
  await server?.close();
});

async function cliReport(): Promise<FeatureReport> {
  const out = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  expect(await report(['welcome'], { json: true }, out.io)).toBe(0);
  return JSON.parse(out.stdout()) as FeatureReport;
}

describe('nudge report', () => {
  it('counts every group exactly, in the declared order, against the holdout', async () => {
    const result = await cliReport();
    expect(result.feature).toBe('welcome');
    expect(result.baseline).toBe('holdout');
    expect(result.goal).toEqual({ when: { 'contact.onboarded': 'is.true' }, within: '7d' });
    expect(result.groups.map((g) => g.group)).toEqual(['holdout', 'short', 'long']);
    for (const g of result.groups) {
      const want = expected.get(g.group)!;
      expect({ entered: g.entered, converted: g.converted, open: g.open }).toEqual(want);
      expect(g.rate).toBe(want.converted / want.entered);
      const interval = wilson(want.converted, want.entered);
      expect([g.rate_low, g.rate_high]).toEqual([interval.low, interval.high]);
    }
    const entered = result.groups.reduce((sum, g) => sum + g.entered, 0);
    expect(entered).toBe(CONTACTS);
    // The holdout is about 20% of the contacts (binomial sd √(2000·.2·.8) ≈ 18).
    expect(Math.abs(expected.get('holdout')!.entered - 0.2 * CONTACTS)).toBeLessThan(4 * 18);
  });

  it('gives each variant its difference from the holdout with an interval that covers the truth', async () => {
    const result = await cliReport();
    const holdout = expected.get('holdout')!;
    for (const name of ['short', 'long']) {
      const g = result.groups.find((x) => x.group === name)!;
      const want = expected.get(name)!;
      const d = differenceInterval(
        want.converted,
        want.entered,
        holdout.converted,
        holdout.entered,
      );
      expect(g.difference).toEqual({
        vs: 'holdout',
        value: d.difference,
        low: d.low,
        high: d.high,
      });
      const truth = TRUE_RATE[name]! - TRUE_RATE.holdout!;
      expect(g.difference!.low).toBeLessThanOrEqual(truth);
      expect(g.difference!.high).toBeGreaterThanOrEqual(truth);
    }
    // A true lift of 15 points over ~800 vs ~400 contacts (≈7 standard errors) is found.
    expect(result.groups.find((g) => g.group === 'long')!.difference!.low).toBeGreaterThan(0);
    expect(result.groups.find((g) => g.group === 'holdout')!.difference).toBeUndefined();
  });

  it('prints a table and a verdict per variant', async () => {
    // Through the command line as registered (program.ts), not only the function.
    const out = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    expect(await run(['report', 'welcome'], out.io)).toBe(0);
    const text = out.stdout();
    const long = expected.get('long')!;
    expect(text).toContain('welcome: goal {"when":{"contact.onboarded":"is.true"},"within":"7d"}');
    expect(text).toMatch(/group\s+entered\s+converted\s+open\s+rate\s+95% CI\s+vs holdout/);
    expect(text).toMatch(
      new RegExp(
        `long\\s+${long.entered}\\s+${long.converted}\\s+${long.open}\\s+${((long.converted / long.entered) * 100).toFixed(1)}%`,
      ),
    );
    expect(text).toMatch(
      /long: converts more than holdout: \+\d+\.\d to \+\d+\.\d points; observed \+\d+\.\d points\./,
    );
    const open = [...expected.values()].reduce((sum, g) => sum + g.open, 0);
    expect(text).toContain(`${open} contacts are still within the goal's time limit`);
  });

  it('names a feature it does not know, and one without a goal', async () => {
    const out = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    expect(await run(['report', 'welcom'], out.io)).toBe(1);
    expect(out.stderr()).toMatch(
      /no feature named "welcom" in .*nudge\/features, and no recorded entries for it/,
    );
    expect(out.stderr()).toContain("nudge report takes a feature's name: plain, welcome");
    const plain = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    const code = await run(['report', 'plain'], plain.io);
    expect(code).toBe(1);
    expect(plain.stderr()).toContain('feature plain has no goal: there is nothing to measure');
  });

  it('GET /v1/features/welcome/report and the client answer the same report', async () => {
    const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
    server = await startTestServer(db.sql, project);
    const key = (await createApiKey(db.sql, 'reader', 'read')).key;
    const cli = await cliReport();
    const response = await fetch(`${server.url}/v1/features/welcome/report`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(response.status).toBe(200);
    const api = (await response.json()) as FeatureReport;
    expect({ ...api, as_of: '' }).toEqual({ ...cli, as_of: '' });
    const client = new Nudge({ url: server.url, apiKey: key });
    expect({ ...(await client.report('welcome')), as_of: '' }).toEqual({ ...cli, as_of: '' });
    // A typo is named with the feature it likely is, as /v1/features/:name names it.
    const missing = await fetch(`${server.url}/v1/features/welcom/report`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      error: 'feature_not_found',
      detail:
        'no feature named "welcom" in nudge/features (did you mean "welcome"?) (features: plain, welcome)',
    });
  });
});
