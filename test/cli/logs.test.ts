// `nudge logs` on the attempts the real worker makes and records: an attempt
// made after a replay says so, as the dashboard's Actions page does
// ("replayed", "replayed 2 times"); the times are the engine clock's, and a
// note says so once the clock is moved (nothing is said while it is not); a
// feature paused and resumed live is a line each, by whom.
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Runner } from 'graphile-worker';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayActions } from '../../src/actions/queue.js';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import type { DecisionPage } from '../../src/client/dashboard.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { pauseFeature, resumeFeature } from '../../src/engine/match/pauses.js';
import { advanceStoreClock, storeClock } from '../../src/engine/wiring/clock.js';
import { decisionsRoutes } from '../../src/server/api/decisions.js';
import {
  enqueue,
  makeEnv,
  makeProject,
  newRun,
  startWorker,
  waitForRun,
} from '../actions/setup.js';
import { useDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { tempProject } from '../harness/project.js';
import { waitFor } from '../harness/wait.js';

const db = useDatabase();
let sql: postgres.Sql;
let hooks: Recorder;
let runner: Runner;
let clock: Awaited<ReturnType<typeof storeClock>>;
let cwd: string;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  sql = postgres(db.url, { onnotice: () => {}, max: 6 });
  hooks = await startRecorder();
  const project = await makeProject(`
webhooks:
  secret: \${WEBHOOK_SECRET}
  timeout_ms: 1000
actions:
  max_attempts: 2
  backoff_base_ms: 50
  backoff_max_ms: 100
`);
  // The engine's clock as nudge start has it: real time plus the store's offset.
  clock = await storeClock(sql);
  runner = await startWorker(db.url, { ...makeEnv(sql, project), clock });
  cwd = await tempProject({ 'nudge.yaml': '' }, 'nudge-logs-');
});

