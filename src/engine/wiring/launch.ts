// Starts Nudge: the engine store (migrated), the features checked against the
// live schema, the engine loops, the action job runner and — for `nudge
// start` — the HTTP server. `nudge worker` is the same without the server.
// Returns a handle the CLI keeps until a signal, and tests keep until done.

import type postgres from 'postgres';
import { enqueueActions, recoverActions } from '../../actions/queue.js';
import { actionTasks, runActions } from '../../actions/task.js';
import type { ActionEnv } from '../../actions/types.js';
import { desiredCaptures } from '../../capture/desired.js';
import { FEATURE_LIST, featureDiff, featureFingerprints } from '../../capture/features-deployed.js';
import { makePlan, type Plan, SYMBOLS } from '../../capture/plan.js';
import { readCaptureState } from '../../capture/state.js';
import { transportOf } from '../../capture/transports/index.js';
import type { LoadedConfig } from '../../config/load.js';
import { fillFromAuthUsers } from '../../contacts/from-auth.js';
import { compileLiveSync } from '../../contacts/live.js';
import { surviveConnectionLoss } from '../../db/connection-loss.js';
import { type EngineStore, openEngineStore } from '../../db/engine.js';
import { checkStoredSecrets, claimMasterKey, keySourceOf } from '../../db/secrets.js';
import { isDemoStore } from '../../dev/demo.js';
import { portInUse } from '../../errors.js';
import { type Feature, readFeatureFiles } from '../../features/load.js';
import { checkFeatureFiles } from '../../features/problems.js';
import { type Log, makeLog } from '../../log.js';
import { makeServer } from '../../server/index.js';
import { readCatalog } from '../../source/catalog.js';
import { openSource } from '../../source/connect.js';
import { refuseTransactionPooling } from '../../source/pooler.js';
import { plural } from '../../words.js';
import { makeRouter } from '../intake/router.js';
import { FeatureSet } from '../match/features.js';
import { watchPauses } from '../match/pauses.js';
import { CAPTURE_FAILURES_MS } from './capture-failures.js';
import { type Clock, storeClock } from './clock.js';
import { deployedTransportCheck } from './deployed-transport.js';
import { deployedNow, followDeploys } from './follow-deploys.js';
import { DEFAULT_DEAD_WORKER_MS } from './job-runner.js';
import { type Engine, startEngine } from './runtime.js';

export interface LaunchOptions {
  /** Run the HTTP server (nudge start) or not (nudge worker). */
  http: boolean;
  log?: Log;
  clock?: Clock;
  dataDir?: string;
  port?: number;
  /** Listen on any free port when `port` is taken (nudge dev). */
  anyPortIfTaken?: boolean;
  idleMs?: number;
  /**
   * How often the engine looks for rows a capture trigger could not capture
   * (capture-failures.ts): 30 s, or 5 s on the demo database of `nudge dev`
   * and an embedded store, where someone trying things waits for the line.
   */
  captureFailuresMs?: number;
  /**
   * After how long without a heartbeat a process counts as dead and its
   * action jobs are run by others (default 30 s, or NUDGE_DEAD_WORKER_MS).
   */
  deadWorkerMs?: number;
}

export interface Running {
  store: EngineStore;
  source: postgres.Sql;
  engine: Engine;
  features: Feature[];
  /** The features as the engine runs them (live pauses included). */
  featureSet: FeatureSet;
  /** Capture changes the features need that are not deployed. */
  undeployed: number;
  url?: string;
  /** The dashboard's one-click link (with its token): print it, never log it. */
  dashboardUrl?: string;
  /** The configured port, when another process had it and the server took another (anyPortIfTaken). */
  portTaken?: number;
  stop(): Promise<void>;
}

