// `nudge secret`: the secrets a user has to copy somewhere else — the
// Standard Webhooks secret senders sign POST /ingest with, the shared secret
// for Supabase Database Webhooks — and installing the capture signing key
// after a deploy done with `deploy --sql` / `export`. Printed only on request.

import { transportOf } from '../capture/transports/index.js';
import { NudgeError } from '../errors.js';
import { ingestSecret, ingestSharedSecret, keySourceOf } from '../server/ingest-secrets.js';
import { installCaptureSecret } from './deploy.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, openProjectStore, withSource } from './project.js';

const WHAT = ['ingest', 'shared', 'install'] as const;

export async function secret(what: string, options: GlobalOptions, io: Io): Promise<number> {
  if (!WHAT.includes(what as (typeof WHAT)[number])) {
    throw new NudgeError(`unknown secret "${what}"`, 'nudge secret ingest | shared | install');
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
