// The capture a project needs now: its features checked against the live
// schema, the columns each reads, live sync, the transport and the excluded
// columns, merged into one object per (table, operation) by the transport. The one computation
// that plan, deploy, export, doctor and the engine's start-up check share, so
// that what they compare is what deploy would install.

import { rendererFor } from '../actions/render.js';
import { configErrorAt, type LoadedConfig } from '../config/load.js';
import { liveSyncNeeds } from '../contacts/live.js';
import { templateProblems } from '../email/templates.js';
import { type ConfigError, throwInFileOrder } from '../errors.js';
import { checkFeatures } from '../features/check.js';
import type { Feature } from '../features/load.js';
import { configErrorsIn } from '../features/problems.js';
import { readsOf } from '../features/reads.js';
import type { Catalog } from '../source/catalog.js';
import type { Sql } from '../source/connect.js';
import { formatTableName, parseTableName } from '../source/names.js';
import { didYouMean } from '../suggest.js';
import { withFeatures } from './features-deployed.js';
import { transportOf } from './transports/index.js';
import type { DesiredCaptures } from './transports/port.js';
import type { CaptureNeed } from './triggers.js';

export async function desiredCaptures(
  project: LoadedConfig,
  sql: Sql,
  features: Feature[],
  catalog: Catalog,
  options: {
    /**
     * Refuse an email action whose template has no file or does not parse
     * (default). Off where a missing template must not stop the work: an
     * AI draft names the template the user will write, and the engine's
     * start only compares capture with the deployment (a bad template
     * fails its own runs, not every feature).
     */
    templates?: boolean;
  } = {},
): Promise<DesiredCaptures> {
  const exclude = project.config.capture.exclude_columns;
  // nudge.yaml's problems here do not hide the features': one list of both.
  const excluded = excludedProblems(project, catalog);
  const renderer = rendererFor(project);
  const reads = await readsOf(features, renderer);
  const templates =
    options.templates === false ? {} : { templates: await templateProblems(features, renderer) };
  let checked: CaptureNeed[];
  try {
    checked = checkFeatures(features, catalog, project.config.contacts.attributes, {
      reads,
      exclude,
      email: project.config.email,
      supabase: project.supabase ?? null,
      ...templates,
    });
  } catch (error) {
    const found = configErrorsIn(error);
    if (!found || excluded.length === 0) throw error;
    throwInFileOrder([...excluded, ...found]);
    throw error;
  }
  throwInFileOrder(excluded);
  const needs = [...checked, ...liveSyncNeeds(project, catalog)];
  // The transport's objects: triggers, or what replaces them (transports/index.ts).
  return withFeatures(
    await transportOf(project).desired({ project, sql, features, needs }),
    features,
  );
}

/**
 * Every table and column capture.exclude_columns names must exist: a typo
 * would leave the column it meant captured.
 */
function excludedProblems(project: LoadedConfig, catalog: Catalog): ConfigError[] {
  const errors: ConfigError[] = [];
  const fail = (path: (string | number)[], problem: string, key = false) =>
    errors.push(configErrorAt(project, path, problem, { key }));
  for (const [name, columns] of Object.entries(project.config.capture.exclude_columns)) {
    const at = ['capture', 'exclude_columns', name];
    const table = catalog.get(parseTableName(name)!);
    if (!table) {
      const names = catalog.tables.map(formatTableName);
      fail(at, `table ${name} does not exist${didYouMean(name, names)}`, true);
      continue;
    }
    const known = table.columns.map((c) => c.name);
    columns.forEach((column, i) => {
      if (!known.includes(column)) {
        fail(
          [...at, i],
          `column "${column}" does not exist on ${formatTableName(table)}${didYouMean(column, known)}`,
        );
      }
    });
  }
  return errors;
}
