// What a backtest reports, counted as the simulation goes (an Observer of
// simulate.ts): events read and matched, contacts entered, how many reached
// each stage, the actions that would have run by kind (emails per template,
// webhooks per URL), skip reasons with counts, where journeys stood at the
// end, ten sample contacts with their simulated timelines — each count by the
// history source it came from — and the simplifications made.
import type { NewActionRun } from '../actions/types.js';
import type { Decision, JourneyRow } from '../engine/journeys/machine.js';
import type { SimulatedContact } from './contacts.js';
import type { HistorySource, SourcePlan, TodaysValue } from './history.js';
import type { Observer } from './simulate.js';

export interface BacktestReport {
  feature: string;
  /** The feature's status on disk; the backtest runs it as active whatever it is. */
  status: string;
  window: { from: string; to: string };
  sources: (Omit<SourcePlan, 'from' | 'to'> & { from: string; to: string })[];
  events: {
    read: number;
    matched: number;
    /**
     * Of those read, the events the feature does not trigger on: read only
     * when its journeys wait on events (when, until, exit.when), which they
     * may step. The others are each matched or skipped.
     */
    notTrigger: number;
    bySource: Record<string, { read: number; matched: number; entered: number }>;
  };
  contacts: { entered: number; entries: number };
  /** Entries reaching each stage, in the feature's order. */
  stages: { stage: string; reached: number }[];
  /** Journeys at the window's end. */
  journeys: { completed: number; exited: number; waiting: Record<string, number> };
  /** Actions that would have run: email by template, webhook by URL, the others by what they name. */
  actions: Record<string, Record<string, number>>;
  skips: Record<string, number>;
  samples: { contact: string; timeline: { at: string; outcome: string; reason: string }[] }[];
  simplifications: string[];
  /**
   * Every place the verdicts read a value as it is today where the event's
   * own was not kept, with the events (and timer wake-ups) it touched: new.*
   * of rows rebuilt from the table, columns kept events lacked, contact.*
   * of the contact book. Empty when every value read was the event's own.
   */
  todaysValues: TodaysValue[];
  ms: number;
}

const SAMPLES = 10;

/** The kinds of skip the report counts, from a decision's reason. */
export function skipKind(reason: string): string {
  if (reason.startsWith('trigger condition false')) return 'condition false';
  if (reason.startsWith('cooldown until')) return 'cooldown';
  if (reason.startsWith('max entries reached')) return 'max entries';
  if (reason.startsWith('already entered once')) return 're_entry: never';
  if (reason.startsWith('already in the journey')) return 'already in the journey';
  if (reason.endsWith('skipped by the frequency cap')) return 'frequency cap';
  if (reason.startsWith('no contact')) return 'no contact';
  if (reason === 'paused') return 'paused';
  const guard = /^stage (.+): actions skipped/.exec(reason);
  if (guard) return `stage ${guard[1]}: if/unless false`;
  return reason;
}

/** What an action names in the report: the template, the URL, the function, ... */
function actionTarget(run: NewActionRun): string {
  const { action } = run;
  switch (action.kind) {
    case 'email':
      return action.params.template;
    case 'webhook':
      return action.params.url;
    case 'function':
      return action.params.name;
    case 'track':
      return action.params.event;
    case 'add_to_list':
    case 'remove_from_list':
      return action.params;
    case 'set':
      return Object.keys(action.params).join(', ');
    default:
      return action.kind;
  }
}

export class Tally implements Observer {
  private read = 0;
  private notTrigger = 0;
  private matched = 0;
  private entries = 0;
  private readonly entered = new Set<string>();
  private readonly bySource = new Map<string, { read: number; matched: number; entered: number }>();
  private readonly stages = new Map<string, number>();
  private readonly actionsByKind = new Map<string, Map<string, number>>();
  private readonly skips = new Map<string, number>();
  /** Steps whose conditions read a book contact's attributes as they are today, and whose. */
  private contactSteps = 0;
  private readonly contactsToday = new Set<string>();
  /** Events whose conditions read a book contact as the engine saw it then. */
  private contactThenEvents = 0;
  private readonly samples = new Map<
    string,
    { contact: string; timeline: BacktestReport['samples'][number]['timeline'] }
  >();

  constructor(stageNames: string[]) {
    for (const name of stageNames) this.stages.set(name, 0);
  }

  private source(source: HistorySource | 'timer') {
    let counts = this.bySource.get(source);
    if (!counts) {
      counts = { read: 0, matched: 0, entered: 0 };
      this.bySource.set(source, counts);
    }
    return counts;
  }

  event(source: HistorySource, trigger: boolean): void {
    this.read++;
    if (!trigger) this.notTrigger++;
    this.source(source).read++;
  }

