// The refusal to lose what a transport's own objects hold (transports/port.ts
// Loss: a slot's unread changes), as its transport words it. The CLI prints
// it; callers with ways forward of their own (`nudge dev`, the dashboard's
// deploy) catch this type and say theirs from what it carries.
import { NudgeError } from '../errors.js';

/** What a refused loss is, for a caller that words its own refusal. */
export interface RefusedLoss {
  /** The transport whose objects hold it, by its capture.transport name: `replication`. */
  transport: string;
  /** What would be lost: `slot nudge holds 3 changes not yet read by an engine (…)`. */
  what: string;
  /** What an engine reads to keep it, and what is dropped to lose it: `the slot`. */
  where: string;
  /** The dashboard's answer: the error code of its 409 (`unread_slot`) and the fields it adds (`slots`). */
  code: string;
  fields: Record<string, unknown>;
}

export class LossError extends NudgeError {
  override name = 'LossError';
  constructor(
    message: string,
    hint: string,
    readonly loss: RefusedLoss,
  ) {
    super(message, hint);
  }
}
