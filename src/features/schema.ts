// The shape of a feature file (nudge/features/*.yaml). Conditions are checked
// here only as "a mapping"; the condition parser checks their contents with
// precise paths. Actions are validated one kind at a time so that a typo in an
// action name gets "did you mean", not zod's "invalid union".
import { z } from 'zod';
import { durationSchema, parseDuration } from '../config/duration.js';
import { dailyWindowSchema, tableNameSchema } from '../config/schema.js';
import { LIST_NAME, LIST_NAME_RULE } from '../contacts/lists.js';

export { durationSchema, parseDuration };

import { didYouMean } from '../suggest.js';
import { valueAtPath } from '../zod-words.js';

/** A condition: validated in depth by parseCondition. */
export const conditionSchema = z
  .record(z.string(), z.unknown(), {
    error: 'expected a condition mapping such as { "new.status": "eq.paid" }',
  })
  .describe('PostgREST-style condition: { "new.total": "gt.100", or: [...] }');

/**
 * When a refinement across the fields of a mapping runs. Zod's own answer
 * is "once every field of the mapping fits", so one field off the schema
 * hid the refinement's problem (a stage's `do` written as a mapping hid its
 * `within` without `until`) until it was fixed: a round more, as the file
 * read for what fits (salvage.ts) leaves out what a refinement refuses
 * without a word. A refinement that reads only which fields are written
 * runs whatever their values; one that reads values, once the fields it
 * reads (`reads`) fit.
 */
function onceRead(...reads: string[]): { when: (payload: z.core.ParsePayload) => boolean } {
  return {
    when: ({ value, issues }) =>
      isMapping(value) && !issues.some((issue) => reads.includes(String(issue.path?.[0]))),
  };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const nameSchema = (what: string) =>
  z.string({ error: `expected a ${what} name` }).regex(NAME, {
    error: `expected a ${what} name of letters, digits, - and _`,
  });

export const operationSchema = z.enum(['insert', 'update', 'delete']);
const OPERATIONS_LIST = 'insert, update or delete';

const refSchema = z.string({ error: 'expected a field such as new.id or new.email' });

export const triggerSchema = z
  .strictObject({
    table: tableNameSchema.optional(),
    on: z
      .union([operationSchema, z.array(operationSchema).min(1)], {
        error: (issue) =>
          `expected ${OPERATIONS_LIST}, or a list of them${typeof issue.input === 'string' ? didYouMean(issue.input, operationSchema.options) : ''}`,
      })
      .optional(),
    columns: z
      .array(z.string())
      .min(1)
      .optional()
      .describe('update only: fire when one of these changes'),
    when: conditionSchema.optional(),
    event: z.string().min(1).optional().describe('a named event, e.g. user.signed_up'),
    schedule: z
      .strictObject({ every: durationSchema })
      .optional()
      .describe('run `when` over `table` on this interval and enter each matching row'),
  })
  // Which trigger this is needs only the keys written: said even when a value is off the schema.
  .superRefine((trigger, ctx) => {
    const kinds = [trigger.event !== undefined, trigger.schedule !== undefined].filter(
      Boolean,
    ).length;
    if (trigger.event !== undefined && trigger.table !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['event'],
        message: 'give either table or event, not both',
      });
    } else if (trigger.table === undefined && trigger.event === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'expected a table (with on) or an event',
      });
    }
    if (kinds > 1)
      ctx.addIssue({
        code: 'custom',
        path: ['schedule'],
        message: 'a scheduled trigger has no event',
      });
    if (trigger.schedule && trigger.on !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['on'],
        message: 'a scheduled trigger has no operation',
      });
    }
  }, onceRead())
  // What `columns` needs of `on` is known once `on` is.
  .superRefine((trigger, ctx) => {
    const ops = [trigger.on ?? []].flat();
    if (trigger.columns !== undefined && !ops.includes('update')) {
      ctx.addIssue({ code: 'custom', path: ['columns'], message: 'columns applies to on: update' });
    }
  }, onceRead('on'));

const templated = z.string();

/**
 * A field written bare where an address is expected: `contact.email`,
 * `new.<column>`, `old.<column>`, `enrichment.<name>.<column>`. An address
 * never looks like one (it has an @).
 */
const BARE_FIELD = /^(contact|new|old|enrichment)(\.\w+)+$/;

/**
 * An email's recipient as the Liquid it stands for. Written bare
 * (`to: contact.email`, as DESIGN.md's sketch writes it), it is the value
 * the field holds: `"{{ contact.email }}"`; anything else is itself. The
 * schema reads `to` through this, so that every reader of the feature (plan,
 * the columns capture copies, the engine, backtest) sees the one Liquid
 * form, and so do the checks of the file as written (action-checks.ts).
 */
