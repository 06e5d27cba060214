// `nudge logs`: the decision log — for every event and candidate feature,
// matched or skipped and why, every journey move, every action and its
// attempts, an attempt made after a replay said to be one, a feature paused
// or resumed live (by whom). Filters by
// feature, contact (email or id), outcome and time; --follow keeps printing new
// decisions. A feature or contact that names nothing is refused, as the API
// refuses it (server/api/feature-filter.ts). Times are the engine clock's,
// and said to be when that is not real time.

import { OUTCOMES } from '../client/dashboard.js';
import { clockOffsetInWords } from '../config/duration-words.js';
import type { LoadedConfig } from '../config/load.js';
import { durationOption, timeOption } from '../config/time-options.js';
import {
  type DecisionRow,
  decisionLines,
  readDecisions,
  replayedWords,
  replaysOf,
} from '../engine/lanes/decision-log.js';
import { featurePauses, pausesLine } from '../engine/match/pauses.js';
import { NudgeError, UsageError } from '../errors.js';
import { CONTACT_HINT, hasDecisions, unknownContactText } from '../server/api/feature-filter.js';
import { plural } from '../words.js';
import { clockOffset } from './clock.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, openProjectStore, refuseUnknownFeature, unknownFeature } from './project.js';

export interface LogsOptions extends GlobalOptions {
  feature?: string;
  contact?: string;
  outcome?: string;
  since?: string;
  limit?: string;
  follow?: boolean;
  json?: boolean;
}

/** A line as printed; an attempt's says which replay of its run it belongs to (0: none). */
type DecisionLine = DecisionRow & { replay?: number };

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
  paused: 'yellow',
  resumed: 'green',
};

/**
 * --since as a duration back from the engine clock's now (7d), or as a time
 * (2026-12-01, an ISO time), which decisions' stamps are compared with as
 * they are: both on the engine clock.
 */
const isTime = (since: string) => /^\s*\d{4}-/.test(since);

function sinceOption(text: string): { sinceMs: number } | { from: Date } {
  return isTime(text)
    ? { from: timeOption('--since', text, new Date()) }
    : {
        sinceMs: durationOption(
          '--since',
          text.trim(),
          "a duration back from the engine clock's now (15m, 2h, 7d), or a time (2026-12-01)",
        ),
      };
}

export async function logs(options: LogsOptions, io: Io): Promise<number> {
  const since = options.since === undefined ? undefined : sinceOption(options.since);
  if (options.outcome !== undefined && !(OUTCOMES as readonly string[]).includes(options.outcome)) {
    throw new UsageError(
      `--outcome ${JSON.stringify(options.outcome)}: expected one of ${OUTCOMES.join(', ')}`,
    );
  }
  const project = await loadProject(options, io);
  const limit = Number(options.limit ?? 100);
  const store = await openProjectStore(project, io, { max: 2 });
  try {
    const sql = store.sql;
    if (options.feature)
      await refuseUnknownFeature(project, options.feature, (name) => hasDecisions(sql, name));
    const filter = {
      ...(options.feature ? { feature: options.feature } : {}),
      ...(options.contact ? { contact: options.contact } : {}),
      ...(options.outcome ? { outcome: options.outcome } : {}),
      ...since,
    };
    const query = async (afterId: number, first: boolean): Promise<DecisionLine[]> =>
      first
        ? (await readDecisions(sql, filter, { limit })).reverse()
        : readDecisions(sql, filter, { after: afterId });
    let last = 0;
    let newest: number | undefined = limit;
    const offset = (await clockOffset(sql)) ?? 0;
    let clockSaid = !!options.json;
    // The feature and contact columns: as wide as the longest shown so far, never narrower.
    const widths = { feature: 16, who: 26 };
    const print = async (rows: DecisionLine[]) => {
      const replays = await replaysOf(sql, rows);
      const lines = rows.flatMap((stored) => {
        last = Math.max(last, stored.id);
        const replay = stored.outcome === 'attempt' ? { replay: replays.get(stored.id) ?? 0 } : {};
        return decisionLines({ ...stored, ...replay }, options.feature);
      });
      // The first page is the last `limit` lines, a stored row of skips counting as its lines.
      const shown = newest === undefined ? lines : lines.slice(-newest);
      // Older lines were left out: said, so the page is not taken for all there is.
      if (newest !== undefined && !options.json && (lines.length > newest || rows.length >= limit))
        io.out(
          io.colors.dim(
            `Showing the last ${plural(newest, 'line')}: --limit ${newest * 5} shows more; --since, --feature, --contact and --outcome narrow them.`,
          ),
        );
      const note = clockSaid ? undefined : clockNote(offset, shown, options.since);
      if (note) io.out(io.colors.dim(note));
      clockSaid ||= note !== undefined;
      for (const row of shown) {
        widths.feature = Math.max(widths.feature, (row.feature ?? '-').length);
        widths.who = Math.max(widths.who, (row.contact ?? row.event ?? '-').length);
      }
      for (const row of shown) {
        if (options.json) io.out(JSON.stringify(row));
        else io.out(formatLine(io, row, widths));
      }
      newest = undefined;
    };
    const rows = await query(0, true);
    // Nothing for a contact no one is: a part of an email, a typo (followed,
    // it may be one who has not signed up yet).
    if (rows.length === 0 && !options.follow && options.contact) {
      const unknown = await unknownContactText(sql, options.contact);
      if (unknown) throw new NudgeError(unknown, CONTACT_HINT);
    }
    const paused = options.json ? undefined : pausesLine(await featurePauses(sql), offset);
    if (paused) io.out(io.colors.yellow(paused));
    if (rows.length === 0 && !options.follow)
      io.out(io.colors.dim(await nothingShown(project, options)));
    await print(rows);
    if (!options.follow) return 0;
    if (!options.json)
      io.out(io.colors.dim('Following: new decisions print here as they are made. Ctrl-C stops.'));
    let stop = false;
    const onSignal = () => {
      stop = true;
    };
    process.once('SIGINT', onSignal);
    try {
      while (!stop) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await print(await query(last, false));
      }
    } finally {
      process.off('SIGINT', onSignal);
    }
    return 0;
  } finally {
    await store.close();
  }
}

