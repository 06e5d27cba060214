// New runs and their jobs in one statement: the runs inserted (keys already
// known skipped), then a job for every RUNS_PER_JOB of the new ones, added
// with add_jobs. Returns how many runs were new.
import type { Db } from '../../contacts/store.js';
import { WORKER_SCHEMA } from '../../db/migrate.js';
import type { NewActionRun } from '../types.js';
import { batchJobSpecs } from './batch-job-specs.js';
import { insertRuns } from './insert-runs.js';

export async function enqueueRuns(
  tx: Db,
  runs: NewActionRun[],
  runAt: Date | null,
): Promise<number> {
  const [row] = await tx<{ count: number }[]>`
    with inserted as (${insertRuns(tx, runs, runAt)}
    ), specs as (${batchJobSpecs(tx, tx`select * from inserted`)}
    ), added as (
      select count(j.*) as jobs from specs, ${tx(WORKER_SCHEMA)}.add_jobs(specs.specs) j
       where specs.specs is not null
    )
    select (select count(*)::int from inserted) as count from added`;
  return row?.count ?? 0;
}
