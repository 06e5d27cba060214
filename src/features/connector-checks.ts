// What a feature's actions need of nudge.yaml's connectors, checked by plan
// as the run would find it: a function action calls an Edge Function at
// connectors.supabase.project_url with its service role key
// (actions/edge-function.ts), so without either every run of it is dead.
import { type FunctionConnectorField, functionConnectorProblem } from '../actions/edge-function.js';
import type { LoadedConfig } from '../config/load.js';
import type { ConfigError } from '../errors.js';
import type { Feature } from './load.js';

/** Each missing field, as nudge.yaml would say it and as the fix would write it. */
const FIELDS: Record<FunctionConnectorField, { named: string; written: string }> = {
  project_url: {
    named: 'project_url',
    written: 'project_url: "https://<project-ref>.supabase.co"',
  },
  service_role_key: {
    named: 'service_role_key (or api_key)',
    written: `service_role_key: "\${SUPABASE_SERVICE_ROLE_KEY}"`,
  },
};

/**
 * Each function action of `feature` when nudge.yaml's connectors.supabase
 * (`supabase`, undefined when it has none) cannot reach an Edge Function:
 * refused at the action, saying what nudge.yaml lacks.
 */
export function unreachableFunctions(
  feature: Feature,
  supabase: LoadedConfig['supabase'],
): ConfigError[] {
  const problem = functionConnectorProblem(supabase);
  if (!problem) return [];
  const missing = problem.missing.map((field) => FIELDS[field]);
  const fields = missing.map((field) => field.written).join(', ');
  const [lacks, hint] = problem.connector
    ? [
        `connectors.supabase in nudge.yaml has no ${missing.map((field) => field.named).join(' and no ')}`,
        `add to nudge.yaml, under connectors.supabase: ${fields}`,
      ]
    : [
        'nudge.yaml has no connectors.supabase to reach it with',
        `add to nudge.yaml: connectors: { supabase: { ${fields} } }`,
      ];
  return [...feature.machine.stages.values()].flatMap((stage, i) =>
    stage.actions.flatMap((action, j) =>
      action.kind === 'function'
        ? [
            feature.source.error(
              ['stages', i, 'do', j, 'function'],
              `a function action calls a Supabase Edge Function, and ${lacks}: every run of it would be dead`,
              { key: true, hint },
            ),
          ]
        : [],
    ),
  );
}