  decisions(
    decisions: Decision[],
    source: HistorySource | 'timer',
    contact?: SimulatedContact,
  ): void {
    for (const d of decisions) {
      if (d.outcome === 'matched') {
        this.matched++;
        this.source(source).matched++;
      } else if (d.outcome === 'entered') {
        this.entries++;
        this.source(source).entered++;
        if (d.contactId) {
          this.entered.add(d.contactId);
          if (contact && this.samples.size < SAMPLES && !this.samples.has(d.contactId)) {
            this.samples.set(d.contactId, { contact: contact.label, timeline: [] });
          }
        }
      } else if (d.outcome === 'advanced') {
        const stage = /^stage (\S+)/.exec(d.reason)?.[1];
        if (stage) this.stages.set(stage, (this.stages.get(stage) ?? 0) + 1);
      } else if (d.outcome === 'skipped') {
        const kind = skipKind(d.reason);
        this.skips.set(kind, (this.skips.get(kind) ?? 0) + 1);
      }
      const sample = d.contactId ? this.samples.get(d.contactId) : undefined;
      sample?.timeline.push({ at: d.at.toISOString(), outcome: d.outcome, reason: d.reason });
    }
  }

  contactToday(contact: SimulatedContact): void {
    this.contactSteps++;
    this.contactsToday.add(contact.id);
  }

  contactThen(): void {
    this.contactThenEvents++;
  }

  /** How many events read contact.* as the engine kept it then, in words; undefined for none. */
  private contactThenLine(): string | undefined {
    const n = this.contactThenEvents;
    if (n === 0) return undefined;
    return `contact.* for ${n} kept event${n === 1 ? '' : 's'} read as the engine saw the contact then (the row an action it ran on the event kept), not as it is today`;
  }

  /** contact.* read as it is today, when the feature's conditions read it of some book contact. */
  private contactValue(): TodaysValue | undefined {
    if (this.contactSteps === 0) return undefined;
    const n = this.contactsToday.size;
    return {
      what: `contact.* in conditions: the attributes ${n} contact${n === 1 ? '' : 's'} of the contact book have today (it keeps no history of them)`,
      events: this.contactSteps,
    };
  }

  actions(actions: NewActionRun[]): void {
    for (const run of actions) {
      let targets = this.actionsByKind.get(run.action.kind);
      if (!targets) {
        targets = new Map();
        this.actionsByKind.set(run.action.kind, targets);
      }
      const target = actionTarget(run);
      targets.set(target, (targets.get(target) ?? 0) + 1);
    }
  }

  report(fields: {
    feature: string;
    status: string;
    from: Date;
    to: Date;
    plans: SourcePlan[];
    journeys: Map<string, JourneyRow>;
    /** The history's and the run's; the tally adds how contact.* was read. */
    simplifications: string[];
    /** The history's; the tally adds contact.* read as it is today. */
    todaysValues: TodaysValue[];
    ms: number;
  }): BacktestReport {
    const contactThen = this.contactThenLine();
    const contactValue = this.contactValue();
    const waiting: Record<string, number> = {};
    let completed = 0;
    let exited = 0;
    for (const journey of fields.journeys.values()) {
      if (journey.status === 'completed') completed++;
      else if (journey.status === 'exited') exited++;
      else if (journey.stage) waiting[journey.stage] = (waiting[journey.stage] ?? 0) + 1;
    }
    const record = <V>(map: Map<string, V>) => Object.fromEntries(map);
    return {
      feature: fields.feature,
      status: fields.status,
      window: { from: fields.from.toISOString(), to: fields.to.toISOString() },
      sources: fields.plans.map((p) => ({
        ...p,
        from: p.from.toISOString(),
        to: p.to.toISOString(),
      })),
      events: {
        read: this.read,
        matched: this.matched,
        notTrigger: this.notTrigger,
        bySource: record(this.bySource),
      },
      contacts: { entered: this.entered.size, entries: this.entries },
      stages: [...this.stages].map(([stage, reached]) => ({ stage, reached })),
      journeys: { completed, exited, waiting },
      actions: Object.fromEntries([...this.actionsByKind].map(([kind, m]) => [kind, record(m)])),
      skips: record(this.skips),
      samples: [...this.samples.values()],
      simplifications: contactThen
        ? [...fields.simplifications, contactThen]
        : fields.simplifications,
      todaysValues: contactValue ? [...fields.todaysValues, contactValue] : fields.todaysValues,
      ms: Math.round(fields.ms),
    };
  }
}

/** `2026-03-01 09:00:00`, UTC: a report's time as `nudge logs` prints one (`--json` keeps ISO). */
const printed = (iso: string) => iso.replace('T', ' ').slice(0, 19);

