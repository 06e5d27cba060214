// `nudge backtest <feature> [--since 30d | --from T --to T] [--json]`: what a
// feature, as it is on disk, would have done over the past — the engine's
// matcher and journey state machine on a simulated clock, with no effects
// and nothing written (src/backtest/). It runs where Nudge never ran too:
// the engine store read as empty (no kept events, no contact book, real
// time), the table's rows alone are the past.

import { withFeatureSession } from '../backfill/session.js';
import {
  readWindow,
  reportLines,
  runBacktest,
  type WindowNames,
  windowUntil,
} from '../backtest/index.js';
import { storeClock } from '../engine/wiring/clock.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject } from './project.js';

export interface BacktestOptions extends GlobalOptions {
  since?: string;
  from?: string;
  to?: string;
  json?: boolean;
  /** What errors call the window's values (no flag: `nudge mcp`'s tool names its arguments). */
  windowNames?: WindowNames;
}

export async function backtest(args: string[], options: BacktestOptions, io: Io): Promise<number> {
  // Read before the project is: a bad value is refused before the database is reached.
  const now = new Date();
  const window = readWindow(options, now, options.windowNames);
  const project = await loadProject(options, io);
  return withFeatureSession(
    project,
    args[0],
    async (session) => {
      // No store, no engine clock: real time.
      const engineNow = session.storeMissing ? now : (await storeClock(session.store.sql)).now();
      const report = await runBacktest({
        project,
        features: session.features,
        feature: session.feature,
        // No store: nothing of it is read (its tables do not exist).
        engine: session.storeMissing ? null : session.store.sql,
        source: session.source,
        catalog: session.catalog,
        ...windowUntil(window, now, engineNow),
      });
      if (options.json) io.out(JSON.stringify(report, null, 2));
      else for (const line of reportLines(report)) io.out(line);
      return 0;
    },
    { whenMissing: 'empty' },
  );
}
