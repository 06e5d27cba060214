// capture: webhook, one folder: the trigger bodies that post each captured
// batch through pg_net (body.ts), and the wire format, signing key and
// reconciler of what they post (delivery.ts). This file is the registry's
// entry (../index.ts): pg_net triggers, the reconciler in the engine's
// housekeeping, pg_net and pgcrypto in doctor.
import { buildCaptureObjects } from '../../triggers.js';
import type { DoctorContext, Transport } from '../port.js';
import {
  installSigningSecret,
  reconcileWebhookDeliveries,
  resolveWebhookBody,
} from './delivery.js';

export {
  batchEvents,
  captureBatchSchema,
  installSigningSecret,
  reconcileWebhookDeliveries,
  resolveWebhookBody,
  signingSecretState,
} from './delivery.js';

/** capture: webhook: pg_net triggers, the reconciler in the engine, pg_net and pgcrypto in doctor. */
export const webhook: Transport = {
  triggers: true,
  capturedBy: 'trigger',
  capturesWith: 'its own triggers',
  async desired({ project, sql, needs }) {
    const body = await resolveWebhookBody(sql, project.config.capture.webhook);
    return buildCaptureObjects(needs, { exclude: project.config.capture.exclude_columns, body });
  },
  engine: {
    housekeeping: ({ source, engine, route, log, wake }) => [
      [
        'reconciling webhook deliveries',
        async () => {
          const result = await reconcileWebhookDeliveries(source, engine, route, { log });
          if (result.events > 0) wake();
        },
      ],
    ],
  },
  signing: {
    install: installSigningSecret,
    installed: 'Installed the webhook signing key in nudge.webhook_signing.',
    notInScript:
      '-- the webhook signing key is not in this script: run `nudge secret install` once after applying it',
  },
  doctor: { extensions: extensionChecks },
};

/** pg_net sends what the triggers capture; pgcrypto's hmac signs it. */
function extensionChecks({ analysis, say }: DoctorContext): void {
  const pgNet = analysis.pgNet;
  if (pgNet.installed) {
    say('ok', 'pg_net', `${pgNet.version} installed (capture: webhook)`);
  } else {
    const how = pgNet.available
      ? ' (or CREATE EXTENSION pg_net)'
      : '; this server does not ship pg_net: install it, or set capture: outbox';
    const fix = `Database → Extensions → pg_net → Enable${how}`;
    say('fail', 'pg_net', 'not installed; capture: webhook needs it', fix);
  }
  const pgcrypto = analysis.extensions.find((e) => e.name === 'pgcrypto');
  if (pgcrypto)
    say('ok', 'pgcrypto', `${pgcrypto.version} in ${pgcrypto.schema} (signs capture webhooks)`);
  else {
    const fix =
      'CREATE EXTENSION pgcrypto WITH SCHEMA extensions (Supabase: Database → Extensions → pgcrypto)';
    say('fail', 'pgcrypto', 'not installed; capture: webhook signs its requests with it', fix);
  }
}
