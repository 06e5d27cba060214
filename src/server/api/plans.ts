// The plan the dashboard shows, made once and shared: GET /v1/plan and
// POST /v1/deploy make it anew (the Plan and Deploy buttons), and the
// features' deploy state (/v1/features, polled every 5 s) is read from the
// latest one (capture/feature-deploys.ts). A plan reads the feature files,
// the source's catalog and what Nudge deployed there: too much for every
// poll of every open page. So a poll reuses the latest plan while what it
// was made from is the same — the feature files (read and compared, no
// database) and the latest deployment (one statement) — and it is younger
// than PLAN_REFRESH_MS; when only its age has passed (a trigger dropped or
// a column added by hand since), the poll answers it and the next plan is
// made in the background. A poll while a plan is being made (for Plan, or
// for another poll) waits for that one instead of making another.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type postgres from 'postgres';
import { type LatestDeployment, readLatestDeployment } from '../../capture/feature-deploys.js';
import { type PlannedChange, planChange } from '../../cli/capture.js';
import type { LoadedConfig } from '../../config/load.js';
import { isUndefinedTable } from '../../db/errors.js';
import { messageWithHint, NudgeError } from '../../errors.js';

/** How old the latest plan may be before a poll has the next one made. */
export const PLAN_REFRESH_MS = 30_000;

/**
 * How long a poll waits for a plan before it answers without one: the
 * features, their counts and the pause switch do not wait on a source
 * database that does not answer (its connect timeout is 10 s). The plan
 * goes on being made, and the next poll has it.
 */
export const PLAN_WAIT_MS = 5000;

/** A plan as the features' deploy state reads it, or why there is none (`no plan could be made: …`). */
export type PlanReading =
  | {
      planned: PlannedChange;
      /** The latest deployment; undefined when there is none. */
      latest: LatestDeployment | undefined;
      /** Set when the latest deployment could not be read: no feature's state is known then. */
      latestError?: string;
      at: number;
    }
  | { error: string; at: number };

export interface Plans {
  /** A plan made now (throws as planChange does); the latest from then on. */
  fresh(): Promise<PlannedChange>;
  /** The latest plan, or a new one when the files or the deployment changed since it (waiting PLAN_WAIT_MS at most). */
  recent(): Promise<PlanReading>;
  /** Forgets the latest plan (a deploy was just made). */
  forget(): void;
}

export function makePlans(project: LoadedConfig, source: postgres.Sql): Plans {
  let last: (PlanReading & { inputs: string | undefined }) | undefined;
  // The plan being made, which a poll waits for rather than make another.
  let making: Promise<PlanReading & { cause?: unknown }> | undefined;

  const make = () => {
    const made = (async (): Promise<PlanReading & { cause?: unknown }> => {
      // Read first: a file changed while the plan is made makes the next poll plan again.
      const inputs = await inputsOf(project, source).catch(() => undefined);
      let reading: PlanReading & { cause?: unknown };
      try {
        const planned = await planChange(project, source);
        // Read with it for the features' deploy state; a failure here fails
        // no plan (Deploy's), and makes every feature's state unknown, not
        // "not deployed".
        try {
          reading = { planned, latest: await readLatestDeployment(source), at: Date.now() };
        } catch (error) {
          const latestError = `the latest deployment could not be read: ${reason(error)}`;
          reading = { planned, latest: undefined, latestError, at: Date.now() };
        }
      } catch (error) {
        reading = {
          error: `no plan could be made: ${reason(error)}`,
          cause: error,
          at: Date.now(),
        };
      }
      const { cause: _, ...kept } = reading;
      last = { ...kept, inputs };
      return reading;
    })().finally(() => {
      if (making === made) making = undefined;
    });
    making = made;
    return made;
  };

  return {
    async fresh() {
      const reading = await make();
      if ('error' in reading) throw reading.cause;
      return reading.planned;
    },
    recent() {
      const latest = async (): Promise<PlanReading> => {
        if (making) return making;
        const inputs = await inputsOf(project, source).catch(() => undefined);
        if (!last || inputs === undefined || last.inputs !== inputs) return making ?? make();
        if (Date.now() - last.at > PLAN_REFRESH_MS) make().catch(() => {});
        return last;
      };
      return withinWait(latest());
    },
    forget() {
      last = undefined;
    },
  };
}

/** The reading, or after PLAN_WAIT_MS one that says none came in time. */
async function withinWait(reading: Promise<PlanReading>): Promise<PlanReading> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<PlanReading>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          error: `no plan yet: the source database did not answer within ${PLAN_WAIT_MS / 1000} s (one is still being made)`,
          at: Date.now(),
        }),
      PLAN_WAIT_MS,
    );
  });
  try {
    return await Promise.race([reading, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a plan is made from that can change without a restart: the feature files and the latest deployment. */
async function inputsOf(project: LoadedConfig, source: postgres.Sql): Promise<string> {
  const hash = createHash('sha256');
  const names = await readdir(project.featuresDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  for (const name of names.filter((n) => /\.ya?ml$/.test(n)).sort()) {
    hash.update(`${name}\u0000`);
    hash.update(await readFile(path.join(project.featuresDir, name)));
    hash.update('\u0001');
  }
  hash.update(await latestDeploymentId(source));
  return hash.digest('hex');
}

/** The latest deployment's id and time (a teardown and a deploy may reuse an id); `none` before the first. */
async function latestDeploymentId(source: postgres.Sql): Promise<string> {
  try {
    const [row] = await source<{ id: string; at: Date }[]>`
      select id::text as id, deployed_at as at from nudge.deployments order by id desc limit 1`;
    return row ? `${row.id}@${row.at.toISOString()}` : 'none';
  } catch (error) {
    if (isUndefinedTable(error)) return 'none';
    throw error;
  }
}

/** Why no plan could be made, on one line. */
function reason(error: unknown): string {
  if (error instanceof NudgeError) return messageWithHint(error);
  return (error as Error).message?.split('\n')[0] || 'the plan could not be made';
}
