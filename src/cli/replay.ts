// `nudge replay`: dead action runs (or one run by key) back into the queue;
// a running `nudge start` / `nudge worker` picks them up.
import {
  type ReplayFilter,
  ReplayFilterError,
  type ReplayFilterText,
  replayActions,
  replayFilter,
} from '../actions/queue.js';
import { NudgeError } from '../errors.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, openProjectStore, unknownFeature } from './project.js';

/** replayFilter, its errors said in the command's options. */
function filterOf(options: ReplayFilterText): ReplayFilter {
  try {
    return replayFilter(options);
  } catch (error) {
    if (!(error instanceof ReplayFilterError)) throw error;
    if (!error.field) {
      throw new NudgeError(
        error.problem,
        'nudge replay --key <key>, --feature <name> or --since 1h',
      );
    }
    throw new NudgeError(`--${error.field} ${options[error.field]}: ${error.problem}`);
  }
}

export async function replay(
  options: GlobalOptions & { key?: string; feature?: string; since?: string },
  io: Io,
): Promise<number> {
  const filter = filterOf(options);
  const project = await loadProject(options, io);
  const store = await openProjectStore(project, io, { max: 2 });
  try {
    const count = await replayActions(store.sql, filter);
    io.out(
      count
        ? `${io.colors.green('✓')} ${count} action run${count === 1 ? '' : 's'} queued again; a running nudge start or nudge worker sends them.`
        : options.key
          ? `Nothing to replay: no action run has the key ${options.key}.`
          : `Nothing to replay: no dead action runs match${options.feature ? await unknownFeature(project, options.feature) : ''}.`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
