// `nudge dev` started again on the same demo: its stand-in services listen
// where they did, so the dead webhook of the last start, replayed (the URL
// it was sent to is stored with its run), is delivered. And a project whose
// nudge.yaml names a separate engine store (engine.database_url) keeps its
// state in the demo database under nudge dev, saying so: the story's writes
// and clock moves stay out of that store.
import { chmod, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { freePort } from '../../src/dev/embedded.js';
import { STAND_INS_PORT_FILE } from '../../src/dev/receiver.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';

const DEMO = fileURLToPath(new URL('../../examples/demo/', import.meta.url));
/** A separate engine store that nudge dev must leave alone. */
const separate = useDatabase();
let cwd = '';
let dataDir = '';

beforeAll(async () => {
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-dev-restart-'));
  await chmod(cwd, 0o755); // the embedded server may run as another user than root
  dataDir = path.join(cwd, 'pg');
  await cp(path.join(DEMO, 'nudge'), path.join(cwd, 'nudge'), { recursive: true });
  const yaml = await readFile(path.join(DEMO, 'nudge.yaml'), 'utf8');
  await writeFile(
    path.join(cwd, 'nudge.yaml'),
    `${yaml}engine:\n  database_url: ${separate.url}\n`,
  );
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

/** The stand-ins' URL, as the summary after the story names it. */
const standIns = (out: string) =>
  /the media service \(a stand-in on (http:\/\/127\.0\.0\.1:\d+)\) was down on purpose/.exec(
    out,
  )?.[1];

describe('nudge dev, started again', () => {
  let first = '';

  it('keeps its state in the demo database when nudge.yaml names a separate store', async () => {
    const m = memoryIo({ cwd, env: {} });
    const httpPort = await freePort();
    const code = await run(
      ['dev', '--once', '--data-dir', dataDir, '--http-port', String(httpPort)],
      m.io,
    );
    const out = m.stdout();
    expect(m.stderr()).toBe('');
    expect(code).toBe(0);
    // The dashboard where --http-port put it.
    expect(out).toMatch(new RegExp(`Dashboard: http://127\\.0\\.0\\.1:${httpPort}/`));
    expect(out).toContain('engine.database_url (postgres://postgres:***@127.0.0.1:');
    expect(out).toContain(
      "is not used: nudge dev keeps Nudge's state in the demo database, whose clock the story moves.",
    );
    expect(out).toContain('state in schema nudge_engine in the source database');
    // The story's outcomes are read where the engine keeps them.
    expect(out).toMatch(/→ welcome-drip: 2 emails sent/);
    expect(out).toContain('Clock    the engine is 2 days ahead of real time');
    expect(out).toContain("Actions  1 dead: the upload's webhook — the media service");
    // The commands for another terminal: one a line, each pasteable as it is.
    expect(out).toMatch(/from another terminal:\n {2}export DATABASE_URL="postgres:\/\/\S+"\n/);
    expect(out).toMatch(/^ {2}\S.* logs$/m);
    expect(out).toMatch(/^ {2}\S.* replay --feature upload-thumbnails$/m);
    expect(out).toMatch(/^ {2}\S.* clock advance 2d$/m);
    const [store] = await separate.sql<{ n: number }[]>`
      select count(*)::int as n from pg_namespace where nspname in ('nudge_engine', 'nudge_worker')`;
    expect(store!.n).toBe(0);

    first = standIns(out) ?? '';
    expect(first).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const kept = await readFile(path.join(dataDir, STAND_INS_PORT_FILE), 'utf8');
    expect(kept.trim()).toBe(new URL(first).port);
  }, 180_000);

  it('has the stand-ins where they were, so a replay of the last start’s dead webhook reaches them', async () => {
    expect(first).not.toBe('');
    const m = memoryIo({ cwd, env: {} });
    const running = run(['dev', '--data-dir', dataDir], m.io);
    let demo: postgres.Sql | undefined;
    try {
      await waitFor(
        () => (m.stdout().includes('Watching:') ? true : undefined),
        () => `the story to end: ${m.stdout()}${m.stderr()}`,
        150_000,
      );
      expect(m.stderr()).toBe('');
      expect(m.stdout()).not.toContain("The stand-ins' port");
      expect(standIns(m.stdout())).toBe(first);
      // The first start's dead webhook is still dead: counted apart from this start's.
      expect(m.stdout()).toContain(
        "Actions  2 dead: this start's upload webhook and 1 left from an earlier start",
      );
      expect(m.stdout()).toContain(
        'press Replay there and this terminal shows the deliveries arriving, below (← media service received …).',
      );
      expect(m.stdout()).toContain('Clock    the engine is 4 days ahead of real time');
      // Said where the story moves it, with where it stands now.
      expect(m.stdout()).toContain(
        'the engine clock moved 2 days ahead (every start does: 4 days ahead of real time now; --fresh resets it)',
      );

      const url = /psql "(\S+)"/.exec(m.stdout())![1]!;
      demo = postgres(url, { onnotice: () => {}, max: 1 });
      // The first start's dead webhook, sent to the URL the stand-ins had then.
      const [dead] = await demo<{ key: string; url: string }[]>`
        select key, params ->> 'url' as url from nudge_engine.action_runs
         where feature = 'upload-thumbnails' and status = 'dead' order by id limit 1`;
      expect(dead!.url).toBe(`${first}/thumbnails`);

      // Replayed from another terminal, on the demo database.
      const other = memoryIo({ cwd: tmpdir(), env: { DATABASE_URL: url } });
      expect(await run(['replay', '--key', dead!.key], other.io), other.stderr()).toBe(0);
      await waitFor(
        () =>
          m
            .stdout()
            .includes(`media service received POST /thumbnails: 200 webhook-id ${dead!.key}`)
            ? true
            : undefined,
        () => `the replay to be delivered: ${m.stdout()}`,
        30_000,
      );
      // The stand-in has the request; the run is marked when its answer is back.
      const status = async () =>
        (
          await demo!<{ status: string }[]>`
            select status from nudge_engine.action_runs where key = ${dead!.key}`
        )[0]?.status;
      await waitFor(
        async () => ((await status()) === 'succeeded' ? true : undefined),
        () => 'the replayed run marked succeeded',
        30_000,
      );
      expect(await status()).toBe('succeeded');

      // A feature deployed from another terminal: nudge dev says it read it.
      await writeFile(
        path.join(cwd, 'nudge/features/said-hello.yaml'),
        `name: said-hello
trigger: { table: auth.users, on: insert }
contact: { id: new.id }
stages:
  - name: greeted
    do: [{ set: { said_hello: true } }]
`,
      );
      const deployer = memoryIo({ cwd, env: { DATABASE_URL: url } });
      expect(await run(['deploy', '--yes'], deployer.io), deployer.stderr()).toBe(0);
      // Its capture was there already (auth.users insert): a deployment all the same.
      expect(deployer.stdout()).toMatch(/^ {2}~ feature list +said-hello added: /m);
      const said = await waitFor(
        () =>
          m
            .stderr()
            .split('\n')
            .find((line) => line.includes('feature files read again')),
        () => `the deployment read, on stderr: ${deployer.stdout()} ${m.stdout().slice(-1500)}`,
        30_000,
      );
      expect(said).toMatch(
        /^\d\d:\d\d:\d\d info {2}deployment #\d+: feature files read again; \d+ features run \(\+said-hello\) deployment=\d+$/,
      );
    } finally {
      await demo?.end();
      // Ctrl-C, as nudge dev hears it.
      process.emit('SIGHUP', 'SIGHUP');
      expect(await running).toBe(0);
    }
  }, 240_000);
});
