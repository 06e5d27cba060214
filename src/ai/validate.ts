// A feature given as text (a drafted one, or YAML an assistant sends over MCP)
// checked exactly as `nudge plan` checks the files on disk: YAML and schema
// (features/load.ts), then the live database (capture/desired.ts, which runs
// features/check.ts), plus a name no other feature file uses. A draft is
// checked as if it were active: plan skips drafts, but a draft is meant to
// become one. Problems come back as located ConfigErrors, never thrown,
// except ones that are not in this text (nudge.yaml itself is broken). A file
// of that name already there is a problem too, unless `replace` says so.
// The text is interpolated as a file is (`${WEBHOOK_URL}`), but the problems
// name a variable, never its value: they go back to a model or an assistant.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { desiredCaptures } from '../capture/desired.js';
import type { LoadedConfig } from '../config/load.js';
import { displayPath, parseYaml } from '../config/yaml.js';
import { ConfigError, ConfigErrors } from '../errors.js';
import { type Feature, loadFeatures, parseFeature } from '../features/load.js';
import type { Catalog } from '../source/catalog.js';
import type { Sql } from '../source/connect.js';

export interface TextCheck {
  /** The parsed feature, when it parsed at all (it may still have live-schema errors). */
  feature?: Feature;
  errors: ConfigError[];
}

/** Located problems inside an error, or undefined when it is some other failure. */
export function locatedErrors(error: unknown): ConfigError[] | undefined {
  if (error instanceof ConfigErrors) return error.errors;
  if (error instanceof ConfigError) return [error];
  return undefined;
}

/** The path a feature file `fileName` has in messages: nudge/features/<fileName>. */
export function featureFilePath(project: LoadedConfig, fileName: string): string {
  return path.join(displayPath(project.featuresDir, project.cwd), fileName);
}

export async function checkFeatureText(
  project: LoadedConfig,
  sql: Sql,
  catalog: Catalog,
  text: string,
  fileName: string,
  options: { replace?: boolean } = {},
): Promise<TextCheck> {
  const file = featureFilePath(project, fileName);
  const hide = hideVariables(text, project.env);
  let feature: Feature;
  try {
    feature = parseFeature(parseYaml(text, file, project.env), fileName);
  } catch (error) {
    const errors = locatedErrors(error);
    if (!errors) throw error;
    return { errors: errors.map(hide) };
  }
  const errors: ConfigError[] = [];
  const others = await loadFeatures(project.featuresDir, project.env, project.cwd).catch(
    () => [] as Feature[], // a broken file elsewhere is plan's to report, not this text's
  );
  const taken = others.find(
    (other) => other.name === feature.name && path.basename(other.source.file) !== fileName,
  );
  if (!options.replace && existsSync(path.join(project.featuresDir, fileName))) {
    errors.push(
      feature.source.error(['name'], `${file} already exists; choose another feature name`),
    );
  } else if (taken) {
    errors.push(
      feature.source.error(
        ['name'],
        `feature "${feature.name}" is already defined in ${taken.source.file}; choose another name`,
      ),
    );
  }
  try {
    // The draft names the template the user is to write: checked at plan, not here.
    await desiredCaptures(project, sql, [{ ...feature, status: 'active' }], catalog, {
      templates: false,
    });
  } catch (error) {
    const located = locatedErrors(error);
    if (!located) throw error;
    const elsewhere = located.filter((e) => e.place.file !== file);
    if (elsewhere.length) throw error;
    errors.push(...located);
  }
  return { feature, errors: errors.map(hide) };
}

/** Replaces, in a problem, the value of each variable the text uses by its `${NAME}`. */
function hideVariables(
  text: string,
  env: Record<string, string | undefined>,
): (error: ConfigError) => ConfigError {
  const used = new Map<string, string>();
  for (const [, name] of text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) {
    const value = env[name as string];
    // A value of a few characters is no secret, and would garble the message.
    if (value && value.length >= 4) used.set(value, `\${${name}}`);
  }
  return (error) => {
    let problem = error.problem;
    for (const [value, name] of used) problem = problem.split(value).join(name);
    return problem === error.problem
      ? error
      : new ConfigError(error.place, error.field, problem, error.hint);
  };
}
