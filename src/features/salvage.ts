// What of a feature file can be read when the file as a whole does not fit
// the schema: each field that fits on its own, so that the checks after the
// schema (stages, templates, columns, attributes) run over it in the same
// round, and a user who fixes every problem listed is not shown new ones.
// What is read here is checked, never run: the file's problems stop it.
import { z } from 'zod';
import { type FieldPath, formatPath } from '../config/yaml.js';
import { valueAtPath } from '../zod-words.js';
import {
  type Action,
  type ActionKind,
  actionSchema,
  actionSchemas,
  type FeatureFile,
  featureSchema,
  stageSchema,
  transitionSchema,
} from './schema.js';

/**
 * A feature file as far as it could be read: every field that fits (a
 * field that does not is left out, or takes its default); the trigger and
 * the stages are missing only when nothing of them could be read.
 */
export type ReadableFile = Omit<FeatureFile, 'trigger' | 'stages'> & {
  trigger?: FeatureFile['trigger'];
  stages?: FeatureFile['stages'];
};

const UNREAD = Symbol('unread');

/** Stand-ins for actions that could not be read, so that the ones after keep their places. */
const standIns = new WeakSet<Action>();

/**
 * Whether an action is a stand-in for one that could not be read (an
 * unknown kind, a required parameter missing): an `exit: true`, inert in
 * every check, holding its place in `do` so that the checks that locate
 * actions by position (stages[i].do[j]) place the others right.
 */
export function isStandIn(action: Action): boolean {
  return standIns.has(action);
}

/** The readable part of a feature file's value (see ReadableFile). */
export function readablePart(value: unknown): ReadableFile {
  const raw = isMapping(value) ? value : {};
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(featureSchema.shape)) {
    if (key === 'stages') continue;
    const fit = fitting(field, raw[key]);
    out[key] = fit === UNREAD ? defaultOf(field) : field.parse(fit);
  }
  const stages = raw.stages;
  if (Array.isArray(stages) && stages.length > 0) out.stages = stages.map(readableStage);
  return out as ReadableFile;
}

/**
 * One stage: its fields that fit, its actions and transitions one by one.
 * A name off the schema is kept as written (or `stages[i]` when it is not
 * text), so that a goto to it is not also reported.
 */
function readableStage(value: unknown, index: number): FeatureFile['stages'][number] {
  const raw = isMapping(value) ? value : {};
  const { name, do: actions, next, ...rest } = raw;
  const fit = fitting(stageSchema, { ...rest, name: 'stage' });
  const stage = fit === UNREAD ? stageSchema.parse({ name: 'stage' }) : stageSchema.parse(fit);
  stage.name = typeof name === 'string' && name !== '' ? name : formatPath(['stages', index]);
  stage.do = Array.isArray(actions) ? actions.map(readableAction) : [];
  if (Array.isArray(next) && next.length > 0) stage.next = next.map(readableTransition);
  else delete stage.next;
  return stage;
}

/** An action, with the parameters that fit (a required one that does not: a stand-in). */
function readableAction(value: unknown): Action {
  const parsed = actionSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const [kind, params] = isMapping(value) ? (Object.entries(value)[0] ?? []) : [];
  const schema = kind === undefined ? undefined : actionSchemas[kind as ActionKind];
  const fit =
    schema && Object.keys(value as object).length === 1 ? fitting(schema, params) : UNREAD;
  if (fit !== UNREAD) return { kind, params: schema!.parse(fit) } as Action;
  const standIn: Action = { kind: 'exit', params: true };
  standIns.add(standIn);
  return standIn;
}

/** A transition; one whose `to` does not fit goes nowhere (`to: null`), its conditions kept. */
function readableTransition(value: unknown): z.output<typeof transitionSchema> {
  const raw = isMapping(value) ? value : {};
  for (const candidate of [raw, { ...raw, to: null }]) {
    const fit = fitting(transitionSchema, candidate);
    if (fit !== UNREAD) return transitionSchema.parse(fit);
  }
  return { to: null };
}

/**
 * `value` as far as it fits `schema`, as input to parse: the value itself
 * when it fits; for a mapping, the fields that fit (unknown fields dropped,
 * a field that does not fit left out when it may be, and fields a
 * refinement across them names left out until it holds); else UNREAD.
 */
function fitting(schema: z.ZodType, value: unknown): unknown {
  if (value === undefined) return UNREAD;
  if (schema.safeParse(value).success) return value;
  const inner = unwrapped(schema);
  if (!isMapping(value)) return UNREAD;
  if (inner instanceof z.ZodRecord) {
    const keyType = inner.keyType as z.ZodType;
    const valueType = inner.valueType as z.ZodType;
    const out = Object.fromEntries(
      Object.entries(value).flatMap(([key, item]) => {
        const fit = keyType.safeParse(key).success ? fitting(valueType, item) : UNREAD;
        return fit === UNREAD ? [] : [[key, fit]];
      }),
    );
    return inner.safeParse(out).success ? out : UNREAD;
  }
  if (!(inner instanceof z.ZodObject)) return UNREAD;
  const shape = inner.shape as Record<string, z.ZodType>;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(shape)) {
    const fit = fitting(field, value[key]);
    if (fit !== UNREAD) out[key] = fit;
    else if (value[key] !== undefined && !field.safeParse(undefined).success) return UNREAD;
  }
  for (;;) {
    const result = inner.safeParse(out);
    if (result.success) return out;
    const named = result.error.issues
      .map((issue) => issue.path[0])
      .filter(
        (key): key is string =>
          typeof key === 'string' && key in out && shape[key]!.safeParse(undefined).success,
      );
    if (named.length === 0) return UNREAD;
    for (const key of named) delete out[key];
  }
}

/** What a field left out reads as: its default, or undefined. */
function defaultOf(field: z.ZodType): unknown {
  const parsed = field.safeParse(undefined);
  return parsed.success ? parsed.data : undefined;
}

/** The schema inside optional() and default(). */
function unwrapped(schema: z.ZodType): z.ZodType {
  let inner = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault)
    inner = inner._zod.def.innerType as z.ZodType;
  return inner;
}

/** Whether something is written at `at` in the file, fitting or not. */
export function written(value: unknown, at: FieldPath): boolean {
  return valueAtPath(value, at) !== undefined;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
