// Which columns of its trigger's rows a feature reads, so that capture copies
// those and nothing else (capture/columns.ts). Read statically: the fields of
// its conditions, its contact mapping and enrichment sources, the named
// event's own test, and every Liquid variable under `new` / `old` in its
// action parameters (its variants' too) and email templates. Liquid that
// does not parse is refused before: in parameters by loading
// (action-checks.ts), in templates by plan. Anything that could read a column
// not named (a webhook or function without a body sends whole rows; a
// template that uses `new` itself, or indexes it with a variable) makes the
// answer "all", with the reason.
import type { Renderer, VariableSegments } from '../actions/render.js';
import type { ColumnReads } from '../capture/columns.js';
import { namedEvent } from '../capture/named-events.js';
import { type FieldRef, testsOf } from '../conditions/index.js';
import { conditionsOf } from './check.js';
import type { Feature } from './load.js';

/** Where Liquid variables are read from: the project's renderer (actions/render.ts). */
export type TemplateVariables = Pick<Renderer, 'templateVariables' | 'textVariables'>;

/** A reason to capture every column: thrown while reading, returned as { all }. */
class ReadsAll extends Error {}

export async function featureReads(
  feature: Feature,
  templates: TemplateVariables,
): Promise<ColumnReads> {
  const columns = new Set<string>();
  const field = (ref: FieldRef | undefined) => {
    if (ref && (ref.scope === 'new' || ref.scope === 'old')) columns.add(ref.column);
  };
  const variables = (segments: VariableSegments[], where: string) => {
    for (const [root, column] of segments) {
      if (root !== 'new' && root !== 'old') continue;
      if (typeof column !== 'string') {
        throw new ReadsAll(`${where} uses ${root} as a whole or by a computed key`);
      }
      columns.add(column);
    }
  };
  const strings = (value: unknown, where: string) => {
    for (const text of stringsIn(value)) {
      let used: VariableSegments[];
      try {
        used = templates.textVariables(text);
      } catch (error) {
        throw new ReadsAll(`${where}: ${(error as Error).message}`);
      }
      variables(used, where);
    }
  };
  try {
    for (const [, condition] of conditionsOf(feature)) {
      for (const test of testsOf(condition)) field(test.field);
    }
    const { trigger } = feature;
    if (trigger.kind === 'table') for (const column of trigger.columns ?? []) columns.add(column);
    if (trigger.kind === 'event') {
      const reads = namedEvent(trigger.event)?.reads;
      if (reads === 'all') throw new ReadsAll(`the event ${trigger.event} compares whole rows`);
      for (const column of reads ?? []) columns.add(column);
    }
    for (const ref of Object.values(feature.contact)) field(ref);
    for (const enrichment of feature.enrich) field(enrichment.from);
    const emailTemplate = async (template: string) => {
      let used: VariableSegments[];
      try {
        used = await templates.templateVariables(template);
      } catch (error) {
        throw new ReadsAll(`template ${template} could not be read (${(error as Error).message})`);
      }
      variables(used, `template ${template}`);
    };
    for (const stage of feature.machine.stages.values()) {
      for (const action of stage.actions) {
        const where = `stage ${stage.name}: ${action.kind}`;
        switch (action.kind) {
          case 'email': {
            const { template, ...rest } = action.params;
            strings(rest, where);
            await emailTemplate(template);
            break;
          }
          case 'webhook':
          case 'function':
            if (action.params.body === undefined) {
              throw new ReadsAll(`${where} has no body, so it sends whole rows`);
            }
            strings(action.params, where);
            break;
          default:
            strings(action.params, where);
        }
      }
    }
    // A variant's parameters replace its stage's when it runs: they are read too.
    for (const variant of feature.experiment?.split?.variants ?? []) {
      for (const [kind, params] of Object.entries(variant.overrides)) {
        const { template, ...rest } = params;
        strings(rest, `variant ${variant.name}: ${kind}`);
        if (kind === 'email' && typeof template === 'string') await emailTemplate(template);
      }
    }
  } catch (error) {
    if (error instanceof ReadsAll) return { all: `${feature.name}: ${error.message}` };
    throw error;
  }
  return { columns: [...columns].sort() };
}

/** The strings the renderer renders: values, not keys (actions/render.ts). */
function* stringsIn(value: unknown): Generator<string> {
  if (typeof value === 'string') yield value;
  else if (Array.isArray(value)) for (const item of value) yield* stringsIn(item);
  else if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) yield* stringsIn(item);
  }
}

/** What every feature of a set reads, by name (drafts too: plan shows them). */
export async function readsOf(
  features: Feature[],
  templates: TemplateVariables,
): Promise<Map<string, ColumnReads>> {
  const reads = new Map<string, ColumnReads>();
  for (const feature of features) reads.set(feature.name, await featureReads(feature, templates));
  return reads;
}