export function recipientText(to: string): string {
  const trimmed = to.trim();
  return BARE_FIELD.test(trimmed) ? `{{ ${trimmed} }}` : to;
}

const recipientSchema = z.string().transform(recipientText);

/**
 * A list named by `add_to_list:`: written as it is, it follows the rule of
 * a list's name (contacts/lists.ts), so plan says file:line rather than
 * every run failing. A Liquid one is known only rendered: the action checks
 * it then, when it would make a new list.
 */
const listNameSchema = z
  .string()
  .min(1)
  .refine((name) => /\{[{%]/.test(name) || LIST_NAME.test(name), { error: LIST_NAME_RULE });

/** One schema per action kind; an action is a mapping with exactly one of these keys. */
export const actionSchemas = {
  email: z.strictObject({
    template: z.string().min(1),
    to: recipientSchema.optional().describe('default: contact.email'),
    subject: templated.optional(),
    from: z.string().optional(),
    provider: z.enum(['resend', 'smtp', 'dev']).optional(),
    topic: z
      .string()
      .min(1)
      .optional()
      .describe('a topic of email.topics, or transactional (default: general)'),
    send_window: dailyWindowSchema.optional().describe('default: the stage’s send_window'),
  }),
  webhook: z.strictObject({
    url: z.string().min(1),
    method: z.enum(['POST', 'PUT', 'PATCH']).default('POST'),
    headers: z.record(z.string(), z.string()).optional(),
    body: z.unknown().optional(),
  }),
  function: z.strictObject({ name: z.string().min(1), body: z.unknown().optional() }),
  set: z.record(z.string(), z.unknown(), { error: 'expected attribute: value pairs' }),
  add_to_list: listNameSchema,
  remove_from_list: z.string().min(1),
  track: z.strictObject({
    event: z.string().min(1),
    properties: z.record(z.string(), z.unknown()).optional(),
  }),
  goto: nameSchema('stage'),
  exit: z.literal(true, { error: 'write exit: true' }),
} as const;

export type ActionKind = keyof typeof actionSchemas;
export type Action = {
  [K in ActionKind]: { kind: K; params: z.output<(typeof actionSchemas)[K]> };
}[ActionKind];

export const actionSchema = z.unknown().transform((value, ctx): Action => {
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    Object.keys(value).length !== 1
  ) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected one action such as { email: { template: welcome } }',
    });
    return z.NEVER;
  }
  const [kind, params] = Object.entries(value)[0]!;
  const schema = actionSchemas[kind as ActionKind];
  if (!schema) {
    ctx.addIssue({
      code: 'custom',
      path: [kind],
      message: `unknown action "${kind}"${didYouMean(kind, Object.keys(actionSchemas))}; expected one of ${Object.keys(actionSchemas).join(', ')}`,
    });
    return z.NEVER;
  }
  const result = (schema as z.ZodType).safeParse(params);
  if (!result.success) {
    for (const issue of result.error.issues) {
      ctx.addIssue({ ...issue, path: [kind, ...issue.path] } as Parameters<typeof ctx.addIssue>[0]);
    }
    return z.NEVER;
  }
  return { kind, params: result.data } as Action;
});

/** The same actions as a union, for the published JSON Schema (editor completion). */
export const actionUnionForJsonSchema = z.union(
  Object.entries(actionSchemas).map(([kind, schema]) =>
    z.strictObject({ [kind]: schema as z.ZodType }),
  ) as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]],
);

export const transitionSchema = z.strictObject({
  to: z
    .union([nameSchema('stage'), z.literal(null)])
    .describe('a stage, or null to end the journey'),
  when: conditionSchema.optional(),
  after: durationSchema.optional(),
  until: conditionSchema.optional(),
  within: durationSchema.optional(),
});

/** A goal: what the feature is for, measured by `nudge report` (docs/experiments.md). */
export const goalSchema = z
  .strictObject({
    when: conditionSchema
      .optional()
      .describe('a condition that holds on conversion; contact.* (and new.* of the goal event)'),
    event: z.string().min(1).optional().describe('an event of the contact that converts'),
    within: durationSchema.describe('counted from the contact’s first entry'),
  })
  .refine((goal) => goal.when !== undefined || goal.event !== undefined, {
    error: 'expected when (a condition on contact.*), event (an event name), or both',
    ...onceRead(),
  });