export async function launch(project: LoadedConfig, options: LaunchOptions): Promise<Running> {
  const log = options.log ?? makeLog();
  await checkSessions(project);
  const opened = await openEngineStore(project, {
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    max: 20,
    createEmbedded: true,
  });
  // Every transaction of the running engine must survive a lost connection (see connection-loss.ts).
  const store = { ...opened, sql: surviveConnectionLoss(opened.sql) };
  const cleanup: (() => Promise<unknown>)[] = [() => store.close()];
  const stopAll = async () => {
    for (const step of cleanup.reverse())
      await step().catch((error) => log.warn({ err: error }, 'shutdown step failed'));
  };
  try {
    // Before any work is claimed: a key that cannot read the stored secrets
    // would otherwise stop the engine at the first event that needs one.
    await checkStoredSecrets(store.sql, keySourceOf(project));
    const source =
      store.where === 'separate' || store.where === 'embedded'
        ? surviveConnectionLoss(
            await openSource({
              url: store.sourceUrl,
              readOnly: project.config.access === 'read-only',
              max: 4,
            }),
          )
        : store.sql;
    if (source !== store.sql) cleanup.push(() => source.end({ timeout: 5 }));
    // The deployment first: one made while the files are read is read again at once.
    const deployedAtStart = await deployedNow(source);
    const { catalog, features, plan } = await readFeatures(project, source);
    // The files check, so this process runs: its key is the store's from now
    // on (or the store's is this one's, for the first). Not before: a start
    // refused in the wrong folder must not claim the store for its key.
    await claimMasterKey(store.sql, keySourceOf(project));
    const undeployed = warnUndeployed(plan, log);
    // Only the files differ from the deployment's: they run as they are here.
    const files = plan.items.find((i) => i.kind === FEATURE_LIST);
    if (files && !undeployed)
      log.warn(
        { changes: files.changes?.join(', ') },
        'the feature files here differ from the latest deployment: this engine runs them as they are; nudge deploy records them (and other engines read them then)',
      );

    const set = new FeatureSet(features, catalog, project.config.contacts.attributes);
    const pauses = await watchPauses(store.sql, set, log);
    cleanup.push(() => pauses.stop());
    // A deploy while the engine runs: the files read again, and run (follow-deploys.ts),
    // and the transport's process (started below) told what it captures now.
    let transportFollows: ((desired: typeof plan.desired) => void) | undefined;
    const deploys = await followDeploys({
      source,
      log,
      deployment: deployedAtStart,
      reload: async () => {
        const next = await readFeatures(project, source);
        // A deploy from another project's files, say: what these need is not captured.
        warnUndeployed(next.plan, log);
        const before = featureFingerprints(features);
        set.replace(next.features, next.catalog);
        // The list the dashboard's pages read, in place.
        features.splice(0, features.length, ...next.features);
        transportFollows?.(next.plan.desired);
        return featureChanges(before, featureFingerprints(next.features), set.all().length);
      },
    });
    cleanup.push(() => deploys.stop());
    const route = makeRouter(set, project.config.engine.partitions);
    const clock = options.clock ?? (await storeClock(store.sql));
    const actionEnv: ActionEnv = {
      sql: store.sql,
      project,
      clock,
      log: (level, message, fields) => log[level](fields ?? {}, message),
    };
    const housekeeping: [string, () => Promise<unknown>][] = [
      ['recovering action runs', () => recoverActions(store.sql)],
    ];
    // What the capture transport runs beside the engine (capture/transports/index.ts).
    const transport = transportOf(project);
    const captureContext = {
      project,
      source,
      sourceUrl: store.sourceUrl,
      engine: store.sql,
      route,
      log,
      wake: () => engine.wake(),
    };
    housekeeping.push(...(transport.engine?.housekeeping?.(captureContext) ?? []), [
      'checking the deployed transport',
      deployedTransportCheck(source, transport.capturedBy, project.config.capture.transport, log),
    ]);
    const demo = await isDemoStore(store, project);
    const hasAuthUsers = !!catalog.get({ schema: 'auth', table: 'users' });
    // connectors.supabase.sync.realtime / .storage: captured changes of auth.users,
    // storage.objects and mapped tables go into the contact book (contacts/live.ts).
    const liveSync = await compileLiveSync(project, source, (message) => log.info(message));
    const engine: Engine = await startEngine({
      ...(hasAuthUsers
        ? { onContactsCreated: (tx, created) => fillFromAuthUsers(source, tx, created) }
        : {}),
      ...(liveSync ? { liveSync } : {}),
      project,
      engine: store.sql,
      engineUrl: store.url,
      source,
      features: set,
      deploys,
      clock,
      route,
      log,
      enqueueActions,
      actionTasks: actionTasks(actionEnv),
      attemptActions: (refs) => runActions(actionEnv, refs),
      housekeeping,
      ...(options.idleMs ? { idleMs: options.idleMs } : {}),
      captureFailuresMs: options.captureFailuresMs ?? (demo ? 5_000 : CAPTURE_FAILURES_MS),
      deadWorkerMs: options.deadWorkerMs ?? deadWorkerMsFrom(project.env, log),
    });
    cleanup.push(() => engine.stop());
    // E.g. capture: replication's consumer of the slot, which feeds the inbox.
    const started = transport.engine?.start?.({
      ...captureContext,
      desired: plan.desired,
      // Rows it writes ring this process's lanes once (here), not again
      // when their announcement comes back on the inbox channel.
      announceAs: engine.id,
      onStored: (lanes, more) => engine.stored(lanes, more),
      features: deploys,
    });
    if (started) cleanup.push(() => started.stop());
    transportFollows = started?.follow?.bind(started);

    let url: string | undefined;
    let dashboardUrl: string | undefined;
    let portTaken: number | undefined;
    if (options.http) {
      const server = await makeServer({
        sql: store.sql,
        project,
        route,
        log,
        onEvents: () => engine.wake(),
        dashboard: {
          source,
          sourceUrl: store.sourceUrl,
          features,
          store: store.describe(),
          movableClock: demo,
        },
      });
      const host = project.config.server.host;
      const port = options.port ?? project.config.server.port;
      // nudge dev takes any free port when its own is taken, even if another
      // process took it between a check and this listen.
      const listening = await server.listen({ host, port }).catch((error: unknown) => {
        if ((error as { code?: string }).code !== 'EADDRINUSE') throw error;
        if (!options.anyPortIfTaken) throw portInUse(port, host);
        portTaken = port;
        return server.listen({ host, port: 0 });
      });
      url = listening.url;
      // Links in emails and templates ({{ app.url }}) point where the server
      // listens unless server.public_url says otherwise: at the port it got
      // (port 0, or another one when its own was taken), not the one asked for.
      project.config.server.port = Number(new URL(listening.url).port);
      dashboardUrl = server.dashboard.link(listening.url);
      cleanup.push(() => listening.close());
    }
    return {
      store,
      source,
      engine,
      features,
      featureSet: set,
      undeployed,
      ...(url ? { url } : {}),
      ...(dashboardUrl ? { dashboardUrl } : {}),
      ...(portTaken !== undefined ? { portTaken } : {}),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The feature files read and checked against the database as it is now, with the capture plan they make. */
async function readFeatures(project: LoadedConfig, source: postgres.Sql) {
  const catalog = await readCatalog(source);
  const files = await readFeatureFiles(project.featuresDir, project.env, project.cwd);
  // Every problem of the files and of the database in one round (features/problems.ts).
  const plan = makePlan(
    await checkFeatureFiles(files, (checked) =>
      desiredCaptures(project, source, checked, catalog, { templates: false }),
    ),
    await readCaptureState(source),
  );
  return { catalog, features: files.features, plan };
}

/** What a reading of the files changed, by name: `2 features run (+big-order, ~welcome)`. */
function featureChanges(
  before: Record<string, string>,
  after: Record<string, string>,
  running: number,
): string {
  const { added, changed, removed } = featureDiff(before, after);
  const moves = [
    ...added.map((name) => `+${name}`),
    ...changed.map((name) => `~${name}`),
    ...removed.map((name) => `-${name}`),
  ];
  return `${plural(running, 'feature')} run${moves.length ? ` (${moves.join(', ')})` : ''}`;
}

/**
 * The engine needs its sessions kept (LISTEN for jobs, advisory locks,
 * session settings): a transaction pooler in front of the source or the
 * engine store is refused before the store is migrated or anything is read.
 */
async function checkSessions(project: LoadedConfig): Promise<void> {
  const urls = [project.databaseUrl, project.config.engine?.database_url];
  for (const url of new Set(urls.filter((u): u is string => !!u))) {
    const readOnly = url === project.databaseUrl && project.config.access === 'read-only';
    await refuseTransactionPooling({ url, readOnly });
  }
}

/** NUDGE_DEAD_WORKER_MS when it is a whole number of milliseconds ≥ 500, else the default. */
function deadWorkerMsFrom(env: Record<string, string | undefined>, log: Log): number {
  const text = env.NUDGE_DEAD_WORKER_MS;
  if (text === undefined || text === '') return DEFAULT_DEAD_WORKER_MS;
  const ms = Number(text);
  if (Number.isInteger(ms) && ms >= 500) return ms;
  log.warn(
    { NUDGE_DEAD_WORKER_MS: text },
    `NUDGE_DEAD_WORKER_MS is not a whole number of milliseconds ≥ 500; using ${DEFAULT_DEAD_WORKER_MS}`,
  );
  return DEFAULT_DEAD_WORKER_MS;
}

/**
 * Says which of the plan's captures the deployment lacks for the features
 * run here (`+ capture public.orders insert`), in one warning: their events
 * are not captured until a deploy of these files. Returns how many.
 */
function warnUndeployed(plan: Plan, log: Log): number {
  const lacking = undeployed(plan);
  if (lacking.length)
    log.warn(
      { changes: lacking.length, missing: lacking.join(', ') },
      'capture is not up to date for the feature files here: run nudge plan, then nudge deploy',
    );
  return lacking.length;
}

/**
 * The items a deploy of the files here would create or change. Not what it
 * would drop: something deployed that these files do not need loses none of
 * their events (and a deploy that switched transport drops the old one's slot
 * after its commit, so an engine reading in between would see `- slot`).
 */
export function undeployed(plan: Plan): string[] {
  return plan.items
    .filter((i) => (i.action === 'create' || i.action === 'replace') && i.kind !== FEATURE_LIST)
    .map((i) => `${SYMBOLS[i.action]} ${i.kind} ${i.subject}`);
}
