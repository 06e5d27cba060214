// Loads feature files: YAML with positions, the feature schema, conditions
// parsed in place (so a bad condition is reported at its own line), action
// parameters checked as written (action-checks.ts), and the stages compiled
// into a state machine. Reading goes on past a problem — a file off the
// schema is read for what fits (salvage.ts) — so every problem of every file
// is found in one round. Checks against the live database (tables, columns,
// literal types) happen in check.ts.

import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { namedEvent } from '../capture/named-events.js';
import type { Operation } from '../capture/triggers.js';
import { parseField } from '../conditions/filter.js';
import {
  type Condition,
  ConditionError,
  type FieldRef,
  parseConditionFully,
  testsOf,
} from '../conditions/index.js';
import {
  type FieldPath,
  formatPath,
  readYamlFile,
  validate,
  type YamlSource,
} from '../config/yaml.js';
import { type ConfigError, NudgeError, throwInFileOrder } from '../errors.js';
import { parseTableName, type TableName } from '../source/names.js';
import { didYouMean } from '../suggest.js';
import { valueAtPath } from '../zod-words.js';
import { actionProblems, actionVariables, type VariableUse } from './action-checks.js';
import { compileExperiment, type FeatureExperiment, type FeatureGoal } from './experiment.js';
import { compileMachine, type Machine } from './machine.js';
import { configErrorsIn, type FeatureFiles } from './problems.js';
import { type ReadableFile, readablePart, written } from './salvage.js';
import {
  conditionSchema,
  conditionsWritten,
  type FeatureFile,
  featureSchema,
  parseDuration,
} from './schema.js';

export type FeatureTrigger =
  | {
      kind: 'table';
      table: TableName;
      operations: Operation[];
      columns?: string[];
      when?: Condition;
    }
  | { kind: 'event'; event: string; when?: Condition }
  | { kind: 'schedule'; table: TableName; everyMs: number; when?: Condition };

export interface FeatureEnrichment {
  name: string;
  table: TableName;
  column: string;
  from: FieldRef;
  columns?: string[];
}

export interface Feature {
  name: string;
  status: 'active' | 'paused' | 'draft';
  description?: string;
  trigger: FeatureTrigger;
  contact: { id?: FieldRef; email?: FieldRef; phone?: FieldRef };
  enrich: FeatureEnrichment[];
  machine: Machine;
  exit?: Condition;
  cooldownMs?: number;
  maxEntries?: number;
  reEntry: 'after_exit' | 'never' | 'restart';
  /** What the feature is for, and how its contacts are divided to measure it (experiment.ts). */
  goal?: FeatureGoal;
  experiment?: FeatureExperiment;
  /** The file, to locate errors found later (e.g. a column missing in the live schema). */
  source: YamlSource;
  /**
   * The new.* / old.* fields of condition entries that could not be read
   * (`new.emial: eqq.x`), where each is written: not tested, but their
   * columns are checked all the same, so the column comes in the same round
   * as the operator.
   */
  unreadFields?: { at: FieldPath; field: FieldRef }[];
  /**
   * Every variable the Liquid of its actions reads, where each is read
   * (action-checks.ts): found once, at load, for every check of them.
   */
  variables: VariableUse[];
}

/** Scopes a condition may use, by where it is written. */
export const ROW_SCOPES = ['new', 'old', 'contact'] as const;

/**
 * The features of `dir`'s files, or every problem of every file thrown
 * together (ConfigErrors, in file and line order).
 */
export async function loadFeatures(
  dir: string,
  env: Record<string, string | undefined>,
  cwd = process.cwd(),
): Promise<Feature[]> {
  const files = await readFeatureFiles(dir, env, cwd);
  throwInFileOrder(files.errors);
  return files.features;
}

/**
 * Every feature file of `dir`, read without stopping at the first one with
 * a problem: the features to run, what could be read of the others (for the
 * database checks, problems.ts), and every problem found.
 */