/**
 * One decision as a line: time, feature, contact (or the event), outcome,
 * reason. The columns are padded to `widths`, which fit every value shown,
 * so a long feature name or address never runs into the next column.
 */
function formatLine(io: Io, row: DecisionLine, widths: { feature: number; who: number }): string {
  const c = io.colors;
  const time = new Date(row.at).toISOString().replace('T', ' ').slice(0, 19);
  const paint = c[COLORS[row.outcome] ?? 'dim'];
  let reason = row.replay ? `${replayedWords(row.replay)}: ${row.reason}` : row.reason;
  if (
    row.outcome === 'action' &&
    row.status &&
    row.status !== 'succeeded' &&
    row.status !== 'dead'
  ) {
    const tries = row.attempts
      ? ` after ${row.attempts} attempt${row.attempts === 1 ? '' : 's'}`
      : '';
    // After a colon, not in parentheses: the error often has its own (`unsubscribed (topic general)`).
    const error = row.last_error && row.status !== 'succeeded' ? `: ${row.last_error}` : '';
    reason += ` → ${row.status}${tries}${error}`;
  }
  // No contact was looked up (skipped before it: a false condition, no contact
  // value): the event, as the dashboard shows it. A paused feature's skip names
  // the contact its event was for (decision-log.ts SkippedFor).
  const who = row.contact
    ? row.contact.padEnd(widths.who)
    : row.event
      ? c.dim(row.event.padEnd(widths.who))
      : '-'.padEnd(widths.who);
  return `${c.dim(time)}  ${(row.feature ?? '-').padEnd(widths.feature)} ${who} ${paint(row.outcome.padEnd(9))} ${reason}`;
}

/** Further ahead of this machine's time than two clocks may differ by. */
const AHEAD_MS = 5 * 60_000;

/**
 * Decisions are stamped with the engine clock's time, which nudge clock moves
 * away from real time (nudge dev moves it two days at every start); the
 * mailbox, the inbox and an action run's created and updated times go by
 * real time; --since counts back from the engine clock's now, as the lines
 * are stamped (a line decided before the clock moved is older than that). When the clock is not on real time, or a line shown is
 * stamped ahead of it (the clock was moved, then reset), one note before the
 * lines says which time they are in; otherwise nothing is said.
 */
function clockNote(offset: number, lines: DecisionLine[], since?: string): string | undefined {
  const aheadOfNow = lines.some((line) => new Date(line.at).getTime() > Date.now() + AHEAD_MS);
  // No line, nothing to say of their times (a follow says it with the first).
  if (lines.length === 0 || (offset === 0 && !aheadOfNow)) return undefined;
  const now =
    offset === 0
      ? 'lines stamped after real time now were decided while nudge clock had moved it ahead'
      : `it is now ${clockOffsetInWords(offset)} (nudge clock)`;
  const sinceSaid =
    since && !isTime(since) ? `; --since ${since} counts back from the engine clock's now` : '';
  return `Times are the engine clock's as it stood when each line was decided: ${now}${sinceSaid}.`;
}

/**
 * Why nothing is shown: no decision at all yet, or none that match the
 * filters given, and for --feature a name no feature file has any more (a
 * name of nothing at all was refused before: refuseUnknownFeature).
 */
async function nothingShown(project: LoadedConfig, options: LogsOptions): Promise<string> {
  const filters = [
    options.feature && `feature ${options.feature}`,
    options.contact && `contact ${options.contact}`,
    options.since &&
      (isTime(options.since) ? `since ${options.since}` : `the last ${options.since}`),
  ].filter(Boolean);
  if (filters.length === 0) return 'No decisions yet.';
  const unknown = options.feature ? await unknownFeature(project, options.feature) : '';
  return `No decisions for ${filters.join(', ')}${unknown}.`;
}
