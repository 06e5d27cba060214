// Finds and loads nudge.yaml: `--config <file>` or nudge.yaml/nudge.yml in the
// working directory, `.env` beside it (never overriding the real environment),
// ${ENV} interpolation, validation. No file at all is fine: defaults apply and
// the database URL comes from DATABASE_URL. `database_url: ${VAR}` with VAR
// unset is no URL, its error kept for where one is needed (databaseUrlUnset).
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError } from '../errors.js';
import {
  type Config,
  captureObjectSchema,
  configSchema,
  type SupabaseConnector,
} from './schema.js';
import {
  displayPath,
  type FieldPath,
  formatPath,
  readYamlFile,
  type UnsetVariable,
  validate,
  type YamlSource,
} from './yaml.js';

export interface LoadedConfig {
  /** Absolute path of the config file, when there is one. */
  file?: string;
  /** Directory that relative paths in the config are resolved against. */
  dir: string;
  /** The working directory: file names in messages are relative to it. */
  cwd: string;
  config: Config;
  /** The parsed file, to locate later errors (e.g. a mapped table that does not exist). */
  source?: YamlSource;
  env: Record<string, string | undefined>;
  /** `database_url`, else DATABASE_URL. */
  databaseUrl?: string;
  /** Where the URL came from, for messages. */
  databaseUrlFrom?: string;
  /**
   * `database_url` is written as one `${VAR}` (as `nudge init` writes it) and
   * VAR is not set: there is no database URL — the embedded database of
   * `nudge dev`, when there is one, stands in as it does for a project
   * without database_url — and `error` (file:line:column, the variable) is
   * what a command that needs a URL says. DATABASE_URL is not read instead:
   * the file names where its URL comes from.
   */
  databaseUrlUnset?: UnsetVariable;
  featuresDir: string;
  templatesDir: string;
  supabase?: SupabaseConnector & { key?: string };
}

export interface LoadOptions {
  /** Value of --config. */
  configPath?: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
}

const DEFAULT_NAMES = ['nudge.yaml', 'nudge.yml'];

export async function loadConfig(options: LoadOptions = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const file = options.configPath
    ? path.resolve(cwd, options.configPath)
    : DEFAULT_NAMES.map((name) => path.join(cwd, name)).find((candidate) => existsSync(candidate));
  const dir = file ? path.dirname(file) : cwd;
  const env = { ...readDotEnv(dir), ...(options.env ?? process.env) };

  let config: Config;
  let source: YamlSource | undefined;
  if (file) {
    source = await readYamlFile(file, env, cwd, { absentWhenUnset: ['database_url'] });
    validateCaptureObject(source);
    config = validate(source, configSchema);
  } else {
    config = configSchema.parse({});
  }

  const featuresDir = path.resolve(dir, config.features);

  const databaseUrlUnset = source?.unset.find((u) => u.key === 'database_url');
  const databaseUrl = databaseUrlUnset
    ? undefined
    : config.database_url || env.DATABASE_URL || undefined;
  const supabase = config.connectors?.supabase;
  if (supabase && source && supabase.api_key && supabase.service_role_key) {
    if (supabase.api_key !== supabase.service_role_key) {
      throw source.error(
        ['connectors', 'supabase', 'service_role_key'],
        'api_key and service_role_key are both set and differ; keep one',
      );
    }
  }
  return {
    ...(file ? { file } : {}),
    dir,
    cwd,
    config,
    ...(source ? { source } : {}),
    env,
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(databaseUrlUnset ? { databaseUrlUnset } : {}),
    ...(databaseUrl
      ? {
          databaseUrlFrom: config.database_url
            ? `database_url in ${displayPath(file!, cwd)}${viaVariable(file!, source!)}`
            : 'DATABASE_URL',
        }
      : {}),
    featuresDir,
    templatesDir: path.resolve(dir, config.templates),
    ...(supabase
      ? { supabase: { ...supabase, key: supabase.api_key ?? supabase.service_role_key } }
      : {}),
  };
}

/**
 * capture's object form on its own, so that its errors name their field
 * (capture.transport, capture.replication) and line: inside the union of
 * the string and object forms they would be one "Invalid input" at capture.
 */
function validateCaptureObject(source: YamlSource): void {
  const capture = (source.value as { capture?: unknown } | null)?.capture;
  if (capture === null || typeof capture !== 'object' || Array.isArray(capture)) return;
  validate(
    {
      ...source,
      value: capture,
      placeOf: (at, options) => source.placeOf(['capture', ...at], options),
      error: (at, problem, options) => source.error(['capture', ...at], problem, options),
    },
    captureObjectSchema,
  );
}

/** `.env` in `dir`, parsed; an unreadable or malformed file is reported, not ignored. */
export function readDotEnv(dir: string): Record<string, string> {
  const file = path.join(dir, '.env');
  if (!existsSync(file)) return {};
  try {
    return parseEnv(readFileSync(file, 'utf8')) as Record<string, string>;
  } catch (error) {
    throw new ConfigError(
      { file: displayPath(file) },
      '',
      `cannot read: ${(error as Error).message}`,
    );
  }
}

/**
 * An error at a place in nudge.yaml: with its line and column when the
 * project was read from a file, else naming the field.
 */
export function configErrorAt(
  project: LoadedConfig,
  path: FieldPath,
  message: string,
  options: { key?: boolean; hint?: string } = {},
): ConfigError {
  return (
    project.source?.error(path, message, options) ??
    new ConfigError({ file: 'nudge.yaml' }, formatPath(path), message, options.hint)
  );
}

/** " (${DATABASE_URL})" when database_url is written as a variable, so doctor's "from …" names where its value came from. */
function viaVariable(file: string, source: YamlSource): string {
  const { line } = source.placeOf(['database_url']);
  const written = readFileSync(file, 'utf8').split(/\r?\n/)[line - 1] ?? '';
  const variable = /\$\{(\w+)/.exec(written)?.[1];
  return variable ? ` (\${${variable}})` : '';
}

/**
 * A features: path written in nudge.yaml that names no directory: a typo,
 * not a project without features. Read as none, a plan would drop every
 * capture deployed, so plan and deploy refuse it at its line; the other
 * commands (keys, logs, nudge new, which makes the directory) need not.
 */
export function missingFeaturesDir(project: LoadedConfig): ConfigError | undefined {
  const written = (project.source?.value as { features?: unknown } | null | undefined)?.features;
  if (!project.source || written === undefined) return undefined;
  const isDirectory = (() => {
    try {
      return statSync(project.featuresDir).isDirectory();
    } catch {
      return false;
    }
  })();
  if (isDirectory) return undefined;
  return project.source.error(
    ['features'],
    `no directory ${displayPath(project.featuresDir, project.cwd)}: fix the path, or create it (a plan without it would drop every capture of your features)`,
  );
}
