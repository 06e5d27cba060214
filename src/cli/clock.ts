// `nudge clock`: the engine's controllable clock. `advance 2d` moves every
// running engine's time forward (waits and cooldowns fire as if the days had
// passed); `show` prints the engine time; `reset` goes back to real time.
import { durationInWords, parseDuration } from '../config/duration.js';
import { openEngineStore } from '../db/engine.js';
import { migrateEngine } from '../db/migrate.js';
import { isDemoStore } from '../dev/demo.js';
import { advanceStoreClock } from '../engine/wiring/clock.js';
import { NudgeError } from '../errors.js';
import { redactUrl } from '../source/connect.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject } from './project.js';

export async function clock(
  what: 'show' | 'advance' | 'reset',
  amount: string | undefined,
  options: GlobalOptions & { yes?: boolean },
  io: Io,
): Promise<number> {
  if (what === 'advance' && !amount?.trim())
    throw new NudgeError(
      'nudge clock advance needs a duration: how far to move the engine time',
      'e.g. nudge clock advance 2d (units: s, m, h, d, w)',
    );
  const ms = what === 'advance' ? parseDuration(amount ?? '') : 0;
  if (ms === undefined)
    throw new NudgeError(
      `"${amount}" is not a duration`,
      'e.g. nudge clock advance 2d (units: s, m, h, d, w)',
    );
  const project = await loadProject(options, io);
  // Refused before the store is migrated: a refusal writes nothing.
  const store = await openEngineStore(project, { max: 1, migrate: false });
  try {
    if (what !== 'show' && !options.yes && !(await isDemoStore(store, project))) {
      throw new NudgeError(
        `this moves the engine clock of ${redactUrl(store.url)}, not a nudge dev database: every running engine's waits, cooldowns and schedules would fire early for its contacts, and reset does not take back what was sent`,
        `add --yes if that is what you mean (nudge dev's demo database needs no --yes)`,
      );
    }
    await migrateEngine(store.sql, store.url);
    if (what === 'advance') await advanceStoreClock(store.sql, ms);
    if (what === 'reset') await store.sql`update nudge_engine.clock set offset_ms = 0`;
    const [row] = await store.sql<
      { offset_ms: string }[]
    >`select offset_ms from nudge_engine.clock`;
    const offset = Number(row?.offset_ms ?? 0);
    const from =
      offset === 0
        ? 'real time'
        : `${durationInWords(offset)} ${offset > 0 ? 'ahead of' : 'behind'} real time`;
    io.out(`Engine time: ${new Date(Date.now() + offset).toISOString()} (${from})`);
    return 0;
  } finally {
    await store.close();
  }
}
