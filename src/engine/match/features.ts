// Features as the engine runs them: every condition compiled once to a
// JavaScript predicate (typed by the live schema), indexed by (schema, table,
// operation) and by event name, so the cost per event depends only on the
// features that watch its table — never on features elsewhere.
import { canonicalEventName, namedEvent } from '../../capture/named-events.js';
import type { Operation } from '../../capture/triggers.js';
import {
  type Condition,
  compileJs,
  type EvaluationContext,
  type FieldRef,
  testsOf,
  type Verdict,
} from '../../conditions/index.js';
import { JsonNumber } from '../../db/json.js';
import { type AttributeTypes, conditionsOf } from '../../features/check.js';
import type { Feature } from '../../features/load.js';
import type { Action } from '../../features/schema.js';
import { typeResolver } from '../../features/types.js';
import type { Catalog } from '../../source/catalog.js';
import type { TableName } from '../../source/names.js';
import { compileGoal, type RuntimeGoal } from '../journeys/goal.js';

export type Row = Record<string, unknown>;

export interface Predicate {
  condition: Condition;
  test: (ctx: EvaluationContext) => Verdict;
}

export interface RuntimeTransition {
  to: string | null;
  afterMs?: number;
  withinMs?: number;
  when?: Predicate;
  until?: Predicate;
}

export interface RuntimeStage {
  name: string;
  index: number;
  guard?: Predicate;
  actions: Action[];
  transitions: RuntimeTransition[];
}

export interface RuntimeFeature {
  name: string;
  feature: Feature;
  /** The table whose rows the feature's new/old refer to. */
  table?: TableName;
  when?: Predicate;
  exit?: Predicate;
  stages: Map<string, RuntimeStage>;
  initial: string;
  /** Some condition reads contact.*: load the contact before evaluating. */
  readsContact: boolean;
  /** What the feature is for (docs/experiments.md): conversions are recorded by the lanes. */
  goal?: RuntimeGoal;
}

const key = (schema: string, table: string, operation: string) =>
  `${schema}\u0000${table}\u0000${operation}`;

export class FeatureSet {
  private byTable = new Map<string, RuntimeFeature[]>();
  private byEvent = new Map<string, RuntimeFeature[]>();
  private byName = new Map<string, RuntimeFeature>();
  /** Set by replace, as the maps are. */
  private current!: Catalog;
  /** Paused live (nudge pause, the dashboard): kept current by watchPauses (pauses.ts). */
  private pausedLive: ReadonlySet<string> = new Set();

  constructor(
    features: Feature[],
    catalog: Catalog,
    private readonly attributes: AttributeTypes = {},
  ) {
    this.replace(features, catalog);
  }

  /**
   * Runs `features` from now on, compiled against `catalog` (the feature
   * files read again after a deploy, follow-deploys.ts). Every map is built
   * before any is swapped in, so a lane's next look sees either set, whole:
   * a feature's compile error leaves the running set as it was.
   */
  replace(features: Feature[], catalog: Catalog): void {
    const byTable = new Map<string, RuntimeFeature[]>();
    const byEvent = new Map<string, RuntimeFeature[]>();
    const byName = new Map<string, RuntimeFeature>();
    for (const feature of features) {
      if (feature.status === 'draft') continue;
      const runtime = compileFeature(feature, catalog, this.attributes);
      byName.set(runtime.name, runtime);
      const trigger = feature.trigger;
      if (trigger.kind === 'table') {
        for (const operation of trigger.operations) {
          push(byTable, key(trigger.table.schema, trigger.table.table, operation), runtime);
        }
      } else if (trigger.kind === 'event') {
        push(byEvent, canonicalEventName(trigger.event), runtime);
      }
    }
    this.byTable = byTable;
    this.byEvent = byEvent;
    this.byName = byName;
    this.current = catalog;
  }

  /** The live schema the features were compiled against (scheduled features' segment queries read it too). */
  get catalog(): Catalog {
    return this.current;
  }

  /** Paused in its file (`status: paused`) or live: its trigger events are skipped as `paused`. */
  isPaused(feature: RuntimeFeature): boolean {
    return feature.feature.status === 'paused' || this.pausedLive.has(feature.name);
  }
  /** The features paused live, replacing the previous set (pauses.ts). */
  setPausedLive(names: Iterable<string>): void {
    this.pausedLive = new Set(names);
  }
  get(name: string): RuntimeFeature | undefined {
    return this.byName.get(name);
  }
  all(): RuntimeFeature[] {
    return [...this.byName.values()];
  }
  forTable(schema: string, table: string, operation: Operation): RuntimeFeature[] {
    return this.byTable.get(key(schema, table, operation)) ?? [];
  }
  forEvent(name: string): RuntimeFeature[] {
    return this.byEvent.get(canonicalEventName(name)) ?? [];
  }
  scheduled(): RuntimeFeature[] {
    return this.all().filter((f) => f.feature.trigger.kind === 'schedule');
  }
}

function push<K, V>(map: Map<K, V[]>, k: K, value: V): void {
  const list = map.get(k);
  if (list) list.push(value);
  else map.set(k, [value]);
}

function tableOf(feature: Feature): TableName | undefined {
  const trigger = feature.trigger;
  if (trigger.kind !== 'event') return trigger.table;
  return namedEvent(trigger.event)?.table;
}

function compileFeature(
  feature: Feature,
  catalog: Catalog,
  attributes: AttributeTypes,
): RuntimeFeature {
  const table = tableOf(feature);
  const typeOf = typeResolver(
    table ? catalog.get(table) : undefined,
    attributes,
    conditionsOf(feature).map(([, c]) => c),
  );
  let readsContact = false;
  const predicate = (condition: Condition | undefined): Predicate | undefined => {
    if (!condition) return undefined;
    if (testsOf(condition).some((t) => t.field.scope === 'contact')) readsContact = true;
    return { condition, test: compileJs(condition, { typeOf }) };
  };
  const stages = new Map<string, RuntimeStage>();
  [...feature.machine.stages.values()].forEach((stage, index) => {
    stages.set(stage.name, {
      name: stage.name,
      index,
      ...optional('guard', predicate(stage.guard)),
      actions: stage.actions,
      transitions: stage.transitions.map((t) => ({
        to: t.to,
        ...optional('afterMs', t.afterMs),
        ...optional('withinMs', t.withinMs),
        ...optional('when', predicate(t.when)),
        ...optional('until', predicate(t.until)),
      })),
    });
  });
  const runtime: RuntimeFeature = {
    name: feature.name,
    feature,
    ...optional('table', table),
    ...optional('when', predicate(feature.trigger.when)),
    ...optional('exit', predicate(feature.exit)),
    stages,
    initial: feature.machine.initial,
    readsContact: false,
    ...optional('goal', feature.goal && compileGoal(feature.goal, attributes, typeOf)),
  };
  runtime.readsContact = readsContact;
  return runtime;
}

function optional<K extends string, V>(k: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [k]: value }) as { [P in K]?: V };
}

/** The value a field reference names in a row, following a JSON path. */
export function readField(field: FieldRef, rows: { new?: Row | null; old?: Row | null }): unknown {
  const row = field.scope === 'old' ? rows.old : rows.new;
  let value: unknown = row?.[field.column];
  for (const step of field.jsonPath) {
    if (value === null || typeof value !== 'object' || value instanceof JsonNumber)
      return undefined;
    value = Array.isArray(value) ? value.at(Number(step)) : (value as Row)[step];
  }
  return value;
}
