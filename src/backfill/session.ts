// What `nudge backfill` and `nudge backtest` start from: one feature as it is
// on disk, the engine store, the user's database and its live schema,
// released in `finally`.
import type postgres from 'postgres';
import type { LoadedConfig } from '../config/load.js';
import { type EngineStore, openEngineStore, sourceBeside } from '../db/engine.js';
import { type Feature, loadFeatures, noSuchFeature } from '../features/load.js';
import { type Catalog, readCatalog } from '../source/catalog.js';

export interface FeatureSession {
  project: LoadedConfig;
  /** Every feature on disk, drafts included. */
  features: Feature[];
  feature: Feature;
  store: EngineStore;
  source: postgres.Sql;
  catalog: Catalog;
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
): Promise<T> {
  const features = await loadFeatures(project.featuresDir, project.env, project.cwd);
  const feature = findFeature(features, name, project.featuresDir);
  const store = await openEngineStore(project, { max: 4 });
  try {
    const beside = await sourceBeside(store, { readOnly: project.config.access === 'read-only' });
    try {
      const source = beside.sql;
      const catalog = await readCatalog(source);
      return await fn({ project, features, feature, store, source, catalog });
    } finally {
      await beside.close();
    }
  } finally {
    await store.close();
  }
}
