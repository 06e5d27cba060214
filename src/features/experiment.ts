// A feature's experiment as written (goal, holdout, split) compiled and
// checked: every problem becomes a ConfigError at its file:line, like the rest
// of the feature file. What the engine does with it is in
// src/engine/journeys/experiment.ts (assignment) and goal.ts (conversion);
// docs/experiments.md explains both.
import { type Condition, testsOf } from '../conditions/index.js';
import type { FieldPath, YamlSource } from '../config/yaml.js';
import type { ConfigError } from '../errors.js';
import { didYouMean } from '../suggest.js';
import { isStandIn, written } from './salvage.js';
import { type ActionKind, actionSchemas, type FeatureFile, parseDuration } from './schema.js';

/** What the feature is for: a condition and/or an event, within a time limit after entering. */
export interface FeatureGoal {
  /** Holds on conversion: contact.* (and, with `event`, new.* for the event's properties). */
  when?: Condition;
  /** An event of the contact that converts (when `when` holds too). */
  event?: string;
  withinMs: number;
}

export interface Variant {
  name: string;
  weight: number;
  /** Per action kind of the split stage, the parameters this variant replaces. */
  overrides: Partial<Record<ActionKind, Record<string, unknown>>>;
}

/** How entering contacts are divided: a holdout share and, optionally, a split stage's variants. */
export interface FeatureExperiment {
  /** Percent of contacts (0 when none) who get no messages. */
  holdoutPercent: number;
  split?: { stage: string; variants: Variant[] };
}

/** The group name of the holdout, reserved: no variant may take it. */
export const HOLDOUT = 'holdout';
/** The group of contacts not held out in a feature without a split. */
export const TREATED = 'treated';

/** Action kinds a variant may change: those whose parameters are a mapping. */
export const OVERRIDABLE = [
  'email',
  'webhook',
  'function',
  'track',
] as const satisfies ActionKind[];

/**
 * The goal and the experiment of a feature file, or undefined for each it
 * does not declare. `condition` parses a condition in place (reporting at
 * its path); errors found here are pushed onto `errors`. `hasContact`: the
 * feature finds a contact for its rows (a goal is measured per contact).
 */
export function compileExperiment(
  file: Pick<FeatureFile, 'goal' | 'holdout' | 'stages'>,
  source: YamlSource,
  condition: (value: unknown, at: FieldPath) => Condition | undefined,
  errors: ConfigError[],
  hasContact: boolean,
): { goal?: FeatureGoal; experiment?: FeatureExperiment } {
  if (file.goal && !hasContact) {
    errors.push(
      source.error(
        ['goal'],
        'a goal is measured per contact, so this feature needs contact: { id: new.<column> } (or email / phone)',
        { key: true },
      ),
    );
  }
  const goal = file.goal ? compileGoal(file.goal, source, condition, errors) : undefined;
  // What needs a goal, or one split only, is what is written, whether it fits the schema or not.
  const splits = file.stages.flatMap((stage, index) =>
    written(source.value, ['stages', index, 'split']) ? [{ stage, index }] : [],
  );
  for (const extra of splits.slice(1)) {
    errors.push(
      source.error(
        ['stages', extra.index, 'split'],
        `only one stage may split (stage ${splits[0]!.stage.name} already does): a contact has one variant per feature`,
        { key: true },
      ),
    );
  }
  const first = splits[0]?.stage.split ? splits[0] : undefined;
  const split = first
    ? {
        stage: first.stage.name,
        variants: first.stage.split!.map((variant, i) =>
          compileVariant(variant, first.stage, source, ['stages', first.index, 'split', i], errors),
        ),
      }
    : undefined;
  if (split) {
    const seen = new Set<string>();
    split.variants.forEach((variant, i) => {
      const at = ['stages', first!.index, 'split', i, 'name'];
      if (variant.name === HOLDOUT || variant.name === TREATED) {
        errors.push(source.error(at, `"${variant.name}" is reserved; name the variant otherwise`));
      } else if (seen.has(variant.name)) {
        errors.push(source.error(at, `variant "${variant.name}" is defined twice`));
      }
      seen.add(variant.name);
    });
  }
  const holdoutPercent = file.holdout ?? 0;
  const measured = splits[0] ?? (written(source.value, ['holdout']) ? 'holdout' : undefined);
  if (measured && !written(source.value, ['goal'])) {
    errors.push(
      source.error(
        measured === 'holdout' ? ['holdout'] : ['stages', measured.index, 'split'],
        `a ${measured === 'holdout' ? 'holdout' : 'split'} needs a goal to measure it: add goal: { when: ..., within: 7d }`,
        { key: true },
      ),
    );
  }
  const experiment =
    split || holdoutPercent > 0 ? { holdoutPercent, ...(split ? { split } : {}) } : undefined;
  return { ...(goal ? { goal } : {}), ...(experiment ? { experiment } : {}) };
}

function compileGoal(
  spec: NonNullable<FeatureFile['goal']>,
  source: YamlSource,
  condition: (value: unknown, at: FieldPath) => Condition | undefined,
  errors: ConfigError[],
): FeatureGoal | undefined {
  const when = condition(spec.when, ['goal', 'when']);
  if (when && spec.event === undefined) {
    const row = testsOf(when).find((test) => test.field.scope !== 'contact');
    if (row) {
      errors.push(
        source.error(
          ['goal', 'when', ...row.path],
          `${row.field.raw}: a goal without an event reads only contact.*; add event: <name> to test the event's properties`,
        ),
      );
      return undefined;
    }
  }
  return {
    ...(when ? { when } : {}),
    ...(spec.event !== undefined ? { event: spec.event } : {}),
    withinMs: parseDuration(spec.within)!,
  };
}

function compileVariant(
  spec: NonNullable<FeatureFile['stages'][number]['split']>[number],
  stage: FeatureFile['stages'][number],
  source: YamlSource,
  at: FieldPath,
  errors: ConfigError[],
): Variant {
  const overrides: Variant['overrides'] = {};
  const kinds = stage.do.map((action) => action.kind);
  for (const [kind, params] of Object.entries(spec.with)) {
    const place = [...at, 'with', kind];
    if (!(OVERRIDABLE as readonly string[]).includes(kind)) {
      errors.push(
        source.error(
          place,
          `a variant changes the parameters of ${OVERRIDABLE.join(', ')} actions, not "${kind}"${didYouMean(kind, [...OVERRIDABLE])}`,
          { key: true },
        ),
      );
      continue;
    }
    // An action that could not be read may be the one meant (its problem is said on its own).
    if (!kinds.includes(kind as ActionKind) && !stage.do.some(isStandIn)) {
      errors.push(
        source.error(place, `stage ${stage.name} has no ${kind} action to change`, { key: true }),
      );
      continue;
    }
    const schema = actionSchemas[kind as (typeof OVERRIDABLE)[number]].partial();
    const result = schema.safeParse(params);
    if (!result.success) {
      for (const issue of result.error.issues) {
        const key = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
        errors.push(
          source.error(
            [...place, ...(key ? [key] : issue.path.map((p) => (typeof p === 'symbol' ? '' : p)))],
            key
              ? `unknown ${kind} parameter "${key}"${didYouMean(key, Object.keys(schema.shape))}`
              : issue.message,
            { key: key !== undefined },
          ),
        );
      }
      continue;
    }
    // Only what the variant wrote: defaults of the full schema must not replace the stage's.
    overrides[kind as ActionKind] = Object.fromEntries(
      Object.keys(params).map((name) => [name, (result.data as Record<string, unknown>)[name]]),
    );
  }
  return { name: spec.name, weight: spec.weight, overrides };
}
