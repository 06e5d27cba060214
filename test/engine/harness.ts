// An engine on a test database, stepped by hand: feature files written to a
// temp project, capture deployed, the engine store migrated, a manual clock,
// and functions that pump the outbox and process every lane until idle.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type postgres from 'postgres';
import type { NewActionRun } from '../../src/actions/types.js';
import { deploy } from '../../src/capture/deploy.js';
import { pumpOnce } from '../../src/capture/transports/outbox/pump.js';
import { buildCaptureObjects } from '../../src/capture/triggers.js';
import type { LoadedConfig } from '../../src/config/load.js';
import { loadConfig } from '../../src/config/load.js';
import { parseYaml } from '../../src/config/yaml.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { makeRouter } from '../../src/engine/intake/router.js';
import { processTimers } from '../../src/engine/journeys/timers.js';
import type { ProcessContext } from '../../src/engine/lanes/context.js';
import { processLanes } from '../../src/engine/lanes/process.js';
import { FeatureSet } from '../../src/engine/match/features.js';
import { manualClock } from '../../src/engine/wiring/clock.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { checkFeatures } from '../../src/features/check.js';
import { loadFeatures, parseFeature } from '../../src/features/load.js';
import { makeLog } from '../../src/log.js';
import { readCatalog } from '../../src/source/catalog.js';
import type { TestDatabase } from '../harness/db.js';

export interface TestEngine {
  clock: ReturnType<typeof manualClock>;
  features: FeatureSet;
  ctx: ProcessContext;
  /** Actions enqueued so far (when no real queue is given). */
  queued: NewActionRun[];
  /** Pumps the outbox and processes all lanes and due timers until nothing is left. */
  settle(): Promise<void>;
  /** Runs these feature files from now on, as a deploy does (a new compiled set). */
  redeploy(...files: string[]): Promise<FeatureSet>;
  decisions(
    feature?: string,
  ): Promise<
    { feature: string | null; outcome: string; reason: string; contact_id: string | null }[]
  >;
}

export async function testEngine(
  db: TestDatabase,
  files: Record<string, string>,
  options: {
    config?: string;
    partitions?: number;
    enqueue?: ProcessContext['enqueueActions'];
  } = {},
): Promise<TestEngine> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nudge-engine-'));
  await mkdir(path.join(dir, 'nudge/features'), { recursive: true });
  await writeFile(path.join(dir, 'nudge.yaml'), options.config ?? '');
  for (const [name, text] of Object.entries(files)) {
    await writeFile(path.join(dir, 'nudge/features', name), text);
  }
  const project = await loadConfig({ cwd: dir, env: { DATABASE_URL: db.url } });
  const loaded = await loadFeatures(project.featuresDir, project.env, dir);
  const catalog = await readCatalog(db.sql);
  await deploy(
    db.sql,
    buildCaptureObjects(checkFeatures(loaded, catalog, project.config.contacts.attributes)),
  );
  await migrateEngine(db.sql, db.url);
  const clock = manualClock(new Date('2026-03-01T09:00:00Z'));
  const features = new FeatureSet(loaded, catalog, project.config.contacts.attributes);
  const partitions = options.partitions ?? 2;
  const route = makeRouter(features, partitions);
  const queued: NewActionRun[] = [];
  const ctx: ProcessContext = {
    engine: db.sql,
    features,
    clock,
    enqueueActions:
      options.enqueue ??
      (async (_tx, runs) => {
        queued.push(...runs);
      }),
    ...(project.config.actions.frequency_cap
      ? { frequencyCap: { max: project.config.actions.frequency_cap.max, perMs: 86_400_000 } }
      : {}),
  };
  return {
    clock,
    features,
    ctx,
    queued,
    async redeploy(...files) {
      const parsed = files.map((text, i) =>
        parseFeature(parseYaml(text, `f${i}.yaml`, {}), `f${i}.yaml`),
      );
      ctx.features = new FeatureSet(parsed, await readCatalog(db.sql));
      return ctx.features;
    },
    async settle() {
      for (let round = 0; round < 100; round++) {
        let work = await pumpOnce({ source: db.sql, engine: db.sql, route });
        for (let p = 0; p < partitions; p++) work += (await processLanes(ctx, [p])).count;
        work += await processTimers(ctx);
        if (work === 0) return;
      }
      throw new Error('the engine did not settle in 100 rounds');
    },
    async decisions(feature) {
      return db.sql`
        select feature, outcome, reason, contact_id::text as contact_id from nudge_engine.decisions
         where ${feature ? db.sql`feature = ${feature}` : db.sql`true`} order by id`;
    },
  };
}

export async function signUp(
  sql: postgres.Sql,
  email: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const [user] = await sql<{ id: string }[]>`
    insert into auth.users (id, email, raw_user_meta_data, created_at, updated_at)
    values (gen_random_uuid(), ${email}, ${sql.json((extra as postgres.JSONValue) ?? {})}, now(), now())
    returning id`;
  return user!.id;
}

/** A feature file: every signed-up user is a contact with `welcomed: true`. */
export const WELCOME_FEATURE = `name: welcome
trigger: { table: auth.users, on: insert }
contact: { id: new.id, email: new.email }
stages:
  - name: welcomed
    do: [{ set: { welcomed: true } }]
`;

/** A feature file on public.orders (user_id, total): an order of 100 or more sets `big_spender`. */
export const BIG_ORDER_FEATURE = `name: big-order
trigger: { table: public.orders, on: insert, when: { new.total: gte.100 } }
contact: { id: new.user_id }
stages:
  - name: thanked
    do: [{ set: { big_spender: true } }]
`;

/** `nudge start` in-process without HTTP, polling fast, its log lines kept in `logged`. */
export function launchLogged(project: LoadedConfig, logged: string[]): Promise<Running> {
  return launch(project, {
    http: false,
    log: makeLog({ write: (line) => logged.push(line) }),
    idleMs: 20,
  });
}
