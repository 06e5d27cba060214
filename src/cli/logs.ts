// `nudge logs`: the decision log — for every event and candidate feature,
// matched or skipped and why, every journey move, every action and its
// attempts. Filters by feature, contact (email or id) and time; --follow
// keeps printing new decisions.

import { parseDuration } from '../config/duration.js';
import type { LoadedConfig } from '../config/load.js';
import { openEngineStore } from '../db/engine.js';
import { type DecisionRow, decisionLines, readDecisions } from '../engine/lanes/decision-log.js';
import { featurePauses, pausesLine } from '../engine/match/pauses.js';
import { NudgeError } from '../errors.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, unknownFeature } from './project.js';

export interface LogsOptions extends GlobalOptions {
  feature?: string;
  contact?: string;
  since?: string;
  limit?: string;
  follow?: boolean;
  json?: boolean;
}

type DecisionLine = DecisionRow;

const COLORS: Record<string, 'green' | 'yellow' | 'red' | 'cyan' | 'dim' | 'magenta'> = {
  matched: 'cyan',
  entered: 'green',
  advanced: 'green',
  completed: 'green',
  action: 'magenta',
  attempt: 'magenta',
  skipped: 'dim',
  exited: 'yellow',
  synced: 'cyan',
  error: 'red',
};

export async function logs(options: LogsOptions, io: Io): Promise<number> {
  const project = await loadProject(options, io);
  const since = options.since ? parseDuration(options.since) : undefined;
  if (options.since && since === undefined) {
    throw new NudgeError(`--since ${options.since}: expected a duration such as 15m, 2h or 7d`);
  }
  const limit = Number(options.limit ?? 100);
  const store = await openEngineStore(project, { max: 2 });
  try {
    const sql = store.sql;
    const filter = {
      ...(options.feature ? { feature: options.feature } : {}),
      ...(options.contact ? { contact: options.contact } : {}),
      ...(since !== undefined ? { sinceMs: since } : {}),
    };
    const query = async (afterId: number, first: boolean): Promise<DecisionLine[]> =>
      first
        ? (await readDecisions(sql, filter, { limit })).reverse()
        : readDecisions(sql, filter, { after: afterId });
    let last = 0;
    let newest: number | undefined = limit;
    const print = (rows: DecisionLine[]) => {
      const lines = rows.flatMap((stored) => {
        last = Math.max(last, stored.id);
        return decisionLines(stored, options.feature);
      });
      // The first page is the last `limit` lines, a stored row of skips counting as its lines.
      for (const row of newest === undefined ? lines : lines.slice(-newest)) {
        if (options.json) io.out(JSON.stringify(row));
        else io.out(formatLine(io, row));
      }
      newest = undefined;
    };
    const paused = options.json ? undefined : pausesLine(await featurePauses(sql));
    if (paused) io.out(io.colors.yellow(paused));
    const rows = await query(0, true);
    if (rows.length === 0 && !options.follow)
      io.out(io.colors.dim(await nothingShown(project, options)));
    print(rows);
    if (!options.follow) return 0;
    let stop = false;
    const onSignal = () => {
      stop = true;
    };
    process.once('SIGINT', onSignal);
    try {
      while (!stop) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        print(await query(last, false));
      }
    } finally {
      process.off('SIGINT', onSignal);
    }
    return 0;
  } finally {
    await store.close();
  }
}

function formatLine(io: Io, row: DecisionLine): string {
  const c = io.colors;
  const time = new Date(row.at).toISOString().replace('T', ' ').slice(0, 19);
  const paint = c[COLORS[row.outcome] ?? 'dim'];
  let reason = row.reason;
  if (
    row.outcome === 'action' &&
    row.status &&
    row.status !== 'succeeded' &&
    row.status !== 'dead'
  ) {
    const tries = row.attempts
      ? ` after ${row.attempts} attempt${row.attempts === 1 ? '' : 's'}`
      : '';
    const error = row.last_error && row.status !== 'succeeded' ? ` (${row.last_error})` : '';
    reason += ` → ${row.status}${tries}${error}`;
  }
  return `${c.dim(time)}  ${(row.feature ?? '-').padEnd(16)} ${(row.contact ?? '-').padEnd(26)} ${paint(row.outcome.padEnd(9))} ${reason}`;
}

/**
 * Why nothing is shown: no decision at all yet, or none that match the
 * filters given, and for --feature a name no feature file has (a typo
 * otherwise reads like a quiet feature).
 */
async function nothingShown(project: LoadedConfig, options: LogsOptions): Promise<string> {
  const filters = [
    options.feature && `feature ${options.feature}`,
    options.contact && `contact ${options.contact}`,
    options.since && `the last ${options.since}`,
  ].filter(Boolean);
  if (filters.length === 0) return 'No decisions yet.';
  const unknown = options.feature ? await unknownFeature(project, options.feature) : '';
  return `No decisions for ${filters.join(', ')}${unknown}.`;
}
