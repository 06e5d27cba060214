// Liquid for actions: every string in an action's params, and the email
// templates in the templates directory (<name>.liquid, else <name>.html).
// Parsed templates are cached; a template file is re-read when it changes.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { defaultOperators, Liquid, type Operators, type Template } from 'liquidjs';
import { compareDecimal, decimalFromRow } from '../conditions/decimal.js';
import type { LoadedConfig } from '../config/load.js';
import { JsonNumber, parseJson, stringifyJson } from '../db/json.js';
import type { EmailLinks } from '../email/links.js';
import { didYouMean } from '../suggest.js';
import { type ActionRun, PermanentError, type TemplateContext } from './types.js';

export type Variables = Record<string, unknown>;

export interface Renderer {
  /**
   * Renders every string in `value`, recursively. A string that is exactly
   * one output, `"{{ new.total }}"`, keeps the type of what it names (a
   * number stays a number in a webhook body or an attribute; a missing value
   * is null); any other string renders to text. `where` names the field in
   * errors, e.g. `webhook.body.total`.
   */
  value(value: unknown, variables: Variables, where: string): Promise<unknown>;
  /**
   * Renders the email template `name`. Output is HTML-escaped (`| raw` opts
   * out): a contact's name is data, never markup. Partials work with
   * `{% render 'footer' %}`.
   */
  template(name: string, variables: Variables): Promise<{ html: string; file: string }>;
  /** The global variables the email template `name` reads, as segments (`new.email` → ['new', 'email']). */
  templateVariables(name: string): Promise<VariableSegments[]>;
  /** The global variables a string in an action's params reads. */
  textVariables(text: string): VariableSegments[];
}

export type VariableSegments = Array<string | number | VariableSegments>;

/**
 * The variables templateVariables gives, by name: the run's context
 * (TemplateContext, every key of which must be here) and `feature`, `stage`
 * and `app`. A string of an action that names any other renders it empty,
 * so `nudge plan` refuses it (features/action-checks.ts).
 */
const GIVEN: Record<keyof TemplateContext | 'feature' | 'stage' | 'app', true> = {
  contact: true,
  new: true,
  old: true,
  enrichment: true,
  event: true,
  journey: true,
  feature: true,
  stage: true,
  app: true,
};

/** The variables an action's strings can read. */
export const PARAM_VARIABLES: readonly string[] = Object.keys(GIVEN);

/** The variables an email template can read: an action's, and its links (email/links.ts). */
export const TEMPLATE_VARIABLES: readonly string[] = [
  ...PARAM_VARIABLES,
  ...(['unsubscribe_url', 'preferences_url'] satisfies (keyof EmailLinks)[]),
];

/** What templates see: the run's context, plus `feature`, `stage` and `app`. */
export function templateVariables(run: ActionRun, project: LoadedConfig): Variables {
  const server = project.config.server;
  return {
    ...run.context,
    contact: run.context.contact ?? null,
    feature: run.feature,
    stage: run.stage,
    app: { url: server.public_url ?? `http://${server.host}:${server.port}` },
  };
}

const renderers = new WeakMap<LoadedConfig, Renderer>();

/** The renderer of a project (one per loaded config, so caches live as long as it). */
export function rendererFor(project: LoadedConfig): Renderer {
  let renderer = renderers.get(project);
  if (!renderer) {
    renderer = makeRenderer(project.templatesDir, project.cwd);
    renderers.set(project, renderer);
  }
  return renderer;
}

const SINGLE_OUTPUT = /^\{\{-?\s*([^{}]+?)\s*-?\}\}$/s;
const TEMPLATE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;
const MAX_CACHED_STRINGS = 2000;

/**
 * Liquid's comparisons where a side is a number a double cannot hold (a
 * JsonNumber, db/json.ts). Against digits in quotes, exact: `{% if new.id ==
 * "9007199254740993" %}` is true for that id and false for ...992, as a
 * feature's condition is. Against a number, as doubles, as Liquid compares
 * every number (its literal `9007199254740993` is already the double
 * ...992). Any other pair compares as Liquid does.
 */
const operators: Operators = { ...defaultOperators };
for (const [name, holds] of [
  ['==', (c: number) => c === 0],
  ['!=', (c: number) => c !== 0],
  ['>', (c: number) => c > 0],
  ['<', (c: number) => c < 0],
  ['>=', (c: number) => c >= 0],
  ['<=', (c: number) => c <= 0],
] as const) {
  const liquid = defaultOperators[name] as (l: unknown, r: unknown, c: unknown) => unknown;
  operators[name] = (lhs: unknown, rhs: unknown, ctx: unknown) => {
    const order = bigNumberOrder(lhs, rhs);
    return (order === undefined ? liquid(lhs, rhs, ctx) : holds(order)) as boolean;
  };
}

/** How a JsonNumber side compares with the other (see operators); undefined when neither is one. */
function bigNumberOrder(lhs: unknown, rhs: unknown): number | undefined {
  if (!(lhs instanceof JsonNumber || rhs instanceof JsonNumber)) return undefined;
  if (typeof lhs === 'number' || typeof rhs === 'number') {
    const [a, b] = [Number(lhs), Number(rhs)];
    return a === b ? 0 : a < b ? -1 : a > b ? 1 : undefined;
  }
  const [a, b] = [decimalFromRow(lhs), decimalFromRow(rhs)];
  return a && b ? compareDecimal(a, b) : undefined;
}

/** `| json` through db/json.ts: such a number is written as its digits, a JSON number. */
const json = (value: unknown, space: unknown = 0) =>
  stringifyJson(value, typeof space === 'number' ? space : 0) ?? '';

