// `nudge replay`: dead action runs (or one run by key) back into the queue;
// a running `nudge start` / `nudge worker` picks them up.
import { type ReplayFilter, replayActions } from '../actions/queue.js';
import { parseDuration } from '../config/duration.js';
import { openEngineStore } from '../db/engine.js';
import { NudgeError } from '../errors.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject } from './project.js';

/**
 * What to replay, as `nudge replay` and the dashboard's Replay say it: one run
 * by key, or the dead runs of a feature and/or created within a time (`1h`).
 * At least one; a NudgeError names what is wrong.
 */
export function replayFilter(options: {
  key?: string | undefined;
  feature?: string | undefined;
  since?: string | undefined;
}): ReplayFilter {
  if (!options.key && !options.feature && !options.since) {
    throw new NudgeError(
      'say what to replay',
      'nudge replay --key <key>, --feature <name> or --since 1h',
    );
  }
  const sinceMs = options.since ? parseDuration(options.since) : undefined;
  if (options.since && sinceMs === undefined)
    throw new NudgeError(`--since ${options.since}: expected a duration such as 2h or 7d`);
  return {
    ...(options.key ? { key: options.key } : {}),
    ...(options.feature ? { feature: options.feature } : {}),
    ...(sinceMs !== undefined ? { since: new Date(Date.now() - sinceMs) } : {}),
  };
}

export async function replay(
  options: GlobalOptions & { key?: string; feature?: string; since?: string },
  io: Io,
): Promise<number> {
  const filter = replayFilter(options);
  const project = await loadProject(options, io);
  const store = await openEngineStore(project, { max: 2 });
  try {
    const count = await replayActions(store.sql, filter);
    io.out(
      count
        ? `${io.colors.green('✓')} ${count} action run${count === 1 ? '' : 's'} queued again; a running nudge start or nudge worker sends them.`
        : 'Nothing to replay: no dead action runs match.',
    );
    return 0;
  } finally {
    await store.close();
  }
}
