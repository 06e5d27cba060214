// `nudge backtest` and POST /v1/features/backtest: a feature as it is on disk
// (any status) run over the past in a sandbox — the engine's matcher and pure
// journey state machine, a simulated clock, no effects, nothing written
// anywhere (history.ts reads the past, simulate.ts runs it, report.ts counts).
import type postgres from 'postgres';
import { parseDuration } from '../config/duration.js';
import type { LoadedConfig } from '../config/load.js';
import { timeOption } from '../config/time-options.js';
import { FeatureSet } from '../engine/match/features.js';
import { featurePauses } from '../engine/match/pauses.js';
import { NudgeError, UsageError } from '../errors.js';
import { checkFeatures } from '../features/check.js';
import type { Feature } from '../features/load.js';
import type { Catalog } from '../source/catalog.js';
import { readHistory } from './history.js';
import { type BacktestReport, Tally } from './report.js';
import { simulate } from './simulate.js';

export type { BacktestReport } from './report.js';
export { reportLines } from './report.js';

export interface BacktestInput {
  project: LoadedConfig;
  /** Every feature on disk (the others resolve contacts of events the feature's journeys wait on). */
  features: Feature[];
  feature: Feature;
  engine: postgres.Sql;
  source: postgres.Sql;
  catalog: Catalog;
  from: Date;
  to: Date;
}

export async function runBacktest(input: BacktestInput): Promise<BacktestReport> {
  const started = performance.now();
  const { project, feature, from, to } = input;
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
    engine: input.engine,
    source: input.source,
    catalog: input.catalog,
    feature,
    from,
    to,
    allEvents: reactive,
    exclude: project.config.capture.exclude_columns,
  });
  const cap = project.config.actions.frequency_cap;
  const capMs = cap ? parseDuration(cap.per) : undefined;
  const tally = new Tally([...runtime.stages.keys()]);
  const journeys = await simulate({
    engine: input.engine,
    features: set,
    feature: runtime,
    events: history.events,
    to,
    ...(cap && capMs ? { frequencyCap: { max: cap.max, perMs: capMs } } : {}),
    observer: tally,
  });
  const pausedLive = (await featurePauses(input.engine)).some((p) => p.feature === feature.name);
  return tally.report({
    feature: feature.name,
    status: pausedLive && feature.status === 'active' ? 'paused (live)' : feature.status,
    from,
    to,
    plans: history.plans,
    journeys,
    simplifications: simplifications({
      feature,
      pausedLive,
      readsContact: runtime.readsContact,
      reactive,
      rows: history.plans.some((p) => p.source === 'rows'),
      cap: cap !== undefined,
      gaps: history.gaps,
    }),
    ms: performance.now() - started,
  });
}

function simplifications(facts: {
  feature: Feature;
  pausedLive: boolean;
  readsContact: boolean;
  reactive: boolean;
  rows: boolean;
  cap: boolean;
  gaps: string[];
}): string[] {
  const list = [
    'no effects: every action is counted as if it ran and its delivery succeeded',
    'journeys start empty at the window’s start: a contact already in the journey before it is taken as not in it',
    'contacts are the contact book as it is now; people it does not know yet are new contacts with only what the event says',
  ];
  if (facts.readsContact) {
    list.push(
      'conditions on contact.* read today’s attributes, not the ones the contact had at the time',
    );
  }
  if (facts.feature.status !== 'active' || facts.pausedLive) {
    list.push(
      `the feature is ${facts.pausedLive ? 'paused live' : facts.feature.status}: the backtest runs it as if active`,
    );
  }
  if (facts.rows) {
    list.push(
      'inserts rebuilt from rows are the rows as they are now, dated by their creation column; rows deleted since are missing',
    );
    if (facts.reactive) {
      list.push(
        'where history comes from rows, journeys waiting on other events (when, until, exit.when) see only the events Nudge kept',
      );
    }
  }
  if (facts.cap) {
    list.push('actions.frequency_cap counts only this feature’s emails in the window');
  }
  list.push('live sync is not replayed: contacts do not change during the window');
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

/** The times asked for, read; `to` undefined when the window ends now (windowUntil). */
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
    return {
      from: asked.from ? timeOption(names.from, asked.from, now) : new Date(0),
      to: asked.to ? timeOption(names.to, asked.to, now) : undefined,
    };
  }
  return { from: timeOption(names.since, asked.since ?? '30d', now), to: undefined };
}

/** A window read, ending at the later of real time and the engine clock's when no end was asked. */
export function windowUntil(
  window: { from: Date; to: Date | undefined },
  now: Date,
  engineNow: Date,
): { from: Date; to: Date } {
  return { from: window.from, to: window.to ?? (engineNow > now ? engineNow : now) };
}
