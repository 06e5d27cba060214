// A feature named in a query's filter (the decision log and its live tail,
// action runs). A name no feature file has, with nothing ever
// recorded under it either, is a typo: refused with 422 and the features
// there are, in the words POST /v1/actions/replay and `nudge logs` use
// (features/load.ts unknownFeatureText). A feature since removed from its
// file still answers what it left behind.
import type postgres from 'postgres';
import { type Feature, unknownFeatureText } from '../../features/load.js';
import { HttpError } from '../http-error.js';

/** The options of the routes that filter by feature (as ActionsApiOptions has them). */
export interface KnownFeatures {
  /** The project's features as the server loaded them (absent: no name is checked). */
  features?: Feature[];
  /** Where their files are, as the refusal shows it. */
  featuresDir?: string;
}

/**
 * Throws 422 `unknown_feature` when `name` is no feature of `known` and
 * `recorded` (asked only then) finds nothing of it. Without features (the
 * MCP tools' in-process routes) it checks nothing.
 */
export async function checkFeatureFilter(
  known: KnownFeatures,
  name: string | undefined,
  recorded: (name: string) => Promise<boolean>,
): Promise<void> {
  if (!known.features || !name) return;
  const unknown = unknownFeatureText(known.features, name, known.featuresDir ?? 'features');
  if (unknown === undefined || (await recorded(name))) return;
  throw new HttpError(422, 'unknown_feature', `feature: ${unknown}`);
}

/**
 * Whether the decision log holds anything of `feature`: its own rows (the
 * index on feature, outcome, id), or its share of a row of skips.
 */
export async function hasDecisions(sql: postgres.Sql, feature: string): Promise<boolean> {
  const [row] = await sql<{ found: boolean }[]>`
    select exists (select 1 from nudge_engine.decisions where feature = ${feature})
        or exists (select 1 from nudge_engine.decisions
                    where feature is null and outcome = 'skipped'
                      and detail -> 'skipped' ? ${feature}) as found`;
  return row?.found ?? false;
}

/** Whether any action run was made for `feature`. */
export async function hasActionRuns(sql: postgres.Sql, feature: string): Promise<boolean> {
  const [row] = await sql<{ found: boolean }[]>`
    select exists (select 1 from nudge_engine.action_runs where feature = ${feature}) as found`;
  return row?.found ?? false;
}
