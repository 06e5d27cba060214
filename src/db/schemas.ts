// The schemas of Nudge's engine store (its own tables, and graphile-worker's
// job queue beside them), named once: a module of its own so the catalog can
// leave them out without loading the migrations.
export const ENGINE_SCHEMA = 'nudge_engine';
export const WORKER_SCHEMA = 'nudge_worker';
