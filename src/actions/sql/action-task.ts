// The name of the graphile-worker task that attempts action runs (task.ts):
// every job these statements add carries it, and recovery finds the jobs by
// it. A name, not a statement.
//
// The folder: the action queue's statements, one per file, as src/engine/sql/
// holds the engine's. They are the queue's own (nudge_engine.action_runs and
// graphile-worker's jobs), called only from src/actions/ (the engine reaches
// them through queue.ts), so they live here.
// The decisions an attempt logs go through the engine's insert-decisions.ts,
// the one insert into the decision log.
export const ACTION_TASK = 'nudge_action';
