// An engine runs the capture transport its nudge.yaml named when it started.
// When the source database is deployed with another one meanwhile (outbox →
// replication, or back), this engine reads nothing of the new capture until
// it is restarted: nothing is lost (the slot or the outbox keeps the
// changes), but nothing moves. This check says so in the log, once per
// deployment, from the deployments table (what captured each object).
import type postgres from 'postgres';
import { isUndefinedTable } from '../../db/errors.js';
import type { Log } from './log.js';

/** How a deployment captured its objects, as deploy records it: by triggers, or through the slot. */
type CapturedBy = 'trigger' | 'replication';

/**
 * A housekeeping task: logs an error when the latest deployment captures
 * with something other than `expected` (this engine's transport), once per
 * deployment; and an info line when a later deployment matches again.
 */
export function deployedTransportCheck(
  source: postgres.Sql,
  expected: CapturedBy,
  transport: string,
  log: Log,
): () => Promise<void> {
  let told: number | undefined;
  return async () => {
    const latest = await source<{ id: number; captured_by: string | null }[]>`
      select id::float8 as id, objects -> 0 ->> 'captured_by' as captured_by
        from nudge.deployments order by id desc limit 1`.catch((error: unknown) => {
      if (isUndefinedTable(error)) return []; // not deployed (yet, or torn down)
      throw error;
    });
    const [row] = latest;
    // A deployment with no capture object says nothing about the transport.
    if (!row?.captured_by) return;
    if (row.captured_by === expected) {
      if (told !== undefined) {
        log.info({ deployment: row.id }, `the source is captured by ${transport} again`);
        told = undefined;
      }
      return;
    }
    if (told === row.id) return;
    told = row.id;
    const deployed =
      row.captured_by === 'replication'
        ? 'capture: replication'
        : 'triggers (capture: outbox or webhook)';
    log.error(
      { deployment: row.id },
      `the source database was deployed with ${deployed}, but this engine started with capture: ${transport} and takes in nothing of it: restart every nudge start and nudge worker with the nudge.yaml that was deployed`,
    );
  };
}