export async function readFeatureFiles(
  dir: string,
  env: Record<string, string | undefined>,
  cwd = process.cwd(),
): Promise<FeatureFiles> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return { features: [], incomplete: [], errors: [] };
    throw error;
  }
  const files: FeatureFiles = { features: [], incomplete: [], errors: [] };
  const seen = new Map<string, string>();
  for (const name of names) {
    let read: { feature: Feature; errors: ConfigError[] };
    try {
      read = readFeature(await readYamlFile(path.join(dir, name), env, cwd), name);
    } catch (error) {
      const list = configErrorsIn(error);
      if (!list) throw error;
      files.errors.push(...list);
      continue;
    }
    const { feature, errors } = read;
    files.errors.push(...errors);
    const previous = seen.get(feature.name);
    if (previous) {
      files.errors.push(
        feature.source.error(
          ['name'],
          `feature "${feature.name}" is already defined in ${previous}`,
        ),
      );
    } else {
      seen.set(feature.name, feature.source.file);
    }
    (previous || errors.length ? files.incomplete : files.features).push(feature);
  }
  return files;
}

/**
 * Where each condition of a feature file was written (`stages[1].unless`,
 * `stages[0].next[0].when`), for errors found after parsing: a stage's
 * guard combines its if and unless, so the machine alone no longer says.
 */
const writtenAt = new WeakMap<Condition, FieldPath>();

/** Where this condition was written in its feature file, if it was parsed from one. */
export function conditionPlace(condition: Condition): FieldPath | undefined {
  return writtenAt.get(condition);
}

/** One feature file, already read. Throws located ConfigErrors. */
export function parseFeature(source: YamlSource, fileName: string): Feature {
  const { feature, errors } = readFeature(source, fileName);
  throwInFileOrder(errors);
  return feature;
}

/**
 * Whether a feature's trigger stands in for one its file does not give
 * (neither a table nor an event, unreadTrigger): an event of no name, which
 * the schema refuses in a file. It names no rows, so the checks that read
 * the rows skip such a feature and every other check runs over it (check.ts).
 */
export function triggerUnread(feature: Feature): boolean {
  return feature.trigger.kind === 'event' && feature.trigger.event === '';
}

/**
 * One feature file, already read, with every problem found in it. With
 * problems, the feature holds what could be read, to check (its name, its
 * templates, its columns), never to run: a file off the schema without the
 * fields that do not fit, a condition without its bad entries, a contact
 * without its bad field; a trigger that could not be read at all stands in
 * as one that names no rows, stages that could not be read as none. So a
 * problem that makes one part unreadable hides nothing of the others.
 */
