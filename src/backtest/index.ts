// `nudge backtest` and POST /v1/features/backtest: a feature as it is on disk
// (any status) run over the past in a sandbox — the engine's matcher and pure
// journey state machine, a simulated clock, no effects, nothing written
// anywhere (history.ts reads the past, simulate.ts runs it, report.ts counts).
// Where Nudge never ran (engine null) the engine store is not read at all:
// no kept events, no contact book, no live pauses — the rows are the past.
import type postgres from 'postgres';
import { rendererFor, templateVariables } from '../actions/render.js';
import type { ActionRun } from '../actions/types.js';
import { parseDuration } from '../config/duration.js';
import type { LoadedConfig } from '../config/load.js';
import { timeOption } from '../config/time-options.js';
import { FeatureSet } from '../engine/match/features.js';
import { featurePauses } from '../engine/match/pauses.js';
import { NudgeError, UsageError } from '../errors.js';
import { checkFeatures } from '../features/check.js';
import type { Feature } from '../features/load.js';
import { featureReads } from '../features/reads.js';
import type { Catalog } from '../source/catalog.js';
import { readHistory } from './history.js';
import { type BacktestReport, Tally } from './report.js';
import { type SetValues, simulate } from './simulate.js';

export type { BacktestReport } from './report.js';
export { reportLines } from './report.js';

export interface BacktestInput {
  project: LoadedConfig;
  /** Every feature on disk (the others resolve contacts of events the feature's journeys wait on). */
  features: Feature[];
  feature: Feature;
  /**
   * The engine store; null where Nudge has never run (no schema nudge_engine:
   * the session's storeMissing): the past is the trigger table's rows alone,
   * with an empty contact book.
   */
  engine: postgres.Sql | null;
  source: postgres.Sql;
  catalog: Catalog;
  from: Date;
  to: Date;
}

export async function runBacktest(input: BacktestInput): Promise<BacktestReport> {
  const started = performance.now();
  const { project, feature, engine, from, to } = input;
  if (!(from < to)) {
    throw new NudgeError(`the window is empty: from ${from.toISOString()} to ${to.toISOString()}`);
  }
  // As it is on disk, whatever its status: run as active, checked against the live schema.
  const active: Feature = { ...feature, status: 'active' };
  const attributes = project.config.contacts.attributes;
  checkFeatures([active], input.catalog, attributes, {
    exclude: project.config.capture.exclude_columns,
  });
  const others = input.features.filter((f) => f.name !== feature.name);
  const set = new FeatureSet([...others, active], input.catalog, attributes);
  const runtime = set.get(feature.name)!;
  const reactive =
    runtime.exit !== undefined ||
    [...runtime.stages.values()].some((s) => s.transitions.some((t) => t.when || t.until));
  const history = await readHistory({
    engine,
    source: input.source,
    catalog: input.catalog,
    feature,
    from,
    to,
    allEvents: reactive,
    exclude: project.config.capture.exclude_columns,
    // What the feature reads of its rows, which kept events may lack.
    reads: await featureReads(active, rendererFor(project)),
  });
  const cap = project.config.actions.frequency_cap;
  const capMs = cap ? parseDuration(cap.per) : undefined;
  const tally = new Tally([...runtime.stages.keys()]);
  const journeys = await simulate({
    engine,
    features: set,
    feature: runtime,
    events: history.events,
    to,
    ...(cap && capMs ? { frequencyCap: { max: cap.max, perMs: capMs } } : {}),
    setValues: setValuesOf(project),
    observer: tally,
  });
  const pausedLive =
    engine !== null && (await featurePauses(engine)).some((p) => p.feature === feature.name);
  return tally.report({
    feature: feature.name,
    status: pausedLive && feature.status === 'active' ? 'paused (live)' : feature.status,
    from,
    to,
    plans: history.plans,
    journeys,
    todaysValues: history.todaysValues,
    simplifications: simplifications({
      feature,
      storeMissing: engine === null,
      pausedLive,
      readsContact: runtime.readsContact,
      reactive,
      rows: history.plans.some((p) => p.source === 'rows'),
      cap: cap !== undefined,
      gaps: history.gaps,
      history: history.simplifications,
    }),
    ms: performance.now() - started,
  });
}

/**
 * A `set` action's values as the action renders them (actions/task.ts): its
 * parameters' Liquid with the run's template context. Rendering reads no
 * file and writes nothing.
 */
function setValuesOf(project: LoadedConfig): SetValues {
  return (run) => {
    const { action } = run;
    const asRun: ActionRun = {
      ...run,
      id: 0,
      kind: action.kind,
      params: action.params,
      attempts: 0,
    };
    return rendererFor(project).value(
      action.params,
      templateVariables(asRun, project),
      action.kind,
    );
  };
}

/** The kinds of action whose effect the simulation does not apply, in words. */
const NOT_APPLIED: Record<string, string> = {
  add_to_list: 'list memberships do not change',
  remove_from_list: 'list memberships do not change',
  track: 'tracked events are not added to the contact’s events',
};

