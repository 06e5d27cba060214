// The MCP tools: each one is a CLI command run in-process (analyze, plan,
// deploy, backtest — their own output, JSON where the command has it), the validator
// `nudge new` uses, or a read of the /v1 API (engine-api.ts). No tool has
// logic of its own beyond choosing which of those to call; deploy refuses in
// read-only mode and without confirm: true.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { checkFeatureText, featureFilePath } from '../ai/validate.js';
import { WINDOW_FIELDS } from '../backtest/index.js';
import { backtest } from '../cli/backtest.js';
import { type Io, memoryIo, printError } from '../cli/io.js';
import { run } from '../cli/program.js';
import { withSource } from '../cli/project.js';
import type { LoadedConfig } from '../config/load.js';
import type { ConfigError } from '../errors.js';
import { NudgeError } from '../errors.js';
import { loadFeatures } from '../features/load.js';
import { triggerText } from '../server/api/features.js';
import { readCatalog } from '../source/catalog.js';
import { type McpContext, projectOf } from './context.js';

const text = (value: unknown): CallToolResult => ({
  content: [
    { type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value, null, 2) },
  ],
});
const failure = (message: string): CallToolResult => ({ ...text(message), isError: true });

/** Runs a tool body; a NudgeError (bad input, no database, ...) becomes an error result with its hint. */
async function answer(body: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof NudgeError) {
      return failure(error.hint ? `${error.message}\nhint: ${error.hint}` : error.message);
    }
    throw error;
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

