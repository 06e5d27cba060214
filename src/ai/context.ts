// What the model is told about the project: the live schema (tables, columns,
// types, primary keys, foreign keys to auth.users) as `nudge analyze` reads
// it, the named events, the actions, the email templates by name, the
// contact attributes and the premade features as examples. Only names and
// types: no row, no row count, no value from the database ever goes in here.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { templateFiles, templateName } from '../actions/render.js';
import { type ExcludedColumns, exclusionOf } from '../capture/columns.js';
import { NAMED_EVENTS } from '../capture/named-events.js';
import type { LoadedConfig } from '../config/load.js';
import { actionSchemas } from '../features/schema.js';
import { type Analysis, allTables, SUPABASE_SCHEMAS } from '../source/introspect.js';
import { formatTableName } from '../source/names.js';

/** Tables of Supabase's own schemas a feature may use; the rest are Supabase internals. */
const SUPABASE_TABLES_SHOWN = new Set(['auth.users', 'storage.objects']);

const EXAMPLES = fileURLToPath(new URL('../../examples/demo/nudge/features/', import.meta.url));

export interface DraftContext {
  /** One line per table and column, in the words of `nudge analyze`. */
  schema: string;
  templates: string[];
  attributes: Record<string, string>;
  examples: { file: string; text: string }[];
}

/** The schema as the model sees it: names, types, keys. Credentials and excluded columns are left out. */
export function describeSchema(analysis: Analysis, exclude: ExcludedColumns = {}): string {
  const lines: string[] = [];
  for (const table of allTables(analysis)) {
    const name = formatTableName(table);
    if (SUPABASE_SCHEMAS.has(table.schema) && !SUPABASE_TABLES_SHOWN.has(name)) continue;
    if (table.kind !== 'table' && table.kind !== 'partitioned table') continue;
    const references = new Map<string, string>();
    for (const ref of table.authUserReferences) {
      ref.columns.forEach((column, i) => {
        references.set(column, `references auth.users(${ref.references[i] ?? 'id'})`);
      });
    }
    lines.push(`table ${name}`);
    for (const column of table.columns) {
      if (exclusionOf(table, column.name, exclude)) continue;
      const flags = [
        table.primaryKey.includes(column.name) ? 'primary key' : '',
        column.notNull && !table.primaryKey.includes(column.name) ? 'not null' : '',
        references.get(column.name) ?? '',
      ].filter(Boolean);
      lines.push(`  ${column.name} ${column.type}${flags.length ? ` (${flags.join(', ')})` : ''}`);
    }
  }
  return lines.join('\n');
}

export async function draftContext(
  project: LoadedConfig,
  analysis: Analysis,
): Promise<DraftContext> {
  return {
    schema: describeSchema(analysis, project.config.capture.exclude_columns),
    templates: await templateNames(project.templatesDir),
    attributes: { ...project.config.contacts.attributes },
    examples: await examples(),
  };
}

/** The templates an email action can name, each once (welcome.liquid and welcome.html are both welcome). */
async function templateNames(dir: string): Promise<string[]> {
  return [...new Set((await templateFiles(dir)).map(templateName))].sort();
}

async function examples(): Promise<{ file: string; text: string }[]> {
  const files = (await readdir(EXAMPLES)).filter((f) => f.endsWith('.yaml')).sort();
  return Promise.all(
    files.map(async (file) => ({
      file,
      // The editor-completion comment points inside this repository: not useful to the model.
      text: (await readFile(path.join(EXAMPLES, file), 'utf8')).replace(
        /^# yaml-language-server:.*\n/,
        '',
      ),
    })),
  );
}

/** The system message: the format, the vocabulary, the project. */
export function systemPrompt(context: DraftContext): string {
  const events = Object.entries(NAMED_EVENTS).map(
    ([name, event]) => `  ${name}: ${event.description}`,
  );
  const attributes = Object.entries(context.attributes).map(([name, type]) => `${name} (${type})`);
  return [
    'You write Nudge feature files. A feature turns row changes in a PostgreSQL (Supabase) database into lifecycle actions: emails, webhooks, contact attributes, lists.',
    'Answer with one feature as JSON matching the given JSON Schema. It is saved as YAML with status: draft.',
    '',
    'Rules:',
    '- trigger: { table: <schema.table>, on: insert|update|delete } (update may list columns), or { event: <named event> }, or { table, schedule: { every: 1d }, when } to enter matching rows on a schedule.',
    '- Conditions use PostgREST operators: eq neq gt gte lt lte like ilike in is (prefix not. to negate), over new.<column>, old.<column> and contact.<attribute>, combined with and: [...] / or: [...]. Example: { "new.status": "eq.paid", "new.total": "gt.100" }. Times: lt.now()-7d.',
    '- Use only tables and columns listed below; a contact needs contact: { id: new.<column> } (a column referencing auth.users) or email, except on auth.users where it is implied.',
    '- stages run in order; a later stage waits with after: 2d, or until: <condition> within: 3d; if / unless guard a stage; do lists actions.',
    `- Actions (one key each): ${Object.keys(actionSchemas).join(', ')}. email: { template, subject }; webhook: { url, body }; set: { attribute: value }.`,
    `- Email templates that exist: ${context.templates.length ? context.templates.join(', ') : '(none yet: name the template the user should write)'}.`,
    `- Contact attributes: ${attributes.length ? attributes.join(', ') : '(none declared)'}.`,
    '- Give the feature a short kebab-case name and a one-line description. Use cooldown / max_entries to avoid sending twice.',
    '',
    'Named events:',
    ...events,
    '',
    'The database schema (names and types only):',
    context.schema,
    '',
    'Examples of feature files:',
    ...context.examples.map((e) => `--- ${e.file}\n${e.text.trimEnd()}`),
  ].join('\n');
}
