// What a backtest reports, counted as the simulation goes (an Observer of
// simulate.ts): events read and matched, contacts entered, how many reached
// each stage, the actions that would have run by kind (emails per template,
// webhooks per URL), skip reasons with counts, where journeys stood at the
// end, ten sample contacts with their simulated timelines — each count by the
// history source it came from — and the simplifications made.
import type { NewActionRun } from '../actions/types.js';
import type { Decision, JourneyRow } from '../engine/journeys/machine.js';
import type { SimulatedContact } from './contacts.js';
import type { HistorySource, SourcePlan } from './history.js';
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
  private matched = 0;
  private entries = 0;
  private readonly entered = new Set<string>();
  private readonly bySource = new Map<string, { read: number; matched: number; entered: number }>();
  private readonly stages = new Map<string, number>();
  private readonly actionsByKind = new Map<string, Map<string, number>>();
  private readonly skips = new Map<string, number>();
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

  event(source: HistorySource): void {
    this.read++;
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
    simplifications: string[];
    ms: number;
  }): BacktestReport {
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
      events: { read: this.read, matched: this.matched, bySource: record(this.bySource) },
      contacts: { entered: this.entered.size, entries: this.entries },
      stages: [...this.stages].map(([stage, reached]) => ({ stage, reached })),
      journeys: { completed, exited, waiting },
      actions: Object.fromEntries([...this.actionsByKind].map(([kind, m]) => [kind, record(m)])),
      skips: record(this.skips),
      samples: [...this.samples.values()],
      simplifications: fields.simplifications,
      ms: Math.round(fields.ms),
    };
  }
}

/** The report as the CLI prints it. */
export function reportLines(report: BacktestReport): string[] {
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `Backtest of ${report.feature} (status: ${report.status}) from ${report.window.from} to ${report.window.to}, in ${(report.ms / 1000).toFixed(1)} s`,
    '',
    'History:',
    ...report.sources.map(
      (s) =>
        `  ${s.table}: ${s.source}${s.column ? ` (inserts dated by ${s.column})` : ''} from ${s.from} to ${s.to}`,
    ),
    `Events read: ${n(report.events.read)}, matched: ${n(report.events.matched)}`,
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
      lines.push(`  ${sample.contact}`);
      for (const t of sample.timeline)
        lines.push(`    ${t.at}  ${t.outcome.padEnd(9)} ${t.reason}`);
    }
  }
  lines.push('Simplifications:', ...report.simplifications.map((s) => `  - ${s}`));
  return lines;
}
