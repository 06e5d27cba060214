// `nudge clock`: the engine's controllable clock. `advance 2d` moves every
// running engine's time forward (waits and cooldowns fire as if the days had
// passed); `show` prints the engine time; `reset` goes back to real time.
import { parseDuration } from '../config/duration.js';
import { type EngineStore, openEngineStore } from '../db/engine.js';
import { DEMO_DATABASE } from '../dev/demo.js';
import { advanceStoreClock } from '../engine/wiring/clock.js';
import { NudgeError } from '../errors.js';
import { redactUrl } from '../source/connect.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject } from './project.js';

export async function clock(
  args: string[],
  options: GlobalOptions & { yes?: boolean },
  io: Io,
): Promise<number> {
  const [what, amount] = args;
  if (what !== 'advance' && what !== 'show' && what !== 'reset') {
    throw new NudgeError(
      `unknown clock command "${what ?? ''}"`,
      'nudge clock advance 2d | show | reset',
    );
  }
  const ms = what === 'advance' ? parseDuration(amount ?? '') : 0;
  if (ms === undefined)
    throw new NudgeError(`"${amount ?? ''}" is not a duration`, 'e.g. nudge clock advance 2d');
  const project = await loadProject(options, io);
  const store = await openEngineStore(project, { max: 1 });
  try {
    if (what !== 'show' && !options.yes && !(await demoStore(store))) {
      throw new NudgeError(
        `this moves the engine clock of ${redactUrl(store.url)}, not a nudge dev database: every running engine's waits, cooldowns and schedules would fire early for its contacts, and reset does not take back what was sent`,
        `add --yes if that is what you mean (nudge dev's demo database needs no --yes)`,
      );
    }
    if (what === 'advance') await advanceStoreClock(store.sql, ms);
    if (what === 'reset') await store.sql`update nudge_engine.clock set offset_ms = 0`;
    const [row] = await store.sql<
      { offset_ms: string }[]
    >`select offset_ms from nudge_engine.clock`;
    const offset = Number(row?.offset_ms ?? 0);
    io.out(
      `Engine time: ${new Date(Date.now() + offset).toISOString()} (real time ${offset >= 0 ? '+' : ''}${Math.round(offset / 60_000)} min)`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

/** nudge dev's database: the embedded one, or the demo database it prints the URL of. */
async function demoStore(store: EngineStore): Promise<boolean> {
  if (store.where === 'embedded') return true;
  const [row] = await store.sql<{ name: string }[]>`select current_database() as name`;
  return row?.name === DEMO_DATABASE;
}
