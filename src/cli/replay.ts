// `nudge replay`: dead action runs (one by key, or all of a feature or time)
// back into the queue; a running `nudge start` / `nudge worker` picks them
// up. A key no run has, or a feature no file has and no run was made for, is
// an error (a typo), and so is a key whose run is not dead unless --force; a
// filter that names what exists but finds nothing dead says so and exits 0.

import type postgres from 'postgres';
import {
  type ReplayFilter,
  ReplayFilterError,
  type ReplayFilterText,
  RunNotDead,
  replayActions,
  replayFilter,
} from '../actions/queue.js';
import { hasActionRun, hasActionRuns } from '../actions/runs-exist.js';
import type { LoadedConfig } from '../config/load.js';
import { NudgeError, UsageError } from '../errors.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, openProjectStore, refuseUnknownFeature } from './project.js';

type ReplayOptions = GlobalOptions & ReplayFilterText;

/** replayFilter, its errors said in the command's options. */
function filterOf(options: ReplayFilterText): ReplayFilter {
  try {
    return replayFilter(options);
  } catch (error) {
    if (!(error instanceof ReplayFilterError)) throw error;
    // A filter that says nothing, or a bad value: usage errors (exit 2), as logs' --since.
    if (!error.field) {
      throw new UsageError(
        error.problem,
        'nudge replay --key <key>, --feature <name> or --since 1h',
      );
    }
    if (error.field === 'force') throw new UsageError(`--force: ${error.problem}`);
    throw new UsageError(`--${error.field} ${options[error.field]}: ${error.problem}`);
  }
}

export async function replay(options: ReplayOptions, io: Io): Promise<number> {
  const filter = filterOf(options);
  const project = await loadProject(options, io);
  const store = await openProjectStore(project, io, { max: 2 });
  try {
    const count = await replayActions(store.sql, filter).catch((error: unknown) => {
      if (!(error instanceof RunNotDead)) throw error;
      throw new NudgeError(
        error.message,
        `a replay sends dead runs only; nudge replay --key ${error.key} --force sends it whatever its status (its action runs again)`,
      );
    });
    if (count) {
      io.out(
        `${io.colors.green('✓')} ${count} action run${count === 1 ? '' : 's'} queued again; a running nudge start or nudge worker sends them.`,
      );
    } else {
      await refuseUnknownNames(project, store.sql, options);
      io.out(nothingToReplay(options));
    }
    return 0;
  } finally {
    await store.close();
  }
}

/**
 * Nothing was replayed: throws when that is because a name given is of
 * nothing — a key no action run has, a feature no file has and no run was
 * ever made for (one since removed from its file still has its runs).
 */
async function refuseUnknownNames(
  project: LoadedConfig,
  sql: postgres.Sql,
  options: ReplayFilterText,
): Promise<void> {
  if (options.key && !(await hasActionRun(sql, options.key))) {
    throw new NudgeError(
      `no action run has the key ${options.key}`,
      'nudge logs --json shows each queued action with its key (detail.key); nudge replay --feature <name> replays all the dead runs of a feature',
    );
  }
  if (options.feature)
    await refuseUnknownFeature(project, options.feature, (name) => hasActionRuns(sql, name));
}

/** What a filter of names that exist found: nothing (dead) to replay, and where it looked. */
function nothingToReplay(options: ReplayFilterText): string {
  const narrowed = [
    options.feature && `of feature ${options.feature}`,
    options.since && `created in the last ${options.since}`,
  ].filter(Boolean);
  if (options.key) {
    return `Nothing to replay: the action run with the key ${options.key} is not ${narrowed.join(' and ')}.`;
  }
  return `Nothing to replay: no dead action runs ${narrowed.join(', ')}.`;
}
