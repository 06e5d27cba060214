// capture: outbox, the default, one folder: the trigger bodies that write
// captured rows in the user's transaction (body.ts: JSON into
// nudge.event_log; typed-rows.ts: typed rows tables), and the engine side
// that moves them into the engine's inbox (pump.ts, its statements in sql/).
// This file is the registry's entry (../index.ts): triggers, and the pump.
import { parseDuration } from '../../../config/duration.js';
import { buildCaptureObjects } from '../../triggers.js';
import type { Transport } from '../port.js';
import { capturesWaiting, oldestPendingCapture, pendingCaptures, pump } from './pump.js';

/** capture: outbox, the registry's default: triggers, and the pump the engine drives. */
export const outbox: Transport = {
  triggers: true,
  capturedBy: 'trigger',
  capturesWith: 'its own triggers',
  desired: async ({ project, needs }) =>
    buildCaptureObjects(needs, { exclude: project.config.capture.exclude_columns }),
  engine: {
    pump: ({ project, source, engine, route, announceAs, features }) => {
      // Consumed rows are kept in nudge.event_archive while retention.outbox is above 0s.
      const archive = (parseDuration(project.config.engine.retention.outbox) ?? 0) > 0;
      return {
        name: 'outbox pump',
        step: () => pump({ source, engine, route, archive, announceAs, features }),
        waiting: () => capturesWaiting(source),
      };
    },
    pending: pendingCaptures,
    oldestPending: oldestPendingCapture,
  },
};
