// `nudge pause <feature>`: every running engine (nudge start, nudge worker)
// skips the feature's trigger events with the reason `paused` within about a
// second, without a restart. Journeys already under way keep their timers.
// Stored in the engine store (src/engine/match/pauses.ts); `nudge resume` undoes it.
// Each one that changes the switch is a line of `nudge logs` (outcome paused
// or resumed, by cli).
import { featurePauses, pauseFeature, resumeFeature } from '../engine/match/pauses.js';
import { NudgeError } from '../errors.js';
import { loadFeatures, noSuchFeature } from '../features/load.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, openProjectStore } from './project.js';

export function pause(args: string[], options: GlobalOptions, io: Io): Promise<number> {
  return switchFeature('pause', args[0], options, io);
}

/** Pauses or resumes the named feature of this project; shared with resume.ts. */
export async function switchFeature(
  what: 'pause' | 'resume',
  name: string | undefined,
  options: GlobalOptions,
  io: Io,
): Promise<number> {
  if (!name) throw new NudgeError(`say which feature to ${what}`, `nudge ${what} <feature>`);
  const project = await loadProject(options, io);
  const features = await loadFeatures(project.featuresDir, project.env, project.cwd);
  const feature = features.find((f) => f.name === name);
  const store = await openProjectStore(project, io, { max: 1 });
  try {
    // A feature removed from the files can still be resumed, never newly paused.
    if (
      !feature &&
      !(what === 'resume' && (await featurePauses(store.sql)).some((p) => p.feature === name))
    ) {
      throw noSuchFeature(features, name, project.featuresDir);
    }
    const c = io.colors;
    if (what === 'pause') {
      const changed = await pauseFeature(store.sql, name, 'cli');
      io.out(
        changed
          ? `${c.green('✓')} ${name} paused: running engines skip its events (reason "paused") from now on. nudge resume ${name} undoes it.`
          : `${name} was already paused.`,
      );
    } else {
      const changed = await resumeFeature(store.sql, name, 'cli');
      io.out(changed ? `${c.green('✓')} ${name} resumed.` : `${name} was not paused.`);
    }
    if (feature?.status === 'paused') {
      io.out(
        c.yellow(`  its file says status: paused, which pauses it whatever this switch says.`),
      );
    }
    return 0;
  } finally {
    await store.close();
  }
}