function readFeature(
  source: YamlSource,
  fileName: string,
): { feature: Feature; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const unreadFields: { at: FieldPath; field: FieldRef }[] = [];
  const parsed = new Set<string>();
  const condition = (value: unknown, at: FieldPath): Condition | undefined => {
    if (value === undefined) return undefined;
    parsed.add(formatPath(at));
    const read = parseConditionFully(value, {
      scopes: ROW_SCOPES,
      scalarText: (path) => source.scalarText([...at, ...path]),
    });
    for (const error of read.errors) {
      errors.push(source.error([...at, ...error.path], error.message));
      const key = error.path.at(-1);
      const field = typeof key === 'string' ? rowField(key) : undefined;
      if (field) unreadFields.push({ at: [...at, ...error.path], field });
    }
    if (read.condition) writtenAt.set(read.condition, at);
    return read.condition;
  };
  let file: ReadableFile;
  try {
    file = validate(source, featureSchema);
  } catch (error) {
    const list = configErrorsIn(error);
    if (!list) throw error;
    errors.push(...list);
    // Off the schema: what fits is read all the same, so that every other problem shows now.
    file = readablePart(source.value);
  }
  const variables = actionVariables(source.value);
  for (const { at, problem, hint } of actionProblems(source.value, variables))
    errors.push(source.error(at, problem, hint ? { hint } : {}));
  const field = (raw: string | undefined, at: FieldPath): FieldRef | undefined => {
    if (raw === undefined) return undefined;
    try {
      return parseField(raw, ['new', 'old'], at);
    } catch (error) {
      if (!(error instanceof ConditionError)) throw error;
      errors.push(source.error(at, error.message));
      return undefined;
    }
  };

  const trigger = file.trigger && triggerOf(file.trigger, condition);
  if (trigger?.kind === 'schedule' && trigger.when) {
    errors.push(...scheduleReads(trigger.when, source));
  }
  const contactDefault = file.contact ?? (trigger ? defaultContact(trigger) : {});
  // Whether a contact is written, even one with a problem (reported on its own).
  const hasContact = Object.keys(contactDefault).length > 0 || written(source.value, ['contact']);
  const contact = {
    ...optional('id', field(contactDefault.id, ['contact', 'id'])),
    ...optional('email', field(contactDefault.email, ['contact', 'email'])),
    ...optional('phone', field(contactDefault.phone, ['contact', 'phone'])),
  };
  const enrich = Object.entries(file.enrich ?? {}).flatMap(([name, e]) => {
    const [column, ref] = Object.entries(e.match)[0]!;
    const from = field(ref, ['enrich', name, 'match', column]);
    return from
      ? [{ name, table: parseTableName(e.table)!, column, from, ...optional('columns', e.columns) }]
      : [];
  });
  const machine: Machine = file.stages
    ? compileMachine(file.stages, source, condition, errors)
    : { initial: '', stages: new Map() };
  // As written, fitting or not: a cooldown off the schema still limits entries per contact.
  const stages = valueAtPath(source.value, ['stages']);
  const needsContact =
    written(source.value, ['cooldown']) ||
    written(source.value, ['max_entries']) ||
    (Array.isArray(stages) &&
      (stages.length > 1 ||
        stages.some((_, i) => ['after', 'until'].some((key) => written(stages, [i, key])))));
  // Without a trigger, the contact it would give is not known: nothing to say.
  if (needsContact && !hasContact && trigger) {
    errors.push(
      source.error(
        ['trigger'],
        'this feature waits or limits entries per contact, so it needs contact: { id: new.<column> } (or email / phone)',
        { key: true },
      ),
    );
  }
  const exit = condition(file.exit?.when, ['exit', 'when']);
  const measured = compileExperiment(
    { goal: file.goal, holdout: file.holdout, stages: file.stages ?? [] },
    source,
    condition,
    errors,
    hasContact,
  );
  // No trigger read: a stand-in, its condition read here rather than alone below.
  const triggerRead = trigger ?? unreadTrigger(source, condition);
  // A condition inside a part that could not be read (a goal without within) is read alone.
  for (const at of conditionsWritten(source.value))
    if (!parsed.has(formatPath(at))) condition(valueAtPath(source.value, at), at);
  const feature: Feature = {
    name: file.name ?? fileName.replace(/\.ya?ml$/, ''),
    status: file.status,
    ...optional('description', file.description),
    trigger: triggerRead,
    contact,
    enrich,
    machine,
    ...optional('exit', exit),
    ...optional('cooldownMs', file.cooldown ? parseDuration(file.cooldown) : undefined),
    ...optional('maxEntries', file.max_entries),
    reEntry: file.re_entry,
    ...measured,
    source,
    ...(unreadFields.length ? { unreadFields } : {}),
    variables,
  };
  return { feature, errors };
}

/**
 * How the contact is found when the feature does not say: an auth.users row
 * (table trigger on auth.users, or user.* events) by its id and email; a
 * storage object by its owner; an event tracked through the API by the
 * auth_user_id / email it carries.
 */
