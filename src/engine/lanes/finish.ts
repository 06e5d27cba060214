// The end of a lane's (or the timers') transaction: what its steps collected —
// journeys changed in a batch, decisions, action runs — written in one
// statement, and after the commit the first attempts this process makes itself.
import type postgres from 'postgres';
import type { RunsWrite } from '../../actions/first-attempt.js';
import { type RunRef, runRefs } from '../../actions/queue.js';
import { together } from '../../db/together.js';
import { journeyWrites, type StepEnv } from '../journeys/store.js';
import { insertDecisions } from '../sql/insert-decisions.js';
import type { ProcessContext } from './context.js';

/** What a committed transaction leaves to do: its first attempts; returns how many events it handled. */
export function committed(
  ctx: ProcessContext,
  done: { count: number; attemptHere: RunRef[] },
): number {
  if (done.attemptHere.length > 0) ctx.firstAttempts?.start(done.attemptHere);
  return done.count;
}

/**
 * Writes what a step collected — the journeys it changed (batch mode), the
 * decisions, the action runs — and `also`, a statement not sent yet, as one
 * statement of data-modifying CTEs: one message and one reply instead of
 * four (the engine's time goes mostly to round trips and socket writes, see
 * docs/benchmarks.md). They touch different tables and see the same
 * snapshot, so together they do what they did one after the other. Returns
 * the runs to attempt in this process after the commit (see committed()).
 */
export async function finish(
  tx: postgres.TransactionSql,
  ctx: ProcessContext,
  env: StepEnv,
  also?: postgres.PendingQuery<postgres.Row[]>,
): Promise<RunRef[]> {
  const runs = env.actions;
  // Runs this process attempts itself are inserted with the rest; runs given
  // jobs go through enqueueActions, a statement of its own (its CTEs cannot
  // nest in another's).
  const recorded: RunsWrite | undefined =
    runs.length === 0
      ? undefined
      : ctx.firstAttempts
        ? ctx.firstAttempts.record(tx, runs)
        : { enqueued: ctx.enqueueActions(tx, runs) };
  const inserted = recorded && 'insert' in recorded ? recorded.insert : undefined;
  const writes = [
    env.journeys ? journeyWrites(tx, env.journeys) : undefined,
    insertDecisions(tx, env.decisions),
    also,
    inserted,
  ].filter((w) => w !== undefined);
  const [rows] = await Promise.all([
    writes.length === 0
      ? []
      : together(tx, writes, (last) =>
          inserted ? tx`select * from ${tx.unsafe(last)}` : tx`select`,
        ),
    recorded && 'enqueued' in recorded ? recorded.enqueued : undefined,
  ]);
  return inserted ? runRefs(rows) : [];
}
