// Issue 18.5: Nudge run from a second folder or machine, with another master
// key, stops before it takes any work — not hundreds of events later at the
// first one that needs a secret — with the message and hint a secret that
// cannot be decrypted always had; `nudge doctor` reports the same.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../src/capture/deploy.js';
import { listRowsTables } from '../../src/capture/state.js';
import { buildCaptureObjects } from '../../src/capture/triggers.js';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/load.js';
import { keyFilePath } from '../../src/db/secrets.js';
import { launch } from '../../src/engine/wiring/launch.js';
import { checkFeatures } from '../../src/features/check.js';
import { loadFeatures } from '../../src/features/load.js';
import { silentLog } from '../../src/log.js';
import { readCatalog } from '../../src/source/catalog.js';
import { useDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { tempProject } from '../harness/project.js';
import { waitFor } from '../harness/wait.js';

const db = useDatabase();
const KEY_A = randomBytes(32).toString('base64');
const KEY_B = randomBytes(32).toString('base64');
const ORDERS = 5;
const HINT =
  'use the master key it was stored with: copy the .nudge/secret.key of the project that stored it (the one whose nudge dev or nudge start ran first on this store) beside this nudge.yaml, or set NUDGE_SECRET_KEY to it; if that key is lost: nudge secret reset (the secrets are made anew, and senders need the new ones)';
let recorder: Recorder;
const folders: string[] = [];

/** A project folder: nudge.yaml and one feature that posts each paid order to the recorder. */
async function projectFolder(name: string): Promise<string> {
  const cwd = await tempProject(
    {
      'nudge.yaml': 'server: { port: 0 }\n',
      'nudge/features/order-paid.yaml': `name: order-paid
trigger: { table: public.orders, on: insert, when: { new.status: eq.paid } }
contact: { id: new.user_id }
stages:
  - name: notified
    do:
      - webhook: { url: "${recorder.url}/paid", body: { order: "{{ new.id }}" } }
`,
    },
    `nudge-${name}-`,
  );
  folders.push(cwd);
  return cwd;
}

const envWith = (key?: string) => ({
  DATABASE_URL: db.url,
  ...(key ? { NUDGE_SECRET_KEY: key } : {}),
});

async function nudge(argv: string[], cwd: string, key?: string) {
  const { io, stdout, stderr } = memoryIo({ cwd, env: envWith(key) });
  const code = await run(argv, io);
  return { code, out: stdout(), err: stderr(), lines: stdout().split('\n') };
}

/** Captured rows waiting in the outbox (the JSON log and the typed rows tables), and what the engine holds. */
async function counts() {
  let outbox = 0;
  for (const { name } of await listRowsTables(db.sql)) {
    const [row] = await db.sql<
      { n: number }[]
    >`select count(*)::int as n from nudge.${db.sql(name)}`;
    outbox += row!.n;
  }
  const [row] = await db.sql<{ log: number; inbox: number; runs: number }[]>`
    select (select coalesce(sum(row_count), 0)::int from nudge.event_log) as log,
           (select count(*)::int from nudge_engine.inbox) as inbox,
           (select count(*)::int from nudge_engine.action_runs) as runs`;
  return { outbox: outbox + row!.log, inbox: row!.inbox, runs: row!.runs };
}

let first: string;

beforeAll(async () => {
  recorder = await startRecorder(() => ({ status: 200, body: { ok: true } }));
  await db.sql`create table public.orders (id bigserial primary key, user_id uuid references auth.users (id),
    status text not null default 'new')`;
  first = await projectFolder('first');
  const project = await loadConfig({ cwd: first, env: envWith(KEY_A) });
  const features = await loadFeatures(project.featuresDir, project.env, first);
  await deploy(db.sql, buildCaptureObjects(checkFeatures(features, await readCatalog(db.sql))));
  // The first folder's `nudge start` stores the ingest secrets under key A.
  const running = await launch(project, { http: true, log: silentLog, idleMs: 20 });
  await running.stop();
  const [user] =
    await db.sql`insert into auth.users (id, email) values (gen_random_uuid(), 'ada@example.com') returning id`;
  for (let i = 0; i < ORDERS; i++)
    await db.sql`insert into public.orders (user_id, status) values (${user!.id}, 'paid')`;
});

afterAll(async () => {
  await recorder?.close();
  for (const cwd of folders) await rm(cwd, { recursive: true, force: true });
});

describe('a second folder with another master key', () => {
  it('nudge start fails before it consumes a single outbox row', async () => {
    const stored = await db.sql`select name from nudge_engine.secrets order by name`;
    expect(stored.map((r) => r.name)).toEqual(['ingest', 'ingest-shared', 'master-key-check']);
    expect(await counts()).toEqual({ outbox: ORDERS, inbox: 0, runs: 0 });

    const second = await projectFolder('second');
    const { code, err } = await nudge(['start'], second, KEY_B);
    expect(err.split('\n')).toEqual([
      '✗ secret "ingest" cannot be decrypted: wrong master key, or the row was altered (GCM tag mismatch); nor can "ingest-shared", "master-key-check"',
      `  hint: ${HINT}`,
    ]);
    expect(code).toBe(1);
    expect(await counts()).toEqual({ outbox: ORDERS, inbox: 0, runs: 0 });
    expect(recorder.requests).toHaveLength(0);
  });

  it('with no key at all, it fails the same way and does not make up a key', async () => {
    const bare = await projectFolder('bare');
    const { code, err } = await nudge(['start'], bare);
    expect(err.split('\n')).toEqual([
      `✗ secret "ingest" cannot be decrypted: no master key here (NUDGE_SECRET_KEY is not set and ${keyFilePath(bare)} does not exist)`,
      `  hint: ${HINT}`,
    ]);
    expect(code).toBe(1);
    expect(existsSync(keyFilePath(bare))).toBe(false);
    expect(await counts()).toEqual({ outbox: ORDERS, inbox: 0, runs: 0 });
  });

  it('nudge doctor shows ✗ with the hint there, and ✓ with the right key', async () => {
    const second = await projectFolder('doctor');
    const wrong = await nudge(['doctor'], second, KEY_B);
    const at = wrong.lines.findIndex((line) => line.startsWith('✗ Secrets'));
    expect(wrong.lines.slice(at, at + 2)).toEqual([
      '✗ Secrets            secret "ingest" cannot be decrypted: wrong master key, or the row was altered (GCM tag mismatch); nor can "ingest-shared", "master-key-check"',
      `  fix: ${HINT}`,
    ]);
    expect(wrong.code).toBe(1);

    const right = await nudge(['doctor'], second, KEY_A);
    expect(right.lines).toContain(
      "✓ Secrets            3 stored secrets decrypt with this project's master key",
    );
    expect(right.out).not.toMatch(/✗/);
  });

  it('with the key the secrets were stored with, the engine takes the same rows', async () => {
    const project = await loadConfig({ cwd: first, env: envWith(KEY_A) });
    const running = await launch(project, { http: true, log: silentLog, idleMs: 20 });
    try {
      await waitFor(
        () => (recorder.requests.length >= ORDERS ? true : undefined),
        'every paid order posted',
      );
      expect(recorder.requests).toHaveLength(ORDERS);
      expect((await counts()).outbox).toBe(0);
    } finally {
      await running.stop();
    }
  });

  it('nudge secret makes no key where secrets are stored under another, and reset starts them anew', async () => {
    const bare = await projectFolder('secret');
    // Before, a key was made here and the message then blamed the stored row.
    const refused = await nudge(['secret', 'ingest'], bare);
    expect(refused.err.split('\n')).toEqual([
      `✗ secret "ingest" cannot be decrypted: no master key here (NUDGE_SECRET_KEY is not set and ${keyFilePath(bare)} does not exist)`,
      `  hint: ${HINT}`,
    ]);
    expect(refused.code).toBe(1);
    expect(existsSync(keyFilePath(bare))).toBe(false);
    // Without a terminal, reset asks for --yes and deletes nothing.
    const unasked = await nudge(['secret', 'reset'], bare);
    expect(unasked.code).toBe(1);
    expect(unasked.err).toContain(
      'secret reset needs confirmation and there is no terminal to ask',
    );
    expect((await db.sql`select name from nudge_engine.secrets`).length).toBe(3);

    const reset = await nudge(['secret', 'reset', '--yes'], bare);
    expect(reset.code).toBe(0);
    expect(reset.lines.slice(0, 2)).toEqual([
      'Stored secrets: ingest, ingest-shared, master-key-check.',
      'Deleted ingest, ingest-shared, master-key-check. Restart every nudge start and worker (they read the',
    ]);
    const made = await nudge(['secret', 'ingest'], bare);
    expect(made.code).toBe(0);
    expect(made.out).toMatch(/^whsec_/);
    expect(existsSync(keyFilePath(bare))).toBe(true);
    // Under the new key, doctor's Secrets line passes in this folder.
    const doctor = await nudge(['doctor'], bare);
    expect(doctor.lines).toContain(
      "✓ Secrets            1 stored secret decrypts with this project's master key",
    );
  });

  // A process that stores no secret of its own (nudge worker, no server) used
  // to run with a key of its own, sign email links with it, and leave the
  // mismatch to the first unsubscribe. The first process's key is now the
  // store's: the second, with another, is refused at start.
  it("an engine process with another key than the first one's is refused at start, even before any secret was used", async () => {
    await db.sql`delete from nudge_engine.secrets`;
    // A start refused on its feature files (the wrong folder, say) claims nothing.
    const broken = await projectFolder('broken');
    await writeFile(path.join(broken, 'nudge/features/order-paid.yaml'), 'name: [\n');
    const refusedFiles = await launch(await loadConfig({ cwd: broken, env: envWith(KEY_A) }), {
      http: false,
      log: silentLog,
    }).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(refusedFiles).toBeDefined();
    expect(await db.sql`select name from nudge_engine.secrets`).toEqual([]);
    const worker = await loadConfig({ cwd: await projectFolder('worker'), env: envWith(KEY_B) });
    const first = await launch(worker, { http: false, log: silentLog, idleMs: 20 });
    await first.stop();
    const server = await loadConfig({ cwd: await projectFolder('server'), env: envWith(KEY_A) });
    const refused = await launch(server, { http: true, log: silentLog, idleMs: 20 }).then(
      async (running) => {
        await running.stop();
        return undefined;
      },
      (error: Error) => error,
    );
    expect(refused?.message).toBe(
      'secret "master-key-check" cannot be decrypted: wrong master key, or the row was altered (GCM tag mismatch)',
    );
  });
});
