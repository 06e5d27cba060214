// Features deployed while the engine runs. `nudge deploy` records each
// deployment in the source (nudge.deployments) and NOTIFYs nudge_deployed with
// its commit; every engine process LISTENs there, and looks every 10 s
// besides (a script applied with psql from `deploy --sql` notifies too, but a
// listener may have been reconnecting). On a deployment other than the one
// its features were read at, it reads its feature files again, checks them as
// at start, and runs them from its lanes' next event on. Before this, the
// engine ran the features of its start until restarted, and the events of a
// feature deployed since were taken and matched nothing: lost to it.
//
// A notification comes a moment after the commit, and the new triggers
// capture from the commit on. The outbox pump closes that gap in the process
// that pumps: its claim reads the latest deployment with the rows (one
// snapshot, under the lock deploys take, capture/deploy.ts), and rows claimed
// under a deployment newer than the features wait, unclaimed, until they are
// read again (outbox/pump.ts). A process's lanes take no event while its
// files are being read. Other engine processes (`nudge worker`) and the other
// transports follow the notification: see docs/guarantees.md.
//
// Files that no longer check (edited since the deploy, or a deploy made from
// other files) are not run: the engine keeps the features it has and says so
// in its log, once per deployment.
import type postgres from 'postgres';
import { DEPLOYED_CHANNEL } from '../../capture/deploy.js';
import { latestDeployment } from '../../capture/transports/outbox/sql/latest-deployment.js';
import type { FeaturesAt } from '../../capture/transports/port.js';
import { isUndefinedTable } from '../../db/errors.js';
import type { Log } from '../../log.js';

const POLL_MS = 10_000;

export interface DeployFollower extends FeaturesAt {
  stop(): Promise<void>;
}

export interface FollowOptions {
  source: postgres.Sql;
  log: Log;
  /** The deployment the running features were read at (0: none yet). */
  deployment: number;
  /** Reads the feature files again and runs them; says what changed, in words. Throws when they do not check. */
  reload(): Promise<string>;
}

/** The latest deployment's id, 0 before the first (no nudge schema yet). */
export async function deployedNow(source: postgres.Sql): Promise<number> {
  return latestDeployment(source).catch((error: unknown) => {
    if (isUndefinedTable(error)) return 0;
    throw error;
  });
}

export async function followDeploys(options: FollowOptions): Promise<DeployFollower> {
  const { source, log } = options;
  let readAt = options.deployment;
  let stopped = false;
  // One reading at a time: a second deployment while one is read waits for it.
  let reading: Promise<void> = Promise.resolve();
  // Readings queued and not ended: the lanes wait while there is one.
  let queued = 0;
  // `deployment` undefined: read whatever the deployment (readAgain).
  const queue = (deployment?: number): Promise<void> => {
    // Another deployment, not a later one: ids start again at 1 after a
    // teardown drops the nudge schema and a deploy makes it again.
    if (deployment === readAt || stopped) return reading;
    queued++;
    reading = reading.then(async () => {
      try {
        if (deployment !== readAt && !stopped) await readAgain(deployment);
      } finally {
        queued--;
      }
    });
    return reading;
  };
  const readAgain = async (deployment: number | undefined) => {
    // The latest now: one reading covers every deployment before it.
    const latest = await deployedNow(source).catch(() => deployment ?? readAt);
    try {
      const changed = await options.reload();
      // At a deploy's message, before its record: the latest recorded is the one before it.
      if (deployment === undefined)
        log.info(
          { deployment: 'not recorded yet' },
          `a deploy changes what is captured: feature files read again; ${changed}`,
        );
      else
        log.info(
          { deployment: latest },
          `deployment #${latest}: feature files read again; ${changed}`,
        );
    } catch (error) {
      log.error(
        { deployment: latest, error: (error as Error).message },
        `deployment #${latest}: the feature files here do not check, so the engine keeps running the features it had; fix them and restart it (nudge plan lists the problems)`,
      );
    }
    readAt = latest;
  };
  const catchUpLatest = () => deployedNow(source).then((deployment) => queue(deployment));
  const look = () => {
    if (stopped) return;
    void catchUpLatest().catch((error: unknown) =>
      log.warn(
        { error: (error as Error).message },
        'looking for a new deployment failed; retrying',
      ),
    );
  };
  const listener = await source.listen(DEPLOYED_CHANNEL, look, look).catch((error: unknown) => {
    log.warn({ error: (error as Error).message }, `LISTEN ${DEPLOYED_CHANNEL} failed; polling`);
    return undefined;
  });
  const poll = setInterval(look, POLL_MS);
  poll.unref();
  return {
    deployment: () => readAt,
    reading: () => (queued ? reading : undefined),
    catchUp: (deployment) => queue(deployment),
    catchUpLatest,
    readAgain: () => queue(),
    async stop() {
      stopped = true;
      clearInterval(poll);
      await listener?.unlisten().catch(() => {});
      await reading;
    },
  };
}
