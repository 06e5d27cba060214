// `nudge keys create <name> [--scope read|write]`, `nudge keys list`,
// `nudge keys revoke <name|id>`: API keys for the HTTP API (/v1). A new key is
// printed once; Nudge keeps only its hash.
import type { Command } from 'commander';
import { NudgeError, UsageError } from '../errors.js';
import type { Io } from './io.js';
import type { GlobalOptions, Wrap } from './program.js';

export interface KeysCreateOptions extends GlobalOptions {
  name: string;
  scope?: string;
}

/** Registers `keys` and its three subcommands (modules load when a command runs). */
export function registerKeys(program: Command, wrap: Wrap): void {
  const keys = program
    .command('keys')
    .description('API keys for the HTTP API (/v1): create, list, revoke');
  keys
    .command('create <name>')
    .description('create a key and print it once (Nudge stores only its hash)')
    .option(
      '--scope <scope>',
      'read (GET only), dashboard (what the dashboard does: reads, pause, resume, replay, backtest, deploy, new lists, the demo clock) or write (everything)',
      'write',
    )
    .action(
      wrap<Omit<KeysCreateOptions, 'name'>>((options, io, [name]) =>
        keysCreate({ ...options, name: name ?? '' }, io),
      ),
    );
  keys
    .command('list')
    .description('show every key: name, scope, when it was last used, whether it is revoked')
    .option('--json', 'print JSON instead of text')
    .action(wrap(keysList));
  keys
    .command('revoke <name-or-id>')
    .description('revoke a key at once; requests with it get 401')
    .action(
      wrap<GlobalOptions>((options, io, [nameOrId]) =>
        keysRevoke({ ...options, nameOrId: nameOrId ?? '' }, io),
      ),
    );
}

/**
 * What a key may be named: a word for who uses it (ci-sync, grafana.prod),
 * as feature names are, dots allowed; it shows in `keys list` and in the
 * log of each request, and `keys revoke <name>` takes it back.
 */
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export async function keysCreate(options: KeysCreateOptions, io: Io): Promise<number> {
  const scope = options.scope ?? 'write';
  if (scope !== 'read' && scope !== 'dashboard' && scope !== 'write') {
    throw new UsageError(`--scope ${scope}: expected read, dashboard or write`);
  }
  const name = options.name.trim();
  if (!KEY_NAME.test(name)) {
    throw new UsageError(
      name
        ? `API key name ${JSON.stringify(name)}: expected letters, digits, ., - and _, starting with a letter or digit (at most 64)`
        : 'an API key needs a name: who uses it, e.g. ci-sync',
      'e.g. nudge keys create ci-sync --scope read',
    );
  }
  const { ApiKeyNameTaken, createApiKey } = await import('../server/api/keys.js');
  return withStore(options, io, async (sql) => {
    try {
      const created = await createApiKey(sql, name, scope);
      io.out(`${io.colors.green('✓')} API key "${created.name}" (${scope}) created:`);
      io.out('');
      io.out(`  ${created.key}`);
      io.out('');
      io.out(
        io.colors.dim(
          'Copy it now: it is not shown again. Send it as Authorization: Bearer <key>.',
        ),
      );
      return 0;
    } catch (error) {
      if (error instanceof ApiKeyNameTaken) {
        throw new NudgeError(
          error.message,
          `revoke it first (nudge keys revoke ${name}) or pick another name`,
        );
      }
      throw error;
    }
  });
}

export async function keysList(
  options: GlobalOptions & { json?: boolean },
  io: Io,
): Promise<number> {
  const { listApiKeys } = await import('../server/api/keys.js');
  return withStore(options, io, async (sql) => {
    const keys = await listApiKeys(sql);
    if (options.json) {
      for (const key of keys) io.out(JSON.stringify(key));
      return 0;
    }
    if (keys.length === 0) {
      io.out('No API keys yet. Create one with: nudge keys create <name> [--scope read|write]');
      return 0;
    }
    const when = (date: Date | null) => (date ? date.toISOString().replace(/\.\d+Z$/, 'Z') : '-');
    const rows = keys.map((key) => [
      key.name,
      key.scope,
      when(key.created_at),
      when(key.last_used_at),
      key.revoked_at ? `revoked ${when(key.revoked_at)}` : 'active',
      key.id,
    ]);
    const header = ['NAME', 'SCOPE', 'CREATED', 'LAST USED', 'STATUS', 'ID'];
    const widths = header.map((title, i) =>
      Math.max(title.length, ...rows.map((r) => r[i]!.length)),
    );
    const line = (cells: string[]) =>
      cells
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd();
    io.out(io.colors.dim(line(header)));
    for (const row of rows) io.out(line(row));
    return 0;
  });
}

export async function keysRevoke(
  options: GlobalOptions & { nameOrId: string },
  io: Io,
): Promise<number> {
  const { revokeApiKey } = await import('../server/api/keys.js');
  return withStore(options, io, async (sql) => {
    const revoked = await revokeApiKey(sql, options.nameOrId);
    if (revoked.length === 0) {
      throw new NudgeError(
        `no active API key named or with id "${options.nameOrId}"`,
        'see them with: nudge keys list',
      );
    }
    for (const key of revoked)
      io.out(`${io.colors.green('✓')} revoked API key "${key.name}" (${key.id})`);
    return 0;
  });
}

async function withStore<T>(
  options: GlobalOptions,
  io: Io,
  body: (sql: import('postgres').Sql) => Promise<T>,
): Promise<T> {
  const { loadProject, openProjectStore } = await import('./project.js');
  const project = await loadProject(options, io);
  const store = await openProjectStore(project, io, { max: 1 });
  try {
    return await body(store.sql);
  } finally {
    await store.close();
  }
}
