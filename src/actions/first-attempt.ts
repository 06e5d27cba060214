// An action's first attempt, made by the engine process that decided it as
// soon as the deciding transaction commits, instead of by a job. Going
// through graphile-worker costs each batch of runs a job insert, a NOTIFY, a
// fetch and a completion, and costs the action the wait until a worker picks
// the job up; at a few hundred events a second on a small machine that wait
// was most of the commit → webhook latency (docs/benchmarks.md).
//
// Nothing is given up for it. The run's row, written in the deciding
// transaction, is the durable record: the attempt locks it and checks its
// attempt number exactly as a job's does (task.ts), so a run is never
// attempted twice at once or twice for one attempt. Retries, replays and
// recovery stay graphile-worker jobs (queue.ts, task.ts). A run this process
// never attempts (it was killed right after the commit, or recording the
// attempt failed) has no job and no lock, and recoverActions gives it a job
// once it has been untouched for a while. When `limit` batches are already
// being attempted (a slow receiver), new runs get jobs as before, so no run
// waits here long enough to look orphaned to recovery; and every attempt,
// first or from a job, counts against the process's attempt limit
// (attempt-limit.ts, set up in runtime.ts), so attempts hold at most that
// many connections together.
import type postgres from 'postgres';
import { enqueueActions, newRuns, RUNS_PER_JOB, type RunRef } from './queue.js';
import type { NewActionRun } from './types.js';

/** How the deciding transaction writes its runs (FirstAttempts.record). */
export type RunsWrite =
  /** For this process to attempt: a statement not sent yet, to send with the transaction's others; its rows read with runRefs. */
  | { insert: postgres.PendingQuery<postgres.Row[]> }
  /** Given jobs instead (no room here), already under way. */
  | { enqueued: Promise<unknown> };

export interface FirstAttempts {
  /**
   * In the deciding transaction: how to record the runs — inserted without
   * jobs, for this process to attempt once the transaction commits, or, when
   * `limit` batches are already being attempted or it is stopping, given jobs.
   */
  record(tx: postgres.TransactionSql, runs: NewActionRun[]): RunsWrite;
  /** After the commit: starts the attempts (in batches of RUNS_PER_JOB), not waiting for them. */
  start(refs: RunRef[]): void;
  /**
   * On stop: starts nothing more (runs not yet started are left to recovery,
   * their rows being durable) and waits for the attempts under way, at most
   * `timeoutMs`. Resolves with how many runs were left.
   */
  settle(timeoutMs: number): Promise<number>;
}

export function firstAttemptsHere(options: {
  /** One attempt of each run, recorded (task.ts runActions). */
  attempt: (refs: RunRef[]) => Promise<unknown>;
  /** Batches (of RUNS_PER_JOB runs) attempted at once, like a job runner's concurrency. */
  limit: number;
  /** An attempt whose outcome could not be recorded: its runs wait for recovery. */
  onError: (error: unknown, refs: RunRef[]) => void;
}): FirstAttempts {
  const queue: RunRef[][] = [];
  const running = new Set<Promise<void>>();
  let stopping = false;
  const next = () => {
    while (!stopping && running.size < options.limit && queue.length > 0) {
      const batch = queue.shift()!;
      const attempt: Promise<void> = options
        .attempt(batch)
        .then(
          () => undefined,
          (error) => options.onError(error, batch),
        )
        .finally(() => {
          running.delete(attempt);
          next();
        });
      running.add(attempt);
    }
  };
  return {
    record(tx, runs) {
      // Room is checked, not reserved: the deciders of the moment (the lanes,
      // the timers) may each take it, so a few batches may queue briefly.
      const room = !stopping && queue.length === 0 && running.size < options.limit;
      return room ? { insert: newRuns(tx, runs) } : { enqueued: enqueueActions(tx, runs) };
    },
    start(refs) {
      for (let i = 0; i < refs.length; i += RUNS_PER_JOB)
        queue.push(refs.slice(i, i + RUNS_PER_JOB));
      next();
    },
    async settle(timeoutMs) {
      stopping = true;
      const left = queue.splice(0).reduce((sum, batch) => sum + batch.length, 0);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(running),
        new Promise((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      return left;
    },
  };
}