/** The share of entering contacts who get no messages (a percentage, 0 < p < 100). */
export const holdoutSchema = z
  .union(
    [
      z.number(),
      z.string().regex(/^\d+(\.\d+)?\s*%$/, { error: 'expected a percentage such as 10 or "10%"' }),
    ],
    { error: 'expected a percentage such as 10 or "10%"' },
  )
  .transform((value) => (typeof value === 'number' ? value : Number.parseFloat(value)))
  .refine((percent) => percent > 0 && percent < 100, {
    error: 'expected a percentage greater than 0 and less than 100',
  });

/** One variant of a split stage: its weight, and action parameters replacing the stage's. */
export const variantSchema = z.strictObject({
  name: nameSchema('variant'),
  weight: z.number().positive({ error: 'expected a weight greater than 0' }).default(1),
  with: z
    .record(z.string(), z.record(z.string(), z.unknown()), {
      error: 'expected action: { parameter: value }, e.g. { email: { subject: Hi } }',
    })
    .default({})
    .describe('per action kind of the stage, the parameters this variant replaces'),
});

export const stageSchema = z
  .strictObject({
    name: nameSchema('stage'),
    description: z.string().optional(),
    after: durationSchema.optional().describe('wait this long after the previous stage'),
    until: conditionSchema.optional().describe('wait until this holds (see within)'),
    within: durationSchema.optional().describe('give up waiting for until after this long'),
    if: conditionSchema.optional().describe('run this stage’s actions only when this holds'),
    unless: conditionSchema.optional().describe('skip this stage’s actions when this holds'),
    send_window: dailyWindowSchema
      .optional()
      .describe(
        'send this stage’s non-transactional email only between from and to in the contact’s time zone',
      ),
    do: z.array(actionSchema).default([]),
    split: z
      .array(variantSchema)
      .min(2, { error: 'a split needs at least two variants' })
      .optional()
      .describe('weighted variants of this stage’s actions (docs/experiments.md)'),
    next: z.array(transitionSchema).min(1).optional().describe('explicit transitions'),
  })
  .superRefine((stage, ctx) => {
    if (stage.within !== undefined && stage.until === undefined) {
      ctx.addIssue({ code: 'custom', path: ['within'], message: 'within needs until' });
    }
  }, onceRead());

export const featureSchema = z.strictObject({
  name: nameSchema('feature').optional().describe('default: the file name'),
  description: z.string().optional(),
  status: z.enum(['active', 'paused', 'draft']).default('active'),
  trigger: triggerSchema,
  contact: z
    .strictObject({
      id: refSchema.optional(),
      email: refSchema.optional(),
      phone: refSchema.optional(),
    })
    .refine((contact) => contact.id || contact.email || contact.phone, {
      error: 'expected at least one of id, email, phone',
    })
    .optional()
    .describe('how the row finds its contact; default for auth.users: id and email'),
  enrich: z
    .record(
      nameSchema('enrichment'),
      z.strictObject({
        table: tableNameSchema,
        match: z.record(z.string(), refSchema).refine((m) => Object.keys(m).length === 1, {
          error: 'expected one column: field pair',
          ...onceRead(),
        }),
        columns: z.array(z.string()).min(1).optional(),
      }),
    )
    .optional(),
  stages: z.array(stageSchema).min(1, { error: 'expected at least one stage' }),
  exit: z.strictObject({ when: conditionSchema }).optional(),
  cooldown: durationSchema.optional(),
  max_entries: z.number().int().positive().optional(),
  re_entry: z.enum(['after_exit', 'never', 'restart']).default('after_exit'),
  goal: goalSchema.optional().describe('what the feature is for; measured by nudge report'),
  holdout: holdoutSchema.optional().describe('percent of entering contacts sent no messages'),
});

export type FeatureFile = z.output<typeof featureSchema>;

/**
 * Where a feature file holds conditions, as far as its shape can be made
 * out: to parse those inside a part of a file off the schema that could not
 * be read (a trigger with neither table nor event, a goal without within).
 */
export function conditionsWritten(value: unknown): (string | number)[][] {
  const found: (string | number)[][] = [
    ['trigger', 'when'],
    ['exit', 'when'],
    ['goal', 'when'],
  ];
  const stages = valueAtPath(value, ['stages']);
  if (Array.isArray(stages)) {
    stages.forEach((stage, i) => {
      for (const key of ['if', 'unless', 'until']) found.push(['stages', i, key]);
      const next = valueAtPath(stage, ['next']);
      if (Array.isArray(next))
        next.forEach((_, j) => {
          found.push(['stages', i, 'next', j, 'when'], ['stages', i, 'next', j, 'until']);
        });
    });
  }
  // Only mappings: the schema has already said what else is wrong with one.
  return found.filter((at) => isMapping(valueAtPath(value, at)));
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