afterAll(async () => {
  await runner?.stop();
  await hooks?.close();
  await sql?.end();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

async function logs(...args: string[]) {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  const code = await run(['logs', ...args], m.io);
  expect(code, m.stderr()).toBe(0);
  return m.stdout().split('\n');
}

/** A webhook run of `feature` to a path of its own on the receiver, answered by `status`. */
async function webhookRun(feature: string, status: number) {
  const key = `${feature}:run`;
  const route = `/hooks/${feature}`;
  hooks.route('POST', route, { status, body: status === 200 ? 'ok' : 'media service down' });
  await enqueue(sql, [
    {
      ...newRun(key, { kind: 'webhook', params: { url: `${hooks.url}${route}`, method: 'POST' } }),
      feature,
    },
  ]);
  return { key, answer: (next: number) => hooks.route('POST', route, { status: next }) };
}

const LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}/;

describe('nudge logs', () => {
  it('says which attempts a replay made, and which replay', async () => {
    const upload = await webhookRun('uploads', 503);
    expect(await waitForRun(sql, upload.key, ['dead', 'succeeded'])).toMatchObject({
      status: 'dead',
      attempts: 2,
    });
    upload.answer(200);
    expect(await replayActions(sql, { key: upload.key })).toBe(1);
    await waitForRun(sql, upload.key, ['succeeded']);
    // Replayed again by key, forced (a run that succeeded): one failure, then delivered.
    hooks.failNext(1, 503);
    expect(await replayActions(sql, { key: upload.key, force: true })).toBe(1);
    expect(await waitForRun(sql, upload.key, ['dead', 'succeeded'])).toMatchObject({
      status: 'succeeded',
      attempts: 2,
    });

    const lines = await logs('--feature', 'uploads');
    const attempts = lines
      .filter((line) => /\sattempt\s/.test(line))
      .map((line) => line.replace(/^.*?\sattempt\s+/, ''));
    expect(attempts).toEqual([
      expect.stringMatching(/^webhook attempt 1 failed: webhook answered 503: .*; retry in/),
      expect.stringMatching(/^webhook attempt 2 failed: .*; dead \(no attempts left of 2\)$/),
      'replayed: webhook attempt 1 succeeded',
      expect.stringMatching(/^replayed 2 times: webhook attempt 1 failed: webhook answered 503/),
      'replayed 2 times: webhook attempt 2 succeeded',
    ]);
    // The clock is on real time: every line is a decision, no note.
    for (const line of lines) expect(line).toMatch(LINE);
    // Older lines left out are said to be.
    const two = await logs('--feature', 'uploads', '--limit', '2');
    expect(two[0]).toBe(
      'Showing the last 2 lines: --limit 10 shows more; --since, --feature, --contact and --outcome narrow them.',
    );
    expect(two.slice(1).filter(Boolean)).toEqual(lines.filter(Boolean).slice(-2));

    const json = (await logs('--feature', 'uploads', '--json')).map((line) => JSON.parse(line));
    expect(json.filter((row) => row.outcome === 'attempt').map((row) => row.replay)).toEqual([
      0, 0, 1, 2, 2,
    ]);
    // The dashboard's Logs page reads the same from /v1/decisions, newest first.
    const page = (await (
      await decisionsRoutes({ sql }).request('/?feature=uploads&outcome=attempt')
    ).json()) as DecisionPage;
    expect(page.items.map((item) => item.attempt?.replay)).toEqual([2, 2, 1, 0, 0]);
  });

  it('-f follows, as tail -f does: prints the decisions made after it started, until Ctrl-C', async () => {
    // As `nudge backfill` tells a user to run it: the built bin, in a terminal.
    const child = spawn('node', [path.resolve('dist/cli/main.js'), 'logs', '-f'], {
      cwd,
      env: { ...process.env, DATABASE_URL: db.url, CI: 'true' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await waitFor(() => stdout.includes('Following:') || undefined, 'the follow line', 30_000);
      expect(stdout).toContain(
        'Following: new decisions print here as they are made. Ctrl-C stops.',
      );
      const made = await webhookRun('follow', 200);
      await waitForRun(sql, made.key, ['succeeded']);
      // Printed after the follow line: made after it started.
      const followed = () => stdout.slice(stdout.indexOf('Following:'));
      await waitFor(
        () => /\sfollow\s.*\sattempt\s+webhook attempt 1 succeeded/.test(followed()) || undefined,
        'the attempt printed by the running logs -f',
        30_000,
      );
    } finally {
      child.kill('SIGINT');
    }
    expect(await exit, stderr).toBe(0);
    expect(stderr).toBe('');
  });

  it('says the times are the engine clock’s once nudge clock has moved it, once', async () => {
    await advanceStoreClock(sql, 2 * 86_400_000);
    await clock.refresh();
    const order = await webhookRun('orders', 200);
    await waitForRun(sql, order.key, ['succeeded']);

    const lines = await logs();
    expect(lines[0]).toBe(
      "Times are the engine clock's as it stood when each line was decided: it is now 2 days ahead of real time (nudge clock).",
    );
    for (const line of lines.slice(1)) expect(line).toMatch(LINE);
    const ordered = lines.find((line) => line.includes('orders'))!;
    const stamped = new Date(`${ordered.slice(0, 19).replace(' ', 'T')}Z`).getTime();
    expect(stamped).toBeGreaterThan(Date.now() + 86_400_000);
    const lastHour = await logs('--since', '1h');
    expect(lastHour[0]).toMatch(/; --since 1h counts back from the engine clock's now\.$/);
    // The engine's last hour: the order decided since the move, not the lines
    // decided minutes ago before it (stamped then, two days behind its now).
    expect(lastHour.some((line) => line.includes('orders'))).toBe(true);
    for (const line of lastHour.slice(1)) {
      expect(new Date(`${line.slice(0, 19).replace(' ', 'T')}Z`).getTime()).toBeGreaterThan(
        Date.now() + 86_400_000,
      );
    }
    // Nothing shown: nothing said of times.
    await sql`insert into nudge_engine.contacts (email) values ('quiet@example.com')`;
    expect(await logs('--contact', 'quiet@example.com')).toEqual([
      'No decisions for contact quiet@example.com.',
    ]);
    // JSON lines only, each stamped as stored.
    for (const line of await logs('--json')) expect(JSON.parse(line)).toHaveProperty('at');
    // A live pause is stamped at real time: said, above lines on the engine's.
    await pauseFeature(sql, 'orders', 'cli');
    try {
      expect((await logs())[0]).toMatch(
        /^paused live: orders \(cli, \d{4}-\d\d-\d\d \d\d:\d\d real time\) — nudge resume <feature>$/,
      );
    } finally {
      await resumeFeature(sql, 'orders', 'cli');
    }

    // Back on real time: lines stamped ahead of it still get the note, others none.
    await sql`update nudge_engine.clock set offset_ms = 0`;
    expect((await logs())[0]).toBe(
      "Times are the engine clock's as it stood when each line was decided: lines stamped after real time now were decided while nudge clock had moved it ahead.",
    );
    for (const line of await logs('--feature', 'uploads')) expect(line).toMatch(LINE);
  });

  it('keeps its columns with a long feature name or address, and says a run’s error unnested', async () => {
    const email = 'ada.lovelace@analytical-engine.example';
    const [contact] = await sql<{ id: string }[]>`
      insert into nudge_engine.contacts (email) values (${email}) returning id`;
    const key = 'order-confirmation:ada:email';
    await sql`insert into nudge_engine.action_runs (key, feature, contact_id, kind, params, status, last_error)
              values (${key}, 'order-confirmation', ${contact!.id}, 'email', '{}', 'skipped',
                      'unsubscribed (topic general)')`;
    await sql`insert into nudge_engine.decisions (feature, contact_id, outcome, reason, detail) values
      ('order-confirmation', ${contact!.id}, 'action', 'stage confirmed: email queued', ${sql.json({ kind: 'email', key })}),
      ('x', ${contact!.id}, 'entered', 'entered stage s', null)`;

    const lines = (await logs('--contact', email)).filter((line) => LINE.test(line));
    expect(lines).toHaveLength(2);
    const [queued, entered] = lines as [string, string];
    expect(queued).toMatch(/ order-confirmation ada\.lovelace@analytical-engine\.example action /);
    expect(queued).toMatch(
      / action +stage confirmed: email queued → skipped: unsubscribed \(topic general\)$/,
    );
    // One column each: the contact and the outcome start where the other line's do.
    expect(entered.indexOf(email)).toBe(queued.indexOf(email));
    expect(entered.indexOf('entered ')).toBe(queued.indexOf('action '));
  });

  it('shows a feature paused and resumed live, once each, by whom, in its place among the lines', async () => {
    // The worker's clock as the store has it again (the test before put it back on real time).
    await clock.refresh();
    await pauseFeature(sql, 'signups', 'dashboard');
    await pauseFeature(sql, 'signups', 'cli');
    const between = await webhookRun('signups', 200);
    await waitForRun(sql, between.key, ['succeeded']);
    await resumeFeature(sql, 'signups', 'api key ci');
    await resumeFeature(sql, 'signups', 'cli');

    const lines = await logs('--feature', 'signups');
    expect(
      lines.every((line) => LINE.test(line)),
      lines.join('\n'),
    ).toBe(true);
    const said = lines.map((line) => line.slice(21).replace(/\s+/g, ' '));
    expect(said).toEqual([
      'signups - paused by dashboard: its events are skipped until it is resumed',
      expect.stringMatching(/^signups - attempt webhook attempt 1 succeeded$/),
      'signups - resumed by api key ci: its events are no longer skipped as paused',
    ]);
    // Nothing paused now: no line above them says so.
    expect(lines.join('\n')).not.toContain('paused live');
    // --outcome narrows them to one kind of line.
    const resumed = await logs('--feature', 'signups', '--outcome', 'resumed');
    expect(resumed.map((line) => line.slice(21).replace(/\s+/g, ' '))).toEqual([
      'signups - resumed by api key ci: its events are no longer skipped as paused',
    ]);
  });

  it('refuses an --outcome it does not know, naming those it does (exit 2)', async () => {
    const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    expect(await run(['logs', '--outcome', 'sent'], m.io)).toBe(2);
    expect(m.stderr()).toContain('--outcome "sent": expected one of matched, skipped,');
    expect(m.stdout()).toBe('');
  });

  it('refuses a --contact no contact is and no decision names, as the API does (exit 1)', async () => {
    const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    expect(await run(['logs', '--contact', 'grace'], m.io)).toBe(1);
    expect(m.stderr().split('\n').slice(0, 2)).toEqual([
      '✗ no contact "grace"',
      '  hint: give a whole email, an external id or a contact id',
    ]);
    expect(m.stdout()).toBe('');
    // Whole, in any case: a contact there is with no decisions is just quiet.
    await sql`insert into nudge_engine.contacts (email) values ('grace@example.com')`;
    expect(await logs('--contact', 'Grace@Example.com')).toEqual([
      'No decisions for contact Grace@Example.com.',
    ]);
  });
});