function simplifications(facts: {
  feature: Feature;
  storeMissing: boolean;
  pausedLive: boolean;
  readsContact: boolean;
  reactive: boolean;
  rows: boolean;
  cap: boolean;
  gaps: string[];
  history: string[];
}): string[] {
  const list = [
    'no effects: every action is counted as if it ran and its delivery succeeded',
    'journeys start empty at the window’s start: a contact already in the journey before it is taken as not in it',
    'contacts are the contact book as it is now; someone it does not know yet is a new contact from their first event, with what the events say, found again by any of those fields as the engine finds a contact',
  ];
  if (facts.storeMissing) {
    // First: it says why the rest reads no kept event and knows nobody.
    list.unshift(
      'Nudge has not run on this database yet (no schema nudge_engine): the history is the table’s rows alone, and the contact book is empty',
    );
  }
  if (facts.readsContact) {
    list.push(
      'conditions on contact.* read today’s attributes, not the ones the contact had at the time, but where an action the engine ran on the event kept the contact (todaysValues counts the events)',
    );
  }
  if (facts.feature.status !== 'active' || facts.pausedLive) {
    list.push(
      `the feature is ${facts.pausedLive ? 'paused live' : facts.feature.status}: the backtest runs it as if active`,
    );
  }
  if (facts.rows) {
    list.push(
      'inserts rebuilt from rows are the rows as they are now (but for the values a later kept change of the row held in its old row), dated by their creation column; rows deleted since are missing',
    );
    if (facts.reactive) {
      list.push(
        'where history comes from rows, journeys waiting on other events (when, until, exit.when) see only the events Nudge kept',
      );
    }
  }
  list.push(...facts.history);
  if (facts.cap) {
    list.push('actions.frequency_cap counts only this feature’s emails in the window');
  }
  const kinds = new Set(
    [...facts.feature.machine.stages.values()].flatMap((s) => s.actions.map((a) => a.kind)),
  );
  if (kinds.has('set')) {
    list.push(
      'set actions change the simulated contact once their step is done, as the action would once it ran (Liquid values rendered with what the step saw; one that fails to render sets nothing)',
    );
  }
  const notApplied = [...kinds].filter((kind) => NOT_APPLIED[kind]);
  if (notApplied.length) {
    list.push(
      `${notApplied.join(' and ')} actions are counted, not applied: ${[...new Set(notApplied.map((k) => NOT_APPLIED[k]))].join('; ')}`,
    );
  }
  list.push(
    `live sync is not replayed: contact attributes ${kinds.has('set') ? 'change during the window only by this feature’s set actions' : 'do not change during the window'}`,
  );
  list.push(...facts.gaps.map((gap) => `missing history — ${gap}`));
  return list;
}

/** What a window is asked for with: `nudge backtest`'s flags, the API's body. */
export interface WindowAsked {
  since?: string;
  from?: string;
  to?: string;
}

/**
 * `--since 30d` or `--from T --to T` (ISO times or durations back from now)
 * as a window; a bad value is a usage error naming its flag. Durations count
 * back from real time (`now`): events are dated in it. The window ends, unless `--to` says otherwise, at
 * the engine clock's now (`engineNow`) when that is ahead (nudge clock moved
 * it), so waits run as far as the engine's did.
 */
export function backtestWindow(
  asked: WindowAsked,
  now: Date,
  engineNow: Date = now,
  names: WindowNames = FLAGS,
): { from: Date; to: Date } {
  return windowUntil(readWindow(asked, now, names), now, engineNow);
}

/** What the window's values are called where they were given: flags, or an API body's fields. */
export interface WindowNames {
  since: string;
  from: string;
  to: string;
}

const FLAGS: WindowNames = { since: '--since', from: '--from', to: '--to' };

/** The names of an API body's or an MCP tool's arguments, which errors say instead of the CLI's flags. */
export const WINDOW_FIELDS: WindowNames = { since: 'since', from: 'from', to: 'to' };

/**
 * The times asked for, read; `to` undefined when the window ends now
 * (windowUntil). A window that would be empty — its start in the future,
 * or not before its end — is a usage error naming the flag, as a bad value
 * is: refused before anything is read.
 */
export function readWindow(
  asked: WindowAsked,
  now: Date,
  names: WindowNames = FLAGS,
): { from: Date; to: Date | undefined } {
  if (asked.since && (asked.from || asked.to)) {
    throw new UsageError(
      `${names.since} and ${names.from}/${names.to} do not go together`,
      'use one of them',
    );
  }
  if (asked.from || asked.to) {
    const from = asked.from ? timeOption(names.from, asked.from, now) : new Date(0);
    const to = asked.to ? timeOption(names.to, asked.to, now) : undefined;
    if (asked.from && to && !(from < to)) {
      throw new UsageError(
        `${names.from} ${JSON.stringify(asked.from)} is not before ${names.to} ${JSON.stringify(asked.to)}: the window would be empty`,
        `give ${names.from} the earlier time (a duration counts back from now: ${names.from} 30d ${names.to} 7d)`,
      );
    }
    if (asked.from && !to) notFuture(names.from, asked.from, from, now);
    if (!asked.from && to && !(from < to)) {
      throw new UsageError(
        `${names.to} ${JSON.stringify(asked.to)} is not after ${from.toISOString()}, where the window starts without ${names.from}: the window would be empty`,
      );
    }
    return { from, to };
  }
  const since = asked.since ?? '30d';
  const from = timeOption(names.since, since, now);
  notFuture(names.since, since, from, now);
  return { from, to: undefined };
}

/** A window's start when it ends now: a time in the future starts an empty window. */
function notFuture(name: string, text: string, from: Date, now: Date): void {
  if (from < now) return;
  throw new UsageError(
    `${name} ${JSON.stringify(text)} is not in the past: the window, which ends now, would be empty`,
    'give a time in the past, or a duration back from now such as 30d',
  );
}

/** A window read, ending at the later of real time and the engine clock's when no end was asked. */
export function windowUntil(
  window: { from: Date; to: Date | undefined },
  now: Date,
  engineNow: Date,
): { from: Date; to: Date } {
  return { from: window.from, to: window.to ?? (engineNow > now ? engineNow : now) };
}
