// What `nudge doctor` says about the feature files: do they load, do they fit
// the live schema, and is what they need deployed (a feature whose trigger was
// never deployed is the commonest reason for "no events").
import { desiredCaptures } from '../capture/desired.js';
import { FEATURE_LIST } from '../capture/features-deployed.js';
import { namedEvent } from '../capture/named-events.js';
import { type Action, makePlan, ROWS_WAITING } from '../capture/plan.js';
import { readCaptureState } from '../capture/state.js';
import { type LoadedConfig, missingFeaturesDir } from '../config/load.js';
import { displayPath } from '../config/yaml.js';
import type { Say } from '../doctor/checks.js';
import { ConfigErrors, NudgeError, throwInFileOrder } from '../errors.js';
import { type Feature, readFeatureFiles } from '../features/load.js';
import { checkFeatureFiles, type FeatureFiles } from '../features/problems.js';
import { readCatalog } from '../source/catalog.js';
import type { Sql } from '../source/connect.js';
import type { TableName } from '../source/names.js';
import { plural } from '../words.js';

/** The feature files: loaded, or an error (with what could be read of them, for the database checks). */
export type FeatureLoad = { features: Feature[] } | { error: unknown; files?: FeatureFiles };

export async function loadFeatureFiles(project: LoadedConfig): Promise<FeatureLoad> {
  // A features: path that names no directory is a typo, not "none yet" (as plan says).
  const missing = missingFeaturesDir(project);
  if (missing) return { error: missing };
  let files: FeatureFiles | undefined;
  try {
    files = await readFeatureFiles(project.featuresDir, project.env, project.cwd);
    throwInFileOrder(files.errors);
    return { features: files.features };
  } catch (error) {
    return { error, ...(files ? { files } : {}) };
  }
}

/**
 * The tables the active features put triggers on. When some files have a
 * problem (the Features line says which), the tables of what could be read of
 * them: the privilege check still covers those instead of finding none.
 */
export function featureTables(load: FeatureLoad): TableName[] {
  const features =
    'features' in load
      ? load.features
      : load.files
        ? [...load.files.features, ...load.files.incomplete]
        : [];
  return features
    .filter((f) => f.status !== 'draft')
    .flatMap((f) => {
      if (f.trigger.kind !== 'event') return [f.trigger.table];
      const event = namedEvent(f.trigger.event);
      return event ? [event.table] : [];
    });
}

/** The most problems the Features line lists; the count says how many there are. */
const LISTED = 20;

/** The files' problems: one as the message, several counted with each listed below. */
function problems(error: NudgeError): { message: string; items?: string[] } {
  if (!(error instanceof ConfigErrors)) return { message: error.message };
  const all = error.errors.map((e) => e.message);
  const unlisted = all.length - LISTED;
  return {
    message: `${all.length} problems in the feature files`,
    items: unlisted > 0 ? [...all.slice(0, LISTED), `… and ${unlisted} more`] : all,
  };
}

/** The Features line for files with problems; an error that is not a NudgeError is thrown. */
function sayProblems(say: Say, error: unknown, fix: string): void {
  if (!(error instanceof NudgeError)) throw error;
  const { message, items } = problems(error);
  say('fail', 'Features', message, fix, items);
}

/** Where the feature files are, as a line names them, and its word for a folder without any. */
function folderOf(project: LoadedConfig) {
  const where = `${displayPath(project.featuresDir, project.cwd)}/`;
  return { where, noneYet: `none yet in ${where} (start from a template: nudge init)` };
}

/**
 * Without a database: the files loaded and checked as far as that goes
 * without one (their schema, conditions, templates); the tables, columns
 * and deploy state wait for a URL.
 */
export async function featureFileChecks(project: LoadedConfig, say: Say): Promise<void> {
  const load = await loadFeatureFiles(project);
  if ('error' in load) {
    return sayProblems(
      say,
      load.error,
      'fix each problem at the file and line it names; their tables and columns are checked once a database is set',
    );
  }
  const { where, noneYet } = folderOf(project);
  if (load.features.length === 0) return say('ok', 'Features', noneYet);
  const active = load.features.filter((f) => f.status !== 'draft').length;
  say(
    'ok',
    'Features',
    `${plural(active, 'active feature')} in ${where} read; their tables, columns and deploy state are checked once a database is set`,
  );
}

export async function featureChecks(
  sql: Sql,
  project: LoadedConfig,
  load: FeatureLoad,
  say: Say,
  readOnly: boolean,
): Promise<void> {
  const label = 'Features';
  const fixFiles = 'fix each problem at the file and line it names';
  if ('error' in load) {
    // What the database finds in the rest counts too: the files' problems and its, in one list.
    const error = load.files
      ? await checkFeatureFiles(load.files, async (features) =>
          desiredCaptures(project, sql, features, await readCatalog(sql)),
        ).catch((e: unknown) => e)
      : load.error;
    return sayProblems(say, error, fixFiles);
  }
  const { where, noneYet } = folderOf(project);
  if (load.features.length === 0) return say('ok', label, noneYet);
  let desired: Awaited<ReturnType<typeof desiredCaptures>>;
  try {
    desired = await desiredCaptures(project, sql, load.features, await readCatalog(sql));
  } catch (error) {
    return sayProblems(say, error, fixFiles);
  }
  const plan = makePlan(desired, await readCaptureState(sql));
  const active = load.features.filter((f) => f.status !== 'draft').length;
  const deploy = `${readOnly ? 'set access: read-write, then ' : ''}run nudge plan, then nudge deploy`;
  const drift = plan.items.flatMap((item) =>
    (item.drift ?? []).map((d) => `${item.subject}: ${d}`),
  );
  if (drift.length) {
    const more = drift.length > 1 ? ` (and ${drift.length - 1} more)` : '';
    return say(
      'fail',
      label,
      `changed by hand: ${drift[0]}${more}`,
      `${deploy} (deploy repairs it)`,
    );
  }
  const pending = plan.items.filter((item) => item.action !== 'unchanged');
  // Only removals left (an emptied old outbox table, an orphan): events arrive meanwhile.
  const removals = pending.every((item) => item.action === 'drop');
  // Only the feature files differ: the engines run the deployed ones meanwhile.
  const [files] = pending;
  if (pending.length === 1 && files!.kind === FEATURE_LIST) {
    return say(
      'warn',
      label,
      `feature files changed since the deployment (${files!.changes?.join(', ')}): running engines run the deployed ones until a deploy`,
      deploy,
    );
  }
  if (pending.length) {
    const count = `${pending.length} change${pending.length === 1 ? '' : 's'} not deployed`;
    return say(
      'warn',
      label,
      removals
        ? `${count}, only removals (${pending.map((item) => `${item.kind} ${item.subject}`).join(', ')}): the features get their events; deploy removes what is left over`
        : `${count} (${byAction(plan.counts)}): a feature gets no events from a capture to create or replace until it is deployed`,
      deploy,
    );
  }
  const waiting = plan.items.filter((item) => item.waiting).map((item) => item.subject);
  const note = waiting.length ? `; ${waiting.join(', ')} waiting to empty: ${ROWS_WAITING}` : '';
  say(
    'ok',
    label,
    `${active} active feature${active === 1 ? '' : 's'} in ${where}, deployed and up to date${note}`,
  );
}

/** The plan's counts as words, those it has: `5 to create, 16 to drop`. */
function byAction(counts: Record<Action, number>): string {
  return (['create', 'replace', 'drop'] as const)
    .filter((action) => counts[action] > 0)
    .map((action) => `${counts[action]} to ${action}`)
    .join(', ');
}
