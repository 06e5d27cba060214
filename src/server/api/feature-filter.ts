// A feature or email template named in a query's filter (the decision log
// and its live tail, action runs, email stats). A name no file has, with
// nothing ever recorded under it either, is a typo: refused with 422 and the
// names there are — for features in the words POST /v1/actions/replay and
// `nudge logs` use (features/load.ts unknownFeatureText). A feature or
// template since removed from its file still answers what it left behind.
// So is a contact the decision log is filtered by (`contact=`, `nudge logs
// --contact`) that no contact is and no decision names: a part of an email.
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
 * The 404 `feature_not_found` of a feature the route needs and no file has
 * (`/v1/features/:name`, its report, a backtest's `feature`): the name it
 * likely is and the ones there are, as the filters say it; after `field`,
 * the body's field that named it, when one did.
 */
export function featureNotFound(
  known: Required<KnownFeatures>,
  name: string,
  field?: string,
): HttpError {
  const unknown = unknownFeatureText(known.features, name, known.featuresDir)!;
  return new HttpError(404, 'feature_not_found', field ? `${field}: ${unknown}` : unknown);
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

/**
 * Why `contact` names no one, as the decision log reads it (an email, whole
 * and in any case; an external id; a contact id or auth user id), or undefined when a
 * contact has it or a decision names it (a contact removed since).
 */
export async function unknownContactText(
  sql: postgres.Sql,
  contact: string,
): Promise<string | undefined> {
  const value = contact.trim();
  if (!value) return undefined;
  const [row] = UUID.test(value)
    ? await sql<{ found: boolean }[]>`
        select exists (select 1 from nudge_engine.contacts
                        where id = ${value}::uuid or auth_user_id = ${value}::uuid
                           or external_id = ${value})
            or exists (select 1 from nudge_engine.decisions where contact_id = ${value}::uuid) as found`
    : await sql<{ found: boolean }[]>`
        select exists (select 1 from nudge_engine.contacts
                        where email = ${value.toLowerCase()} or external_id = ${value}) as found`;
  if (row?.found) return undefined;
  return `no contact "${value}"${UUID.test(value) ? '' : await emailMeant(sql, value)}`;
}

/**
 * ` (did you mean "ada@example.com"?)` when one contact's email, and one
 * only, starts with what was given (`ada`): Contacts' search takes a prefix,
 * the decision log a whole email. Read on the way to a refusal only.
 */
async function emailMeant(sql: postgres.Sql, value: string): Promise<string> {
  const prefix = `${value.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const rows = await sql<{ email: string }[]>`
    select email from nudge_engine.contacts where email like ${prefix} limit 2`;
  return rows.length === 1 ? ` (did you mean "${rows[0]!.email}"?)` : '';
}

/** What unknownContactText says is to be given instead. */
export const CONTACT_HINT = 'give a whole email, an external id or a contact id';

/** Throws 422 `unknown_contact` when `contact` names no one (unknownContactText). */
export async function checkContactFilter(
  sql: postgres.Sql,
  contact: string | undefined,
): Promise<void> {
  const unknown = contact && (await unknownContactText(sql, contact));
  if (unknown) throw new HttpError(422, 'unknown_contact', `contact: ${unknown}; ${CONTACT_HINT}`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
