// `nudge clock`: the engine's controllable clock. `advance 2d` moves every
// running engine's time forward (waits and cooldowns fire as if the days had
// passed); `show` prints the engine time; `reset` goes back to real time.
// `show` only reads: it migrates nothing, and a store with no clock yet is
// said to be on real time.
import type postgres from 'postgres';
import {
  advanceProblem,
  LONGEST_DURATION,
  NOT_POSITIVE,
  parseDuration,
} from '../config/duration-text.js';
import { clockOffsetInWords } from '../config/duration-words.js';
import { migrateEngine } from '../db/migrate.js';
import { isDemoStore } from '../dev/demo.js';
import { advanceStoreClock, resetStoreClock } from '../engine/wiring/clock.js';
import { NudgeError, UsageError } from '../errors.js';
import { redactUrl } from '../source/connect.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, openProjectStore } from './project.js';

export async function clock(
  what: 'show' | 'advance' | 'reset',
  amount: string | undefined,
  options: GlobalOptions & { yes?: boolean },
  io: Io,
): Promise<number> {
  const ms = what === 'advance' ? advanceBy(amount) : 0;
  const project = await loadProject(options, io);
  // Not migrated here: `show` only reads, and a refusal writes nothing.
  const store = await openProjectStore(project, io, { max: 1, migrate: false });
  try {
    if (what === 'show') {
      const offset = await clockOffset(store.sql);
      if (offset === undefined) {
        io.out(
          `Engine time: ${new Date().toISOString()} (real time: no engine clock in ${store.describe()} yet; nudge start or nudge deploy sets one up)`,
        );
      } else io.out(engineTime(offset));
      return 0;
    }
    if (!options.yes && !(await isDemoStore(store, project))) {
      throw new NudgeError(
        `this moves the engine clock of ${redactUrl(store.url)}, not a nudge dev database: every running engine's waits, cooldowns and schedules would fire early for its contacts, and reset does not take back what was sent`,
        `add --yes if that is what you mean (nudge dev's demo database needs no --yes)`,
      );
    }
    await migrateEngine(store.sql, store.url);
    if (what === 'advance') await advanceStoreClock(store.sql, ms);
    if (what === 'reset') await resetStoreClock(store.sql);
    io.out(engineTime((await clockOffset(store.sql)) ?? 0));
    return 0;
  } finally {
    await store.close();
  }
}

/** The store's clock offset in milliseconds; undefined when the store has no clock (not migrated). */
export async function clockOffset(sql: postgres.Sql): Promise<number | undefined> {
  const [table] = await sql<{ present: boolean }[]>`
    select to_regclass('nudge_engine.clock') is not null as present`;
  if (!table?.present) return undefined;
  const [row] = await sql<{ offset_ms: string }[]>`select offset_ms from nudge_engine.clock`;
  return Number(row?.offset_ms ?? 0);
}

function engineTime(offset: number): string {
  return `Engine time: ${new Date(Date.now() + offset).toISOString()} (${clockOffsetInWords(offset)})`;
}

const ADVANCE_HINT = `e.g. nudge clock advance 2d (units: s, m, h, d, w), at most ${LONGEST_DURATION}`;

/**
 * How far `clock advance` moves: what advanceProblem lets through, as the
 * API's advance (usage errors, exit 2). `-1d` reaches here as an argument
 * (the command takes unknown options as its argument): the clock only moves
 * forward.
 */
function advanceBy(amount: string | undefined): number {
  const text = amount?.trim() ?? '';
  if (!text)
    throw new UsageError(
      'nudge clock advance needs a duration: how far to move the engine time',
      ADVANCE_HINT,
    );
  const problem = advanceProblem(text);
  if (problem === NOT_POSITIVE) {
    throw new UsageError(
      `clock advance ${text}: ${NOT_POSITIVE}; the engine time only moves forward`,
      'nudge clock reset goes back to real time',
    );
  }
  if (text.startsWith('-')) throw new UsageError(`unknown option '${text}'`, ADVANCE_HINT);
  if (problem) throw new UsageError(`clock advance ${text}: ${problem}`, ADVANCE_HINT);
  return parseDuration(text) ?? 0;
}
