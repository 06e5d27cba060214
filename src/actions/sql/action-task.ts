// The action queue's statements, one per file, as src/engine/sql/ holds the
// engine's. They live beside the actions rather than in src/engine/sql/
// because they are the queue's own: nudge_engine.action_runs and
// graphile-worker's jobs, sharing the task name and job specs, called only
// from src/actions/ (the engine reaches them through queue.ts). The decisions
// an attempt logs are not here: they go through the engine's
// insert-decisions.ts, the one insert into the decision log.
//
// This file: the graphile-worker task that attempts action runs (task.ts),
// named by every job these statements add.
export const ACTION_TASK = 'nudge_action';
