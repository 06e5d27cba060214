// What plan, deploy and export share: load the features, check them against
// the live database, and compute the plan.

import { desiredCaptures } from '../capture/desired.js';
import type { Plan } from '../capture/plan.js';
import { makePlan } from '../capture/plan.js';
import { readCaptureState } from '../capture/state.js';
import { type LoadedConfig, missingFeaturesDir } from '../config/load.js';
import { displayPath } from '../config/yaml.js';
import { type Feature, readFeatureFiles } from '../features/load.js';
import { checkFeatureFiles } from '../features/problems.js';
import { readCatalog } from '../source/catalog.js';
import type { Sql } from '../source/connect.js';
import { redactUrl } from '../source/connect.js';
import type { Io } from './io.js';
import type { SourceSession } from './project.js';

export interface PlannedChange {
  features: Feature[];
  plan: Plan;
}

export async function planChange(project: LoadedConfig, sql: Sql): Promise<PlannedChange> {
  const missing = missingFeaturesDir(project);
  if (missing) throw missing;
  const files = await readFeatureFiles(project.featuresDir, project.env, project.cwd);
  // A file's problem does not hide what the database finds in the others: one list.
  const desired = await checkFeatureFiles(files, async (features) =>
    desiredCaptures(project, sql, features, await readCatalog(sql)),
  );
  const plan = makePlan(desired, await readCaptureState(sql));
  return { features: files.features, plan };
}

/** "Nudge plan for <db> (read-write) · 3 features in nudge/features: 2 active, 1 paused" */
export function printHeader(
  io: Io,
  verb: string,
  project: LoadedConfig,
  session: SourceSession,
  features: Feature[],
): void {
  const c = io.colors;
  const mode = session.readOnly ? c.yellow('read-only') : 'read-write';
  io.out(`${c.bold(`Nudge ${verb}`)} for ${redactUrl(session.url)} (${mode})`);
  const where = displayPath(project.featuresDir, project.cwd);
  if (features.length === 0) {
    io.out(
      c.dim(
        `No feature files in ${where}/. Start from a template: nudge init --template welcome-drip`,
      ),
    );
  } else {
    const count = (status: string) => features.filter((f) => f.status === status).length;
    const parts = [`${count('active')} active`];
    if (count('paused')) parts.push(`${count('paused')} paused`);
    if (count('draft')) parts.push(`${count('draft')} draft (not deployed)`);
    io.out(
      c.dim(
        `${features.length} feature${features.length === 1 ? '' : 's'} in ${where}/: ${parts.join(', ')}`,
      ),
    );
  }
  io.out('');
}