/** The report as the CLI prints it. */
export function reportLines(report: BacktestReport): string[] {
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `Backtest of ${report.feature} (status: ${report.status}) from ${printed(report.window.from)} to ${printed(report.window.to)} UTC, in ${(report.ms / 1000).toFixed(1)} s`,
    '',
    'History:',
    ...report.sources.map(
      (s) =>
        `  ${s.table}: ${s.source}${s.column ? ` (inserts dated by ${s.column})` : ''} from ${printed(s.from)} to ${printed(s.to)}`,
    ),
    `Events read: ${n(report.events.read)}, matched: ${n(report.events.matched)}`,
    ...(report.events.notTrigger
      ? [
          `  ${n(report.events.notTrigger)} of them not what ${report.feature} triggers on: read for journeys waiting on events (when, until, exit.when)`,
        ]
      : []),
    ...Object.entries(report.events.bySource).map(
      ([source, c]) =>
        `  from ${source}: ${n(c.read)} read, ${n(c.matched)} matched, ${n(c.entered)} entries`,
    ),
    `Contacts entered: ${n(report.contacts.entered)} (${n(report.contacts.entries)} entries)`,
    'Stages reached:',
    ...report.stages.map((s) => `  ${s.stage}: ${n(s.reached)}`),
    `At the end: ${n(report.journeys.completed)} completed, ${n(report.journeys.exited)} exited${
      Object.keys(report.journeys.waiting).length
        ? `, waiting: ${Object.entries(report.journeys.waiting)
            .map(([stage, count]) => `${n(count)} at ${stage}`)
            .join(', ')}`
        : ''
    }`,
    'Actions that would have run:',
    ...(Object.keys(report.actions).length
      ? Object.entries(report.actions).flatMap(([kind, targets]) =>
          Object.entries(targets).map(([target, count]) => `  ${kind} ${target}: ${n(count)}`),
        )
      : ['  none']),
    'Skipped:',
    ...(Object.keys(report.skips).length
      ? Object.entries(report.skips)
          .sort((a, b) => b[1] - a[1])
          .map(([reason, count]) => `  ${reason}: ${n(count)}`)
      : ['  none']),
  ];
  if (report.samples.length) {
    lines.push('Sample contacts:');
    for (const sample of report.samples) {
      lines.push(`  ${sample.contact}`, ...timelineLines(sample.timeline));
    }
  }
  if (report.todaysValues.length) {
    lines.push(
      'Read as it is today, not as it was (the verdicts of these events may differ from the past’s):',
      ...report.todaysValues.map(
        (t) => `  ${t.what}: ${n(t.events)} event${t.events === 1 ? '' : 's'}`,
      ),
    );
  }
  lines.push('Simplifications:', ...report.simplifications.map((s) => `  - ${s}`));
  return lines;
}

type Timeline = BacktestReport['samples'][number]['timeline'];

/** A run shorter than this many repeats is printed as it is. */
const REPEATS = 3;
/** Longest group of lines looked for repeating (an event's matched / skipped pair is 2). */
const GROUP = 3;

/**
 * A sample's timeline as printed, kept short: a line or a group of lines
 * that comes back the same (outcome and reason; the time aside) three times
 * or more in a row — an event matched then skipped as already in the
 * journey, again and again — is printed once, followed by how many more
 * times it came and until when. `--json` has every entry.
 */
function timelineLines(timeline: Timeline): string[] {
  const same = (a: number, b: number) =>
    timeline[a]!.outcome === timeline[b]!.outcome && timeline[a]!.reason === timeline[b]!.reason;
  const line = (t: Timeline[number]) => `    ${printed(t.at)}  ${t.outcome.padEnd(9)} ${t.reason}`;
  const lines: string[] = [];
  for (let i = 0; i < timeline.length; ) {
    // The group length whose run covers the most entries from i.
    let best = { size: 1, repeats: 1 };
    for (let size = 1; size <= GROUP; size++) {
      let repeats = 1;
      const sameGroup = (start: number) =>
        Array.from({ length: size }, (_, k) => k).every((k) => same(i + k, start + k));
      while (i + (repeats + 1) * size <= timeline.length && sameGroup(i + repeats * size)) {
        repeats++;
      }
      if (repeats >= REPEATS && repeats * size > best.repeats * best.size) best = { size, repeats };
    }
    for (let k = 0; k < best.size; k++) lines.push(line(timeline[i + k]!));
    const covered = best.size * best.repeats;
    if (best.repeats > 1) {
      const more = best.repeats - 1;
      const last = timeline[i + covered - 1]!.at;
      lines.push(
        `    … ${more === 1 ? 'once more' : `${more} more times`}, the last at ${printed(last)}`,
      );
    }
    i += covered;
  }
  return lines;
}