// Strings in params: no file access at all (an in-memory, empty template set).
const inline = new Liquid({ strictFilters: true, ownPropertyOnly: true, templates: {}, operators });
inline.registerFilter('json', json);
inline.registerFilter('jsonify', json);

/**
 * The global variables a string in an action's params reads; throws what
 * rendering it would throw for its syntax (an output or tag left open, a
 * filter or tag that does not exist, a partial, which params cannot have).
 * The static check of a param: `nudge plan` refuses what this refuses, so
 * a string it passes fails at run time only for its data.
 */
export function textVariables(text: string): VariableSegments[] {
  return text.includes('{') ? inline.globalVariableSegmentsSync(text) : [];
}

/** The names of the filters params and templates may use, for "did you mean". */
export function liquidFilterNames(): string[] {
  return Object.keys(inline.filters);
}

/** What an email template's file ends with: `name` is looked for as either. */
export const TEMPLATE_EXTENSION = /\.(liquid|html)$/;

/** `promo/welcome` for promo/welcome.liquid: the name an email action gives. */
export const templateName = (file: string) => file.replace(TEMPLATE_EXTENSION, '');

/** The template files under `dir` (its subfolders too), as `a/b.liquid`; none when it is no directory. */
export async function templateFiles(dir: string): Promise<string[]> {
  try {
    const files = await readdir(dir, { recursive: true });
    return files
      .filter((file) => TEMPLATE_EXTENSION.test(file))
      .map((file) => file.split(path.sep).join('/'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw error;
  }
}

export function makeRenderer(templatesDir: string, cwd = process.cwd()): Renderer {
  const html = new Liquid({
    root: templatesDir,
    extname: '.liquid',
    strictFilters: true,
    ownPropertyOnly: true,
    outputEscape: 'escape',
    operators,
  });
  html.registerFilter('json', json);
  html.registerFilter('jsonify', json);
  const strings = new Map<string, Template[]>();
  const files = new Map<string, { mtimeMs: number; size: number; parsed: Template[] }>();
  const shown = (file: string) => path.relative(cwd, file) || file;

  async function renderString(text: string, variables: Variables, where: string) {
    if (!text.includes('{')) return text;
    try {
      const single = SINGLE_OUTPUT.exec(text);
      if (single) return toJson(await inline.evalValue(single[1]!, variables));
      let parsed = strings.get(text);
      if (!parsed) {
        parsed = inline.parse(text);
        if (strings.size >= MAX_CACHED_STRINGS) strings.clear();
        strings.set(text, parsed);
      }
      return String(await inline.render(parsed, variables));
    } catch (error) {
      throw new PermanentError(`${where}: ${(error as Error).message}`);
    }
  }

  async function renderValue(value: unknown, variables: Variables, where: string) {
    if (typeof value === 'string') return renderString(value, variables, where);
    if (Array.isArray(value)) {
      const out: unknown[] = [];
      for (const [i, item] of value.entries()) {
        out.push(await renderValue(item, variables, `${where}[${i}]`));
      }
      return out;
    }
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        out[key] = await renderValue(item, variables, `${where}.${key}`);
      }
      return out;
    }
    return value;
  }

  async function findTemplate(name: string) {
    if (!TEMPLATE_NAME.test(name) || name.split('/').includes('..')) {
      throw new PermanentError(
        `email template "${name}" is not a template name (letters, digits, _ - . and /)`,
      );
    }
    const candidates = TEMPLATE_EXTENSION.test(name)
      ? [path.join(templatesDir, name)]
      : [path.join(templatesDir, `${name}.liquid`), path.join(templatesDir, `${name}.html`)];
    for (const file of candidates) {
      const stats = await stat(file).catch(() => undefined);
      if (stats?.isFile()) return { file, stats };
    }
    throw new PermanentError(
      `email template "${name}" not found: no ${candidates.map(shown).join(' or ')}${await nearName(name)}`,
    );
  }

  /** ` (did you mean "welcome"?)` when a template of the folder is close to `name`. */
  async function nearName(name: string) {
    return didYouMean(name, (await templateFiles(templatesDir)).map(templateName));
  }

  async function parsedTemplate(name: string) {
    const { file, stats } = await findTemplate(name);
    let cached = files.get(file);
    if (!cached || cached.mtimeMs !== stats.mtimeMs || cached.size !== stats.size) {
      const source = await readFile(file, 'utf8');
      try {
        cached = { mtimeMs: stats.mtimeMs, size: stats.size, parsed: html.parse(source, file) };
      } catch (error) {
        throw new PermanentError(`${shown(file)}: ${liquidMessage(error, file)}`);
      }
      files.set(file, cached);
    }
    return { file, parsed: cached.parsed };
  }

  return {
    value: renderValue,
    async templateVariables(name) {
      const { file, parsed } = await parsedTemplate(name);
      try {
        return await html.globalVariableSegments(parsed);
      } catch (error) {
        throw new PermanentError(`${shown(file)}: ${liquidMessage(error, file)}`);
      }
    },
    textVariables,
    async template(name, variables) {
      const { file, parsed } = await parsedTemplate(name);
      try {
        return { html: String(await html.render(parsed, variables)), file };
      } catch (error) {
        throw new PermanentError(`${shown(file)}: ${liquidMessage(error, file)}`);
      }
    },
  };
}

/** liquidjs puts the absolute path in its messages; the caller names the file itself. */
function liquidMessage(error: unknown, file: string): string {
  return (error as Error).message.replace(`file:${file}, `, '');
}

/** Values that leave the template world as JSON: dates as ISO text, undefined as null. */
function toJson(value: unknown): unknown {
  if (value === undefined) return null;
  // Through db/json.ts: a row's number a double cannot hold stays exact.
  return parseJson(stringifyJson(value) ?? 'null');
}
