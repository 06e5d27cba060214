// Moved to transports/webhook/ (the capture webhook's wire format, signing and
// reconciler): kept for src/server/payloads.ts, which this change may not edit.
// Point its import at transports/webhook/index.js, then delete this file.
export { batchEvents, captureBatchSchema } from './transports/webhook/index.js';
