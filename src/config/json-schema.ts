// JSON Schemas of nudge.yaml and feature files, generated from the zod
// schemas, for editor completion (yaml-language-server). `npm run schema`
// writes them to schema/; a test keeps the committed files current.
import { z } from 'zod';
import { actionSchema, actionUnionForJsonSchema, featureSchema } from '../features/schema.js';
import { configSchema } from './schema.js';

export function jsonSchemas(): Record<string, unknown> {
  const actionJson = z.toJSONSchema(actionUnionForJsonSchema, {
    io: 'input',
    unrepresentable: 'any',
  });
  const override = (ctx: { zodSchema: unknown; jsonSchema: Record<string, unknown> }) => {
    if (ctx.zodSchema === actionSchema) {
      for (const key of Object.keys(ctx.jsonSchema)) delete ctx.jsonSchema[key];
      const { $schema: _ignored, ...rest } = actionJson as Record<string, unknown>;
      Object.assign(ctx.jsonSchema, rest);
    }
  };
  const make = (schema: z.ZodType, title: string) => ({
    ...z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', override }),
    title,
  });
  return {
    'nudge.schema.json': make(configSchema, 'Nudge configuration (nudge.yaml)'),
    'feature.schema.json': make(featureSchema, 'Nudge feature file'),
  };
}
