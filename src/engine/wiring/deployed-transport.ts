// An engine runs the capture transport its nudge.yaml named when it started.
// When the source database is deployed with another one meanwhile (outbox →
// replication, or back), this engine reads nothing of the new capture until
// it is restarted: nothing is lost (the slot or the outbox keeps the
// changes), but nothing moves. This check says so in the log, once per
// deployment, from the deployments table (what captured each object), in
// the registry's words (capture/transports/index.ts): a new transport is
// worded by its name without an edit here.
import type postgres from 'postgres';
import { TRANSPORTS } from '../../capture/transports/index.js';
import type { CapturedBy } from '../../capture/transports/port.js';
import type { Log } from '../../log.js';
import { deployedNow } from './follow-deploys.js';

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
  let seen: { id: number; capturedBy: string | null } | undefined;
  return async () => {
    // The latest deployment's id each time (0: not deployed, yet or since a
    // teardown); its objects only when that id is new.
    const latest = await deployedNow(source);
    if (!latest) return;
    if (seen?.id !== latest) {
      const [row] = await source<{ captured_by: string | null }[]>`
        select objects -> 0 ->> 'captured_by' as captured_by from nudge.deployments where id = ${latest}`;
      seen = { id: latest, capturedBy: row?.captured_by ?? null };
    }
    // A deployment with no capture object says nothing about the transport.
    if (!seen.capturedBy) return;
    if (seen.capturedBy === expected) {
      if (told !== undefined) {
        log.info({ deployment: seen.id }, `the source is captured by ${transport} again`);
        told = undefined;
      }
      return;
    }
    if (told === seen.id) return;
    told = seen.id;
    const deployed = deployedWith(seen.capturedBy);
    log.error(
      { deployment: seen.id },
      `the source database was deployed with ${deployed}, but this engine started with capture: ${transport} and takes in nothing of it: restart every nudge start and nudge worker with the nudge.yaml that was deployed`,
    );
  };
}

/**
 * What a deployment's captured_by says, in the user's words: `capture:
 * replication`, or `triggers (capture: outbox or webhook)` (every transport
 * that records it).
 */
export function deployedWith(capturedBy: string): string {
  const names = Object.entries(TRANSPORTS)
    .filter(([, transport]) => transport.capturedBy === capturedBy)
    .map(([name]) => name);
  if (!names.length) return `${capturedBy} (a transport this version of Nudge does not know)`;
  const list = `capture: ${names.length > 1 ? `${names.slice(0, -1).join(', ')} or ` : ''}${names.at(-1)}`;
  return capturedBy === 'trigger' ? `triggers (${list})` : list;
}
