// `nudge init`: a nudge.yaml and a first feature from the premade templates,
// so a newcomer starts from something that deploys: with the email templates
// that feature sends (and the partials they render), not every premade one;
// it says where the others are and how to add a premade feature with its own.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEMPLATE_EXTENSION, templateName } from '../actions/render.js';
import { readDotEnv } from '../config/load.js';
import { displayPath, parseYaml } from '../config/yaml.js';
import { NudgeError } from '../errors.js';
import { parseFeature } from '../features/load.js';
import { didYouMean } from '../suggest.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';

const TEMPLATES = fileURLToPath(new URL('../../examples/demo/nudge/', import.meta.url));

/** The JSON Schemas the package ships (schema/), as installed in a user's project. */
const SCHEMAS = 'node_modules/nudge/schema';
/** Nudge's documentation (docs/), there when the project did `npm link nudge` (README). */
const DOCS = 'node_modules/nudge/docs';

const CONFIG = `# yaml-language-server: $schema=./${SCHEMAS}/nudge.schema.json
# Nudge configuration. Every field: ${DOCS}/configuration.md
# (after npm link nudge; docs/configuration.md in Nudge's repository).
# The database: your Supabase project's connection string (Settings → Database),
# read from the environment or from .env beside this file.
database_url: \${DATABASE_URL}
access: read-write        # read-only: analyze and plan only, deploy refuses
capture: outbox           # outbox (transactional), webhook (pg_net) or replication (a logical replication slot, no trigger)
features: nudge/features
templates: nudge/templates

# Types of contact attributes your features test (contact.onboarded: is.true).
contacts:
  attributes:
    onboarded: boolean

# connectors:
#   supabase:
#     project_url: https://<project-ref>.supabase.co
#     api_key: \${SUPABASE_SERVICE_ROLE_KEY}
#     sync:
#       users: true
#       tables: [customers, orders]
#     table_mapping:              # how each listed table syncs
#       customers: { plan: plan } # column: contact attribute
#       orders: { sync_as: events, event_name: order_placed }
`;

export async function init(
  options: GlobalOptions & { template?: string },
  io: Io,
): Promise<number> {
  const available = (await readdir(path.join(TEMPLATES, 'features'))).map((f) =>
    f.replace(/\.yaml$/, ''),
  );
  const template = options.template ?? 'welcome-drip';
  if (!available.includes(template)) {
    throw new NudgeError(
      `no template named "${template}"${didYouMean(template, available)}`,
      `templates: ${available.join(', ')}`,
    );
  }
  const written: string[] = [];
  const write = async (relative: string, action: () => Promise<void>) => {
    const target = path.join(io.cwd, relative);
    if (existsSync(target)) {
      io.out(io.colors.dim(`  = ${relative} (exists, left as is)`));
      return;
    }
    await mkdir(path.dirname(target), { recursive: true });
    await action();
    written.push(relative);
    io.out(`  ${io.colors.green('+')} ${relative}`);
  };
  await write('nudge.yaml', () => writeFile(path.join(io.cwd, 'nudge.yaml'), CONFIG));
  const premade = await readFile(path.join(TEMPLATES, 'features', `${template}.yaml`), 'utf8');
  await write(`nudge/features/${template}.yaml`, () =>
    writeFile(path.join(io.cwd, `nudge/features/${template}.yaml`), withInstalledSchema(premade)),
  );
  const emails = await templateFilesOf(premade, `${template}.yaml`);
  // There even when the feature sends no email: where nudge.yaml says templates are.
  await mkdir(path.join(io.cwd, 'nudge/templates'), { recursive: true });
  for (const file of emails) {
    await write(`nudge/templates/${file}`, () =>
      copyFile(path.join(TEMPLATES, 'templates', file), path.join(io.cwd, 'nudge/templates', file)),
    );
  }
  io.out('');
  const others = available.filter((name) => name !== template);
  const [file = '<name>.liquid'] = emails;
  io.out(
    `${emails.length ? `Email templates: the ones ${template} sends, in nudge/templates` : `${template} sends no email: no email template copied`}. An email action names its template without the extension: { email: { template: ${templateName(file)} } } renders nudge/templates/${file}.`,
  );
  io.out(
    io.colors.dim(
      `  More premade features, each with its templates: nudge init --template <name> (${others.join(', ')}).`,
    ),
  );
  io.out(
    io.colors.dim(
      `  Every premade email template: ${displayPath(path.join(TEMPLATES, 'templates'), io.cwd)}`,
    ),
  );
  io.out('');
  // Run again on a project it made: the steps were said then, and nothing changed.
  if (written.length === 0) {
    io.out('Nothing written: every file exists already (nudge init never overwrites one).');
    return 0;
  }
  const steps = [
    'nudge doctor    check the connection and prerequisites',
    'nudge plan      see what would be deployed',
    'nudge deploy    install capture: the nudge schema and triggers (with capture: replication, publications and a slot)',
  ];
  // The URL first, unless it is set already (in the environment or .env).
  if (!io.env.DATABASE_URL && !dotEnvSets(io.cwd, 'DATABASE_URL'))
    steps.unshift(
      'put DATABASE_URL=postgres://... in .env (Supabase: Settings → Database → Connection string)',
    );
  io.out('Next:');
  steps.forEach((step, i) => {
    io.out(`  ${i + 1}. ${step}`);
  });
  return 0;
}

/** Whether the .env file in `dir` sets `name` (to anything), read as nudge.yaml's loader reads it. */
function dotEnvSets(dir: string, name: string): boolean {
  try {
    return !!readDotEnv(dir)[name];
  } catch {
    return false; // a .env that does not parse: the next command names it
  }
}

/**
 * The premade template files (names in TEMPLATES/templates) a premade
 * feature's email actions send, with the partials they render: `template:
 * welcome` is welcome.liquid, else welcome.html, as the renderer finds them.
 */
async function templateFilesOf(featureText: string, fileName: string): Promise<string[]> {
  const feature = parseFeature(parseYaml(featureText, fileName, {}), fileName);
  const names = [...feature.machine.stages.values()].flatMap((stage) =>
    stage.actions.flatMap((action) => (action.kind === 'email' ? [action.params.template] : [])),
  );
  const files: string[] = [];
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const file = [name, `${name}.liquid`, `${name}.html`].find(
      (candidate) =>
        TEMPLATE_EXTENSION.test(candidate) &&
        existsSync(path.join(TEMPLATES, 'templates', candidate)),
    );
    if (!file || files.includes(file)) continue;
    files.push(file);
    const text = await readFile(path.join(TEMPLATES, 'templates', file), 'utf8');
    for (const [, partial] of text.matchAll(PARTIAL)) names.push(partial!);
  }
  return files;
}

/** `{% render 'money' %}` or `{%- include "footer" -%}`: the partial's name. */
const PARTIAL = /\{%-?\s*(?:render|include)\s+['"]([^'"]+)['"]/g;

/**
 * A premade feature's `$schema=` points at the schema in this repository
 * (examples/demo/nudge/features → schema/); in the user's project it is the
 * installed package's, two folders up from nudge/features.
 */
function withInstalledSchema(text: string): string {
  return text.replace(
    /^(# yaml-language-server: \$schema=)\S+/m,
    `$1../../${SCHEMAS}/feature.schema.json`,
  );
}
