// capture: outbox, the default, one folder: the trigger bodies that write
// captured rows in the user's transaction (body.ts: JSON into
// nudge.event_log; typed-rows.ts: typed rows tables), and the engine side
// that moves them into the engine's inbox (pump.ts, its statements in sql/).
// This file is the registry's entry (../index.ts).
import { buildCaptureObjects } from '../../triggers.js';
import type { Transport } from '../port.js';

/** capture: outbox, the registry's default (../index.ts): triggers, and nothing else to run. */
export const outbox: Transport = {
  triggers: true,
  capturedBy: 'trigger',
  capturesWith: 'its own triggers',
  desired: async ({ project, needs }) =>
    buildCaptureObjects(needs, { exclude: project.config.capture.exclude_columns }),
};