function defaultContact(trigger: FeatureTrigger): { id?: string; email?: string; phone?: string } {
  if (trigger.kind === 'event') {
    const named = namedEvent(trigger.event);
    if (!named) return { id: 'new.auth_user_id', email: 'new.email' };
    // A deletion has only the old row.
    const row = named.operation === 'delete' ? 'old' : 'new';
    return named.table.schema === 'storage'
      ? { id: `${row}.owner` }
      : { id: `${row}.id`, email: `${row}.email` };
  }
  return trigger.table.schema === 'auth' && trigger.table.table === 'users'
    ? { id: 'new.id', email: 'new.email' }
    : {};
}

/**
 * The stand-in for a trigger that could not be read (see triggerUnread),
 * with its condition when one is written: what of it does not read the
 * rows (contact.*) is checked all the same.
 */
function unreadTrigger(
  source: YamlSource,
  condition: (value: unknown, at: FieldPath) => Condition | undefined,
): FeatureTrigger {
  const at = ['trigger', 'when'];
  const value = valueAtPath(source.value, at);
  // Only a mapping: the schema has already said what else is wrong with one.
  const when = conditionSchema.safeParse(value).success ? condition(value, at) : undefined;
  return { kind: 'event', event: '', ...optional('when', when) };
}

function triggerOf(
  spec: FeatureFile['trigger'],
  condition: (value: unknown, at: FieldPath) => Condition | undefined,
): FeatureTrigger {
  const when = condition(spec.when, ['trigger', 'when']);
  if (spec.event !== undefined) {
    return { kind: 'event', event: spec.event, ...optional('when', when) };
  }
  const table = parseTableName(spec.table!)!;
  if (spec.schedule) {
    return {
      kind: 'schedule',
      table,
      everyMs: parseDuration(spec.schedule.every)!,
      ...optional('when', when),
    };
  }
  return {
    kind: 'table',
    table,
    operations: [...new Set([spec.on ?? 'insert'].flat())],
    ...optional('columns', spec.columns),
    ...optional('when', when),
  };
}

/**
 * A schedule's when runs as SQL over its table (engine/intake/schedule.ts),
 * where the row as it is now is all there is: no old row, no contact yet.
 */
function scheduleReads(when: Condition, source: YamlSource): ConfigError[] {
  return testsOf(when)
    .filter((test) => test.field.scope !== 'new')
    .map((test) =>
      source.error(
        ['trigger', 'when', ...test.path],
        `a schedule's when is a query over its table, which reads new.* (the row as it is now), not ${test.field.scope}.*`,
        {
          hint:
            test.field.scope === 'contact'
              ? `test ${test.field.raw} in the first stage's if or unless, which sees the contact`
              : `write new.${test.field.column}`,
        },
      ),
    );
}

/** The new.* / old.* field a condition's key names, if it names one. */
function rowField(key: string): FieldRef | undefined {
  try {
    return parseField(key, ['new', 'old'], []);
  } catch (error) {
    if (error instanceof ConditionError) return undefined;
    throw error;
  }
}

/** `{ key: value }` when value is defined, else `{}` — for exact optional properties. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** No feature of this name (or none given) among `features`: the error every command gives, with the names there are. */
/**
 * `no feature named "<name>" in <dir> (features: a, b)` when no feature has
 * this name, else undefined: what `nudge logs`/`replay` add to an empty
 * answer and what the API's replay refuses with.
 */
export function unknownFeatureText(
  features: Feature[],
  name: string,
  dir: string,
): string | undefined {
  if (features.some((f) => f.name === name)) return undefined;
  const { message, hint } = noSuchFeature(features, name, dir);
  return `${message} (${features.length ? hint : 'the project has no features'})`;
}

export function noSuchFeature(
  features: Feature[],
  name: string | undefined,
  dir: string,
): NudgeError {
  return new NudgeError(
    name
      ? `no feature named "${name}" in ${dir}${didYouMean(
          name,
          features.map((f) => f.name),
        )}`
      : 'say which feature',
    features.length
      ? `features: ${features.map((f) => f.name).join(', ')}`
      : // Often a command run outside the project: its folder is where nudge.yaml is.
        'no feature file is there: run the command in your project (where nudge.yaml is), or pass --config path/to/nudge.yaml',
  );
}
