// `nudge dev` (what `npm start` runs): all of Nudge on a laptop, no database
// URL. An embedded PostgreSQL under .nudge/ holds a Supabase-shaped demo
// database; the project's features (or the bundled demo's, with its master
// key in the folder's .nudge/ too, not in the package) are deployed; the
// engine runs with its HTTP server and dashboard; and a short story plays on
// the demo app (src/dev/story.ts) — the demo's webhooks go to local stand-ins
// hosted by this process (src/dev/receiver.ts), one of them down on purpose
// until its webhook is dead, so there is a failure to replay. Then it keeps
// running until Ctrl-C, printing new decisions and deliveries.

import { existsSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { deploy as applyPlan } from '../capture/deploy.js';
import { LossError, type RefusedLoss } from '../capture/loss-error.js';
import { transportOf } from '../capture/transports/index.js';
import type { LoadedConfig } from '../config/load.js';
import { loadConfig } from '../config/load.js';
import { displayPath } from '../config/yaml.js';
import { isDisconnected } from '../db/errors.js';
import { DEMO_CONFIG, openDemoDatabase } from '../dev/demo.js';
import { reuseNote } from '../dev/embedded.js';
import { type DemoReceiver, STAND_INS_PORT_FILE, startDemoReceiver } from '../dev/receiver.js';
import { MEDIA_PATH, playStory, type StoryContext } from '../dev/story.js';
import { newestDecisionId } from '../engine/lanes/decision-log.js';
import { featurePausesIfAny } from '../engine/match/pauses.js';
import { advanceStoreClock, storeClock } from '../engine/wiring/clock.js';
import { launch } from '../engine/wiring/launch.js';
import { NudgeError } from '../errors.js';
import { makeLog } from '../log.js';
import { redactUrl } from '../source/connect.js';
import { plural } from '../words.js';
import { planChange } from './capture.js';
import {
  deliveryLine,
  deploySummary,
  emailLinksAt,
  follow,
  otherCommands,
  printAfterStory,
} from './dev-output.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { Stopped, stopOnSignals } from './signals.js';

export interface DevOptions extends GlobalOptions {
  /** Exit after the story instead of following new decisions. */
  once?: boolean;
  /** Drop the demo database (and Nudge's state in it) and start over. */
  fresh?: boolean;
  dataDir?: string;
  port?: string;
  /** The dashboard's and API's port (default: server.port in nudge.yaml, 8787). */
  httpPort?: string;
}

/**
 * What of the engine's and the server's log nudge dev leaves out. It prints
 * what goes wrong (warnings, errors) and the deployments it reads while it
 * runs (engine/wiring/follow-deploys.ts), on stderr; not the rest of its
 * info, nor the actions' attempts (the lines after the story show each
 * delivery, and the demo's webhook fails on purpose), nor the unsigned
 * webhooks: the stand-ins take them as they come, nor, once it is stopping,
 * the connections lost as the embedded server stops (below).
 */
function unsaid(entry: Record<string, unknown>, stopping: boolean): boolean {
  if ('runId' in entry || entry.setting === 'webhooks.secret') return true;
  // What a stop waits for, when it takes a while (engine/wiring/runtime.ts stop).
  if (typeof entry.msg === 'string' && entry.msg.startsWith('stopping: ')) return false;
  if (stopping && connectionLost(entry)) return true;
  return (entry.level as number) < 40 && !('deployment' in entry);
}

/**
 * A lost connection (or a statement the server cancelled as it shut down),
 * in the words the engine's pools and job runner log it with: pg's,
 * postgres.js's, the server's. Once nudge dev is stopping these are
 * expected, not warnings: a server it shares may stop under it (the nudge
 * dev that started it stopping too), as one it started did before it ran
 * apart from the terminal's Ctrl-C (dev/embedded.ts inGroupOfItsOwn).
 */
const CONNECTION_LOST =
  /terminating connection due to administrator command|the database system is shutting down|canceling statement due to user request|Connection terminated|is not queryable|CONNECTION_(?:CLOSED|ENDED|DESTROYED)|ECONNREFUSED|ECONNRESET|EPIPE/;

function connectionLost(entry: Record<string, unknown>): boolean {
  return CONNECTION_LOST.test(
    `${entry.msg ?? ''} ${JSON.stringify(entry.error ?? entry.err ?? '')}`,
  );
}

export async function dev(options: DevOptions, io: Io): Promise<number> {
  const c = io.colors;
  const stop = stopOnSignals(io);
  const dataDir = path.resolve(io.cwd, options.dataDir ?? '.nudge/pg');
  const own =
    options.config || ['nudge.yaml', 'nudge.yml'].some((n) => existsSync(path.join(io.cwd, n)));
  io.out(
    `${c.bold('Nudge dev')} — ${own ? 'your project' : 'the bundled demo project (no nudge.yaml here)'}, on an embedded PostgreSQL in ${displayPath(dataDir, io.cwd)}`,
  );
  let demo: Awaited<ReturnType<typeof openDemoDatabase>> | undefined;
  let receiver: DemoReceiver | undefined;
  let sql: postgres.Sql | undefined;
  let running: Awaited<ReturnType<typeof launch>> | undefined;
  /** --once and the story played: said when everything has stopped. */
  let storyOver = false;
  /** The error the caller prints: what stopped is said before it, in finally. */
  let failed = false;
  try {
    demo = await openDemoDatabase(dataDir, options.port ? Number(options.port) : undefined, {
      fresh: !!options.fresh,
      exclusive: true,
    });
    // On the port of the last start, kept beside the demo's data: the action
    // runs of that start were sent there, and a replay sends them there again.
    receiver = await startDemoReceiver({
      down: [MEDIA_PATH],
      portFile: path.join(dataDir, STAND_INS_PORT_FILE),
    });
    const env: Record<string, string | undefined> = {
      FULFILMENT_WEBHOOK_URL: `${receiver.url}/orders`,
      MEDIA_WEBHOOK_URL: `${receiver.url}${MEDIA_PATH}`,
      ...io.env,
    };
    const loaded = await loadConfig({
      ...(own
        ? options.config
          ? { configPath: options.config }
          : {}
        : { configPath: DEMO_CONFIG }),
      cwd: io.cwd,
      // A project made by `nudge init` reads ${DATABASE_URL}: here, the demo database.
      env: { ...env, DATABASE_URL: env.DATABASE_URL ?? demo.url },
    });
    // Whatever nudge.yaml says, the source is the demo database, and so is
    // the engine store: the story writes demo contacts and moves the clock,
    // which a separate store (engine.database_url), perhaps one that real
    // engines share, must not get.
    const separate = loaded.config.engine.database_url;
    const project: LoadedConfig = {
      ...loaded,
      config: { ...loaded.config, engine: { ...loaded.config.engine, database_url: undefined } },
      databaseUrl: demo.url,
      databaseUrlFrom: 'nudge dev',
    };
    const reuse = reuseNote(demo.server);
    io.out(
      c.dim(
        `${demo.created ? (options.fresh ? 'Started over: a new' : 'Created a') : 'Reusing the'} Supabase-shaped demo database (auth, storage, the demo app's tables)${options.fresh || demo.created ? '' : '; --fresh starts over'}.`,
      ),
    );
    if (reuse) io.out(c.dim(`  server: ${reuse}`));
    io.out(c.dim(`  psql "${demo.url}"   (or any PostgreSQL client with this URL)`));
    if (separate)
      io.out(
        c.yellow(
          `engine.database_url (${redactUrl(separate)}) is not used: nudge dev keeps Nudge's state in the demo database, whose clock the story moves. The other commands, run with this nudge.yaml, look for it in engine.database_url, not there.`,
        ),
      );
    if (receiver.portTaken !== undefined)
      io.out(
        c.yellow(
          `The stand-ins' port ${receiver.portTaken} (the last start's) is taken by another process; they listen on ${receiver.url}: a webhook sent before this start goes to ${receiver.portTaken} when replayed, not to them.`,
        ),
      );
    stop.check();

    sql = postgres(demo.url, { onnotice: () => {}, max: 2 });
    const { plan } = await planChange(project, sql);
    // Deploy refuses to lose what a transport's objects hold (a slot's
    // unread changes, once nudge.yaml no longer says capture: replication);
    // dev has no --discard-unread, so it says its own ways forward.
    const deployed = plan.hasChanges
      ? await applyPlan(sql, plan.desired).catch((error: unknown) => {
          throw error instanceof LossError ? devLossRefusal(error.loss) : error;
        })
      : undefined;
    io.out(deploySummary(plan, deployed?.deploymentId, io));
    stop.check();

    running = await launch(project, {
      http: true,
      log: makeLog({
        skip: (entry) => unsaid(entry, stop.stopped),
        write: (line, level) => io.err(level === 'info' ? c.dim(line) : c.yellow(line)),
      }),
      // Asked for by --http-port: that port, or a clear refusal; else any free one if it is taken.
      ...(options.httpPort !== undefined
        ? { port: Number(options.httpPort) }
        : { anyPortIfTaken: true }),
      idleMs: 50,
    });
    // From this process's start (not npm's build check before it) to the dashboard answering.
    const ready = process.uptime();
    io.out('');
    if (running.portTaken !== undefined)
      io.out(c.dim(`Port ${running.portTaken} is taken by another process; listening on another.`));
    io.out(`${c.bold('Dashboard:')} ${c.cyan(running.dashboardUrl ?? running.url ?? '')}`);
    io.out(
      c.dim(
        `Ready in ${ready.toFixed(1)} s. Engine and API at ${running.url} · ${plural(running.features.length, 'feature')} · state in ${running.store.describe()}`,
      ),
    );
    io.out('');

    const clock = await storeClock(sql);
    // What the transport stores on its own (a slot's changes), waited on before a step has settled.
    const unstored = transportOf(project).unstored;
    const features = running.featureSet;
    const story: StoryContext = {
      sql,
      receiver,
      now: () => clock.now(),
      stopped: () => stop.stopped,
      ...(unstored ? { unstored: () => unstored({ source: sql!, project }) } : {}),
      schedules: features
        .scheduled()
        .filter((f) => f.feature.status === 'active' && f.feature.trigger.kind === 'schedule')
        .map((f) => ({
          name: f.name,
          everyMs: f.feature.trigger.kind === 'schedule' ? f.feature.trigger.everyMs : 0,
        })),
      async advanceClock(ms) {
        await advanceStoreClock(sql!, ms);
        await clock.refresh();
        running?.engine.wake();
      },
    };
    // Paused in an earlier start (the dashboard's Pause): the story below skips their events.
    const paused = await featurePausesIfAny(sql);
    if (paused.length)
      io.out(
        c.yellow(
          `Paused: ${paused.map((p) => p.feature).join(', ')} (since an earlier start): the story below skips their events; nudge resume <feature>, or Resume on the dashboard's Features page`,
        ),
      );
    io.out(c.bold('The story, as the demo app writes it (watch it in the dashboard):'));
    const since = await newestDecisionId(sql);
    await playStory(story, (step) => {
      stop.check();
      io.out(`  ${c.bold(step.title.padEnd(15))}${step.wrote}`);
      for (const outcome of step.outcomes) {
        const paint = / dead after /.test(outcome) ? c.red : c.green;
        io.out(`  ${' '.repeat(15)}${paint('→')} ${outcome}`);
      }
    });
    // Links in emails point where the server listens (the port it got)
    // unless server.public_url says otherwise, and open there while every
    // email stays in the dev mailbox: see src/doctor/dev-links.ts.
    const linksAt = emailLinksAt(project, running.features, running.url);
    await printAfterStory(sql, receiver, io, {
      dashboardUrl: running.dashboardUrl,
      once: !!options.once,
      terminal: otherCommands(io, demo.url, own ? options.config : DEMO_CONFIG),
      ...(linksAt ? { linksAt } : {}),
    });
    if (options.once) {
      storyOver = true;
      return 0;
    }

    io.out('');
    io.out(
      c.dim(
        'Watching: new decisions and deliveries appear here. Write to the database (psql above) or use the dashboard. Ctrl-C stops.',
      ),
    );
    receiver.onDelivery((delivery) => io.out(deliveryLine(delivery, io)));
    await follow(sql, io, Math.max(since, await newestDecisionId(sql)), stop);
    return 0;
  } catch (error) {
    // Stopping, a shared embedded server may have ended a session under a
    // query in hand (its owner stopped too): that is the stop, not a failure.
    if (error instanceof Stopped || (stop.stopped && isDisconnected(error))) return 0;
    // Before the demo database was open, nothing of dev's is left to tell of.
    if (!demo) throw error;
    failed = true;
    throw error;
  } finally {
    if (stop.stopped)
      io.out(
        `\nStopping. The demo database stays in ${displayPath(dataDir, io.cwd)} for next time (--fresh starts over).`,
      );
    receiver?.onDelivery(undefined);
    // graphile-worker console.trace()s the error a worker stopped on, besides
    // logging it (connectionLost above): stopping, that is a lost connection.
    const trace = console.trace;
    if (stop.stopped) console.trace = () => {};
    try {
      await running?.stop();
      await sql?.end({ timeout: 1 });
      await receiver?.close();
      await demo?.release();
      await demo?.server.stop();
    } finally {
      console.trace = trace;
    }
    stop.dispose();
    // A server this process found running (another's, or left running) is not stopped.
    const left = demo?.server.reused && ['running', 'left'].includes(demo.server.reused.owner);
    if (failed) {
      io.err(
        c.dim(
          `nudge dev has stopped${left ? " (the demo database's server, running before it, is left running)" : `, and so has the demo database (its data stays in ${displayPath(dataDir, io.cwd)})`}, because of:`,
        ),
      );
    }
    if (stop.stopped && !failed)
      io.out(
        `Stopped${left ? " (the demo database's server, running before it, is left running)" : ''}.`,
      );
    if (storyOver) {
      io.out(
        c.dim(
          `--once: the dashboard, the engine${left ? " and the stand-ins have stopped (the demo database's server, already running before, is left running)" : ', the stand-ins and the demo database have stopped'}. \`nudge dev\` without --once keeps them running until Ctrl-C.`,
        ),
      );
    }
  }
}

/** Deploy's refusal to lose what a transport's objects hold, with the ways forward `nudge dev` has. */
function devLossRefusal({ transport, what, where }: RefusedLoss): NudgeError {
  return new NudgeError(
    `nudge.yaml no longer says capture: ${transport}, and the demo database's ${what}: deploying would lose them`,
    `to keep them, set capture: ${transport} again and run \`nudge dev --once\` (its engine reads ${where}), then switch back; to start the demo database over without them, \`nudge dev --fresh\``,
  );
}
