// A feature or email template named in a query's filter (the decision log
// and its live tail, action runs, email stats). A name no file has, with
// nothing ever recorded under it either, is a typo: refused with 422 and the
// names there are — for features in the words POST /v1/actions/replay and
// `nudge logs` use (features/load.ts unknownFeatureText). A feature or
// template since removed from its file still answers what it left behind.
import type postgres from 'postgres';
import { templateFiles, templateName } from '../../actions/render.js';
import type { LoadedConfig } from '../../config/load.js';
import { displayPath } from '../../config/yaml.js';
import { type Feature, unknownFeatureText } from '../../features/load.js';
import { HttpError } from '../http-error.js';

/** The options of the routes that filter by feature (as ActionsApiOptions has them). */
export interface KnownFeatures {
  /** The project's features as the server loaded them (absent: no name is checked). */
  features?: Feature[];
  /** Where their files are, as the refusal shows it. */
  featuresDir?: string;
}

/** The project's features, with their directory as a refusal shows it (relative to the project). */
export function knownFeatures(project: LoadedConfig, features: Feature[]): Required<KnownFeatures> {
  return { features, featuresDir: displayPath(project.featuresDir, project.cwd) };
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
 * Throws 422 `unknown_template` when no file of the project's templates
 * directory is `name` (`news` for news.liquid or news.html, as an email
 * action names it, or the file's own name) and `recorded` finds nothing of it.
 */
export async function checkTemplateFilter(
  project: Pick<LoadedConfig, 'templatesDir' | 'cwd'>,
  name: string | undefined,
  recorded: (name: string) => Promise<boolean>,
): Promise<void> {
  if (!name) return;
  const files = await templateFiles(project.templatesDir);
  const names = files.map(templateName);
  if (files.includes(name) || names.includes(name) || (await recorded(name))) return;
  const listed = [...new Set(names)].sort();
  throw new HttpError(
    422,
    'unknown_template',
    `template: no template named "${name}" in ${displayPath(project.templatesDir, project.cwd)} (${
      listed.length ? `templates: ${listed.join(', ')}` : 'the project has no templates'
    })`,
  );
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