export function registerTools(server: McpServer, context: McpContext): void {
  const globals = context.config ? ['--config', context.config] : [];
  /** A CLI command's function in-process: its stdout on success, what it printed or threw as an error result. */
  const inProcess = async (fn: (io: Io) => Promise<number>): Promise<CallToolResult> => {
    const m = memoryIo({ cwd: context.cwd, env: context.env });
    const code = await fn(m.io).catch((error: unknown) => printError(m.io, error, false));
    return code === 0 ? text(m.stdout()) : failure(m.stderr() || m.stdout());
  };
  const command = (args: string[]) => inProcess((io) => run([...globals, ...args], io));
  const project = () => projectOf(context);
  /** A GET of the /v1 routes on the engine store (engine-api.ts), as JSON. */
  const api = (path: string) =>
    answer(async () => text(await context.engine.get(await project(), path)));
  const read = { readOnlyHint: true, openWorldHint: false } as const;

  server.registerTool(
    'analyze_schema',
    {
      description:
        'The database as `nudge analyze --json` describes it: schemas, tables, columns and types, primary keys, foreign keys to auth.users, RLS, triggers, extensions, replication. Names and statistics only, no rows.',
      inputSchema: { schemas: z.array(z.string()).optional().describe('only these schemas') },
      annotations: read,
    },
    ({ schemas }) =>
      command(['analyze', '--json', ...(schemas?.length ? ['--schema', ...schemas] : [])]),
  );

  server.registerTool(
    'list_features',
    {
      description:
        'The feature files of the project: name, status (active, paused, draft), trigger, stages, file.',
      annotations: read,
    },
    () =>
      answer(async () => {
        const loaded = await project();
        const features = await loadFeatures(loaded.featuresDir, loaded.env, loaded.cwd);
        return text(
          features.map((f) => ({
            name: f.name,
            status: f.status,
            description: f.description ?? null,
            trigger: triggerText(f.trigger),
            stages: [...f.machine.stages.keys()],
            file: f.source.file,
          })),
        );
      }),
  );

  server.registerTool(
    'validate_feature',
    {
      description:
        'Check a feature file (YAML) exactly as `nudge plan` would, against the live schema. Returns valid and the errors with line, column, field and problem. Give file_name when the YAML is an edit of an existing file (e.g. welcome-drip.yaml).',
      inputSchema: {
        yaml: z.string().describe('the feature file'),
        file_name: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*\.ya?ml$/)
          .optional()
          .describe('the file it is or will be, default draft.yaml'),
      },
      annotations: read,
    },
    ({ yaml, file_name }) =>
      answer(async () => {
        const loaded = await project();
        const errors = await checkText(loaded, yaml, file_name ?? 'draft.yaml', true);
        return text({ valid: errors.length === 0, errors: errors.map(describeError) });
      }),
  );

  server.registerTool(
    'plan',
    {
      description:
        'What `nudge deploy` would change in the database (`nudge plan --json`): triggers to create, replace or drop, drift, paused features.',
      annotations: read,
    },
    () => command(['plan', '--json']),
  );

  server.registerTool(
    'write_draft_feature',
    {
      description:
        'Save a feature file with status: draft (never deployed until a person sets status: active) under the features directory, as <name>.yaml, after the same check as validate_feature. Nothing is written when it has errors.',
      inputSchema: {
        yaml: z.string().describe('the feature file, with a name'),
        overwrite: z.boolean().optional().describe('replace an existing <name>.yaml'),
      },
    },
    ({ yaml, overwrite }) =>
      answer(async () => {
        const doc = parseDocument(yaml);
        const name = doc.get('name');
        const loaded = await project();
        const refused = (errors: ConfigError[]) => ({
          ...text({ written: false, errors: errors.map(describeError) }),
          isError: true,
        });
        if (doc.errors.length) {
          // Broken YAML cannot be given status: draft: its errors, located, as validate_feature says them.
          const file = typeof name === 'string' && NAME.test(name) ? `${name}.yaml` : 'draft.yaml';
          const errors = await checkText(loaded, yaml, file, true);
          return errors.length ? refused(errors) : failure(String(doc.errors[0]?.message));
        }
        if (typeof name !== 'string' || !NAME.test(name)) {
          return failure('name: give the feature a name of letters, digits, - and _');
        }
        doc.set('status', 'draft');
        const draft = doc.toString();
        const fileName = `${name}.yaml`;
        const errors = await checkText(loaded, draft, fileName, !!overwrite);
        if (errors.length) return refused(errors);
        await mkdir(loaded.featuresDir, { recursive: true });
        await writeFile(path.join(loaded.featuresDir, fileName), draft, {
          flag: overwrite ? 'w' : 'wx',
        });
        return text({ written: true, file: featureFilePath(loaded, fileName), yaml: draft });
      }),
  );

  server.registerTool(
    'deploy',
    {
      description:
        'Apply the plan to the database (`nudge deploy`): installs the nudge schema and capture triggers in one transaction. Only in read-write access, and only with confirm: true after a person has seen the plan. Returns the plan it applied.',
      inputSchema: {
        confirm: z.boolean().describe('true: the person asked to deploy this plan'),
      },
      annotations: { destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ confirm }) =>
      answer(async () => {
        const loaded = await project();
        if (loaded.config.access === 'read-only') {
          return failure(
            'access is read-only: deploy is not available. Show the person `plan` instead; they can set access: read-write in nudge.yaml.',
          );
        }
        if (confirm !== true) {
          return failure(
            'deploy needs confirm: true. Call plan, show it to the person, and deploy only when they say so.',
          );
        }
        return command(['deploy', '--yes']);
      }),
  );

  server.registerTool(
    'query_decisions',
    {
      description:
        'The decision log, newest first: for each event and feature, matched or skipped and why, journey moves, actions with their state. Filter by feature, contact (email or id) and outcome.',
      inputSchema: {
        feature: z.string().optional(),
        contact: z.string().optional().describe('an email or a contact / auth user id'),
        outcome: z
          .string()
          .optional()
          .describe(
            'matched, skipped, entered, advanced, completed, exited, action, attempt, paused, resumed, ...',
          ),
        limit: z.number().int().min(1).max(200).optional(),
      },
      annotations: read,
    },
    (query) => api(`/decisions?${params(query)}`),
  );

  server.registerTool(
    'query_action_results',
    {
      description:
        'Action runs (emails, webhooks, ...), newest first, with status (pending, retrying, succeeded, dead), attempts and last error.',
      inputSchema: {
        feature: z.string().optional(),
        status: z.enum(['pending', 'retrying', 'succeeded', 'dead']).optional(),
        limit: z.number().int().min(1).max(200).optional(),
      },
      annotations: read,
    },
    (query) => api(`/actions?${params(query)}`),
  );

  server.registerTool(
    'lookup_contact',
    {
      description:
        'One contact by email, contact id, auth user id or external id: identities, attributes, lists, and their timeline of events, journeys and actions.',
      inputSchema: { contact: z.string().min(1) },
      annotations: read,
    },
    ({ contact }) => api(`/contacts/${encodeURIComponent(contact)}`),
  );

  server.registerTool(
    'backtest',
    {
      description:
        'Run a feature as it is on disk (any status, drafts too) over the past, as `nudge backtest --json` does: a simulated clock, no effects, nothing written. Reports events read and matched, contacts entered, stages reached, actions that would have run, skips by reason, sample timelines, the simplifications made, and what was read as it is today rather than as it was (todaysValues, with the events each touched).',
      inputSchema: {
        feature: z.string().min(1).describe('the feature name'),
        since: z
          .string()
          .optional()
          .describe('a duration back from now (default 30d) or an ISO time'),
        from: z.string().optional().describe('instead of since: start (ISO time or duration back)'),
        to: z.string().optional().describe('with from: end (default now)'),
      },
      annotations: read,
    },
    ({ feature, ...window }) =>
      inProcess((io) =>
        backtest(
          [feature],
          {
            ...(context.config ? { config: context.config } : {}),
            ...defined(window),
            json: true,
            windowNames: WINDOW_FIELDS,
          },
          io,
        ),
      ),
  );
}

/** checkFeatureText against a fresh read of the live schema. */
async function checkText(
  project: LoadedConfig,
  yaml: string,
  fileName: string,
  replace: boolean,
): Promise<ConfigError[]> {
  return withSource(
    project,
    async ({ sql }) =>
      (await checkFeatureText(project, sql, await readCatalog(sql), yaml, fileName, { replace }))
        .errors,
  );
}

function describeError(error: ConfigError) {
  return {
    line: error.place.line ?? null,
    column: error.place.column ?? null,
    field: error.field,
    problem: error.problem,
    message: error.message,
  };
}

/** The properties that are set (exact optional properties). */
function defined<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(values).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

function params(query: Record<string, unknown>): string {
  return new URLSearchParams(
    Object.entries(defined(query)).map(([key, value]): [string, string] => [key, String(value)]),
  ).toString();
}
