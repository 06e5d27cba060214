// What `nudge backfill` and `nudge backtest` start from: one feature as it is
// on disk, the engine store, the user's database and its live schema,
// released in `finally`. A backtest or a dry run writes nothing, not even
// the engine store's schema: it reads the store as it finds it — refused
// when it is behind this version of Nudge, empty (when the caller can read
// it so) when Nudge never ran there. A session that writes (a real backfill)
// brings a store that is behind up to date, and makes a missing one only
// when it goes on to write (`migrateStore`, once the user has said yes).
import type postgres from 'postgres';
import type { LoadedConfig } from '../config/load.js';
import { type EngineStore, openEngineStore, sourceBeside } from '../db/engine.js';
import { ENGINE_SCHEMA, engineMigrations, migrateEngine } from '../db/migrate.js';
import { NudgeError } from '../errors.js';
import { type Feature, loadFeatures, noSuchFeature } from '../features/load.js';
import { type Catalog, readCatalog } from '../source/catalog.js';

export interface FeatureSession {
  project: LoadedConfig;
  /** Every feature on disk, drafts included. */
  features: Feature[];
  feature: Feature;
  store: EngineStore;
  /**
   * Nudge has never run on the engine store (it has no schema nudge_engine):
   * no kept events, no contact book, no engine clock, nothing backfilled.
   * Only a session that writes or was opened with `whenMissing: 'empty'`
   * gets one; it must not query the store until `migrateStore` made it.
   */
  storeMissing: boolean;
  /** Makes the engine store or brings it up to date (a session that writes, before it does). */
  migrateStore(): Promise<void>;
  source: postgres.Sql;
  catalog: Catalog;
}

export interface SessionOptions {
  /**
   * 'read' (the default: a backtest, a dry run) migrates nothing and writes
   * nothing to the store; 'write' (a real backfill) brings a store that is
   * behind up to date at once, and leaves a missing one to `migrateStore`.
   */
  store?: 'read' | 'write';
  /**
   * A read-only session on a store Nudge never ran on: 'empty' when the
   * caller reads it as empty (storeMissing), else refused with a clear error.
   * A session that writes always gets storeMissing.
   */
  whenMissing?: 'refuse' | 'empty';
}

/** The feature of this project named `name`; a clear error listing the others when there is none. */
export function findFeature(features: Feature[], name: string | undefined, dir: string): Feature {
  const feature = features.find((f) => f.name === name);
  if (feature) return feature;
  throw noSuchFeature(features, name, dir);
}

export async function withFeatureSession<T>(
  project: LoadedConfig,
  name: string | undefined,
  fn: (session: FeatureSession) => Promise<T>,
  options: SessionOptions = {},
): Promise<T> {
  const features = await loadFeatures(project.featuresDir, project.env, project.cwd);
  const feature = findFeature(features, name, project.featuresDir);
  const writes = options.store === 'write';
  const store = await openEngineStore(project, { max: 4, migrate: false });
  try {
    const state = await storeState(store);
    const storeMissing = !state.exists;
    if (storeMissing && !writes && options.whenMissing !== 'empty') throw neverRan(store);
    if (state.pending.length && !writes) throw behind(store, state.pending);
    if (state.pending.length) await migrateEngine(store.sql, store.url);
    const migrateStore = async () => {
      await migrateEngine(store.sql, store.url);
    };
    const beside = await sourceBeside(store, { readOnly: project.config.access === 'read-only' });
    try {
      const source = beside.sql;
      const catalog = await readCatalog(source);
      return await fn({
        project,
        features,
        feature,
        store,
        storeMissing,
        migrateStore,
        source,
        catalog,
      });
    } finally {
      await beside.close();
    }
  } finally {
    await store.close();
  }
}

/**
 * Where a store opened without migrating stands: whether Nudge ever ran there
 * (schema nudge_engine), and the migrations this version knows that an
 * existing one lacks.
 */
async function storeState(
  store: EngineStore,
): Promise<{ exists: boolean; pending: { version: number; name: string }[] }> {
  const [found] = await store.sql<{ schema: boolean; migrations: boolean }[]>`
    select to_regnamespace(${ENGINE_SCHEMA}) is not null as schema,
           to_regclass(${`${ENGINE_SCHEMA}.migrations`}) is not null as migrations`;
  if (!found?.schema) return { exists: false, pending: [] };
  const applied = new Set(
    found.migrations
      ? (await store.sql<{ version: number }[]>`select version from nudge_engine.migrations`).map(
          (r) => r.version,
        )
      : [],
  );
  return { exists: true, pending: engineMigrations().filter((m) => !applied.has(m.version)) };
}

/** A store behind this version, read without migrating: its tables may not be the ones the reads expect. */
function behind(store: EngineStore, pending: { version: number; name: string }[]): NudgeError {
  const names = pending.map((m) => `${String(m.version).padStart(3, '0')}_${m.name}`);
  return new NudgeError(
    `the engine store (${store.describe()}) is behind this version of Nudge: ${pending.length === 1 ? 'migration' : 'migrations'} ${names.join(', ')} not applied`,
    'run `nudge deploy` (or `nudge start`), which brings it up to date; a backtest or a dry run writes nothing, so it does not',
  );
}

function neverRan(store: EngineStore): NudgeError {
  const where = store.where === 'source' ? 'this database' : store.describe();
  return new NudgeError(
    `Nudge has not run on ${where} yet: there is no schema ${ENGINE_SCHEMA}, and this command writes nothing to make one`,
    '`nudge deploy` or `nudge start` makes it',
  );
}
