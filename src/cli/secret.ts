// `nudge secret`: the secrets a user has to copy somewhere else — the
// Standard Webhooks secret senders sign POST /ingest with, the shared secret
// for Supabase Database Webhooks — and installing the capture signing key
// after a deploy done with `deploy --sql` / `export`. Printed only on request.
// `reset` deletes the stored secrets when the master key they were stored
// with is lost: they are made anew under this project's key on first use.

import { transportOf } from '../capture/transports/index.js';
import type { LoadedConfig } from '../config/load.js';
import type { EngineStore } from '../db/engine.js';
import { deleteSecrets, keySourceOf, storedSecretNames } from '../db/secrets.js';
import { NudgeError } from '../errors.js';
import { ingestSecret, ingestSharedSecret } from '../server/ingest-secrets.js';
import { installCaptureSecret } from './deploy.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, openProjectStore, withSource } from './project.js';

const WHAT = ['ingest', 'shared', 'install', 'reset'] as const;

export async function secret(
  what: string,
  options: GlobalOptions & { yes?: boolean },
  io: Io,
): Promise<number> {
  if (!WHAT.includes(what as (typeof WHAT)[number])) {
    throw new NudgeError(
      `unknown secret "${what}"`,
      'nudge secret ingest | shared | install | reset',
    );
  }
  const project = await loadProject(options, io);
  if (what === 'install') {
    if (!transportOf(project).signing) {
      io.out(
        `capture is ${project.config.capture.transport}: there is no signing key to install (only capture: webhook signs).`,
      );
      return 0;
    }
    await withSource(project, ({ sql }) => installCaptureSecret(project, sql, io));
    return 0;
  }
  const store = await openProjectStore(project, io, { max: 2 });
  try {
    if (what === 'reset') return await reset(store.sql, project, options, io);
    if (what === 'ingest') {
      const { secret: value, from } = await ingestSecret(store.sql, project);
      io.out(value);
      io.err(
        io.colors.dim(
          `Standard Webhooks secret for POST /ingest (${from === 'config' ? 'from ingest.secret' : 'stored encrypted'}).`,
        ),
      );
    } else {
      io.out(await ingestSharedSecret(store.sql, keySourceOf(project)));
      io.err(
        io.colors.dim(
          'For Supabase Database Webhooks: send it as the header x-nudge-secret (or Authorization: Bearer).',
        ),
      );
    }
    return 0;
  } finally {
    await store.close();
  }
}

/** Deletes the stored secrets, after asking, and says what to give their users again. */
async function reset(
  sql: EngineStore['sql'],
  project: LoadedConfig,
  options: { yes?: boolean },
  io: Io,
): Promise<number> {
  const names = await storedSecretNames(sql);
  if (names.length === 0) {
    io.out('No secrets are stored: nothing to reset.');
    return 0;
  }
  io.out(`Stored secrets: ${names.join(', ')}.`);
  if (!options.yes) {
    if (!io.confirm) {
      throw new NudgeError(
        'secret reset needs confirmation and there is no terminal to ask',
        'run `nudge secret reset --yes`',
      );
    }
    const ask =
      'Delete them? They are made anew under the master key of the first process to use them (this project’s, when you run it first), and whoever sends with the old ones is refused.';
    if (!(await io.confirm(ask))) {
      io.out('Nothing deleted.');
      return 1;
    }
  }
  const deleted = await deleteSecrets(sql);
  io.out(`Deleted ${deleted.join(', ')}. Restart every nudge start and worker (they read the`);
  io.out('secrets at start); the secrets are made anew when first used:');
  io.out('  nudge secret ingest    the new secret for senders that sign POST /ingest');
  io.out('  nudge secret shared    the new header value for Supabase Database Webhooks');
  if (transportOf(project).signing) {
    io.out('  nudge secret install   the capture triggers sign with the ingest secret: install it');
  }
  return 0;
}
