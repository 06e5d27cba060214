// `nudge dev` (what `npm start` runs): all of Nudge on a laptop, no database
// URL. An embedded PostgreSQL under .nudge/ holds a Supabase-shaped demo
// database; the project's features (or the bundled demo's) are deployed; the
// engine runs with its HTTP server and dashboard; and a short story plays on
// the demo app (src/dev/story.ts) — the demo's webhooks go to local stand-ins
// hosted by this process (src/dev/receiver.ts), one of them down on purpose
// until its webhook is dead, so there is a failure to replay. Then it keeps
// running until Ctrl-C, printing new decisions and deliveries.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { deploy as applyPlan } from '../capture/deploy.js';
import { LossError, type RefusedLoss } from '../capture/loss-error.js';
import type { Plan } from '../capture/plan.js';
import { deployingPart, desiredPart, transportOf } from '../capture/transports/index.js';
import { durationInWords } from '../config/duration.js';
import type { LoadedConfig } from '../config/load.js';
import { loadConfig } from '../config/load.js';
import { openDemoDatabase } from '../dev/demo.js';
import { reuseNote } from '../dev/embedded.js';
import {
  type Delivery,
  type DemoReceiver,
  STAND_INS_PORT_FILE,
  startDemoReceiver,
} from '../dev/receiver.js';
import { MEDIA_PATH, playStory, type StoryContext } from '../dev/story.js';
import { decisionLines } from '../engine/lanes/decision-log.js';
import { advanceStoreClock, storeClock } from '../engine/wiring/clock.js';
import { launch } from '../engine/wiring/launch.js';
import { NudgeError } from '../errors.js';
import { makeLog } from '../log.js';
import { redactUrl } from '../source/connect.js';
import { formatTableName } from '../source/names.js';
import { planChange } from './capture.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';

export interface DevOptions extends GlobalOptions {
  /** Exit after the story instead of following new decisions. */
  once?: boolean;
  /** Drop the demo database (and Nudge's state in it) and start over. */
  fresh?: boolean;
  dataDir?: string;
  port?: string;
}

const BUNDLED_DEMO = new URL('../../examples/demo/', import.meta.url);

class Stopped extends Error {}

export async function dev(options: DevOptions, io: Io): Promise<number> {
  const c = io.colors;
  const stop = stopOnSignals(io);
  const dataDir = path.resolve(io.cwd, options.dataDir ?? '.nudge/pg');
  const own =
    options.config || ['nudge.yaml', 'nudge.yml'].some((n) => existsSync(path.join(io.cwd, n)));
  io.out(
    `${c.bold('Nudge dev')} — ${own ? 'your project' : 'the bundled demo project (no nudge.yaml here)'}, on an embedded PostgreSQL in ${path.relative(io.cwd, dataDir) || dataDir}`,
  );
  let demo: Awaited<ReturnType<typeof openDemoDatabase>> | undefined;
  let receiver: DemoReceiver | undefined;
  let sql: postgres.Sql | undefined;
  let running: Awaited<ReturnType<typeof launch>> | undefined;
  /** --once and the story played: said when everything has stopped. */
  let storyOver = false;
  try {
    demo = await openDemoDatabase(dataDir, options.port ? Number(options.port) : undefined, {
      fresh: !!options.fresh,
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
        : { configPath: fileURLToPath(new URL('nudge.yaml', BUNDLED_DEMO)) }),
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
    io.out(c.dim(`  psql "${demo.url}"`));
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
      log: makeLog({ write: () => {} }),
      anyPortIfTaken: true,
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
    io.out(c.bold('The story, as the demo app writes it (watch it in the dashboard):'));
    const since = await lastDecision(sql);
    await playStory(story, (step) => {
      stop.check();
      io.out(`  ${c.bold(step.title.padEnd(15))}${step.wrote}`);
      for (const outcome of step.outcomes) {
        const paint = / dead after /.test(outcome) ? c.red : c.green;
        io.out(`  ${' '.repeat(15)}${paint('→')} ${outcome}`);
      }
    });
    await printAfterStory(sql, receiver, io, {
      dashboardUrl: running.dashboardUrl,
      once: !!options.once,
      terminal: otherCommands(io, demo.url, own ? options.config : undefined, !!own),
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
    await follow(sql, io, Math.max(since, await lastDecision(sql)), stop);
    return 0;
  } catch (error) {
    if (error instanceof Stopped) return 0;
    throw error;
  } finally {
    if (stop.stopped)
      io.out(
        `\nStopping. The demo database stays in ${path.relative(io.cwd, dataDir) || dataDir} for next time (--fresh starts over).`,
      );
    receiver?.onDelivery(undefined);
    await running?.stop();
    await sql?.end({ timeout: 1 });
    await receiver?.close();
    await demo?.server.stop();
    stop.dispose();
    if (storyOver) {
      // A server this process found running (another's, or left running) is not stopped.
      const left = demo?.server.reused && ['running', 'left'].includes(demo.server.reused.owner);
      io.out(
        c.dim(
          `--once: the dashboard, the engine${left ? " and the stand-ins have stopped (the demo database's server, already running before, is left running)" : ', the stand-ins and the demo database have stopped'}. \`nudge dev\` without --once keeps them running until Ctrl-C.`,
        ),
      );
    }
  }
}

/**
 * How to run the other commands on the demo database from a second
 * terminal, literally: its URL, and the project `nudge dev` runs — the
 * bundled demo's nudge.yaml (with no --config they would load the folder's,
 * none: an empty project, and its master key lies beside that file).
 */
function otherCommands(
  io: Io,
  url: string,
  config: string | undefined,
  own: boolean,
): { env: string; command: (args: string) => string } {
  const file = own ? config : fileURLToPath(new URL('nudge.yaml', BUNDLED_DEMO));
  const shown = file && shortPath(io, path.resolve(io.cwd, file));
  return {
    env: `export DATABASE_URL="${url}"`,
    command: (args) => `${selfCommand(io)}${shown ? ` --config ${shown}` : ''} ${args}`,
  };
}

/** A path as typed from the working directory: relative inside it, else absolute. */
function shortPath(io: Io, file: string): string {
  const relative = path.relative(io.cwd, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

/** Deploy's refusal to lose what a transport's objects hold, with the ways forward `nudge dev` has. */
function devLossRefusal({ transport, what, where }: RefusedLoss): NudgeError {
  return new NudgeError(
    `nudge.yaml no longer says capture: ${transport}, and the demo database's ${what}: deploying would lose them`,
    `to keep them, set capture: ${transport} again and run \`nudge dev --once\` (its engine reads ${where}), then switch back; to start the demo database over without them, \`nudge dev --fresh\``,
  );
}

/** One line for what was deployed: the deployment, and the tables captured and how. */
function deploySummary(plan: Plan, deploymentId: number | undefined, io: Io): string {
  const c = io.colors;
  const tables = new Map<string, string[]>();
  for (const object of plan.desired) {
    const table = formatTableName(object.table);
    tables.set(table, [...(tables.get(table) ?? []), object.operation]);
  }
  const captured = [...tables].map(([table, ops]) => `${table} (${ops.join(', ')})`).join(', ');
  const part = deployingPart(plan.desired);
  const how = part
    ? ` by ${part.objects.describe(desiredPart(plan.desired, part))}`
    : captured
      ? ' by triggers'
      : '';
  const { create, replace, drop } = plan.counts;
  const head = plan.hasChanges
    ? `${c.green('✓')} Deployed (deployment #${deploymentId ?? '-'}: ${create} created, ${replace} replaced, ${drop} dropped)`
    : `${c.green('✓')} Deployed already, no changes`;
  return `${head}. Capture on ${captured || 'no table'}${how}.`;
}

async function printAfterStory(
  sql: postgres.Sql,
  receiver: DemoReceiver,
  io: Io,
  after: {
    dashboardUrl: string | undefined;
    /** --once: the dashboard, the stand-ins and the database stop when this is said. */
    once: boolean;
    terminal: ReturnType<typeof otherCommands>;
  },
): Promise<void> {
  const { dashboardUrl, once, terminal } = after;
  const c = io.colors;
  const [counts] = await sql<
    { mails: number; events: number; decisions: number; ahead: number; dead: number }[]
  >`
    select (select count(*) from nudge_engine.mailbox)::int as mails,
           (select offset_ms from nudge_engine.clock)::float8 as ahead,
           (select count(*) from nudge_engine.action_runs where status = 'dead')::int as dead,
           (select count(*) from nudge_engine.inbox)::int as events,
           (select count(*) from nudge_engine.decisions)::int as decisions`;
  const dead = await sql<{ key: string; feature: string | null; url: string | null }[]>`
    select key, feature, params ->> 'url' as url from nudge_engine.action_runs
     where status = 'dead' order by id desc limit 5`;
  const media = dead.filter((d) => d.url?.startsWith(`${receiver.url}${MEDIA_PATH}`));
  // The story is over: the media service comes back, so a replay is delivered.
  receiver.setDown(MEDIA_PATH, false);
  io.out('');
  io.out(
    once
      ? `${c.bold('What the story left')} (the dashboard showed it at ${c.cyan(dashboardUrl ?? '')} while it ran; with --once it stops now)`
      : `${c.bold('Now open the dashboard')} ${c.cyan(dashboardUrl ?? '')}`,
  );
  io.out(
    `  Logs     ${counts?.events ?? 0} events, ${counts?.decisions ?? 0} decisions, each with its reason`,
  );
  io.out(
    `  Mailbox  ${plural(counts?.mails ?? 0, 'email')}, rendered (email.provider: dev sends nothing out)`,
  );
  // The story leaves one dead run (the upload's webhook); any others were
  // left by an earlier start (or written since), and are counted apart.
  const deadCount = counts?.dead ?? 0;
  const earlier = deadCount - 1;
  if (media.length > 0) {
    io.out(
      `  Actions  ${c.red(`${deadCount} dead`)}: ${earlier > 0 ? `this start's upload webhook and ${earlier} left from ${earlier === 1 ? 'an earlier start' : 'earlier starts'}` : "the upload's webhook"} — the media service (a stand-in on ${receiver.url}) was down on purpose.`,
    );
    io.out(
      once
        ? `           It comes back up after the story when \`nudge dev\` runs without --once: Replay there delivers ${earlier > 0 ? 'them' : 'it'}.`
        : `           It is back up now: press Replay there and the ${earlier > 0 ? 'deliveries show' : 'delivery shows'} up below.`,
    );
  } else if (deadCount > 0) {
    io.out(`  Actions  ${c.red(`${deadCount} dead`)}: press Replay to try again.`);
  }
  io.out(
    `  Clock    the engine is ${durationInWords(counts?.ahead ?? 0)} ahead of real time (each start moves it 2 days; --fresh resets it)`,
  );
  const commands = [
    'logs',
    ...(dead[0]?.feature ? [`replay --feature ${dead[0].feature}`] : []),
    'clock advance 2d',
  ].map(terminal.command);
  // One command a line, so each can be pasted as it is.
  io.out(
    c.dim(
      `${once ? 'While `nudge dev` runs (the URL is its psql line; --port keeps it), the same' : 'The same'} from another terminal:`,
    ),
  );
  for (const line of [terminal.env, ...commands]) io.out(`  ${line}`);
}

function deliveryLine(delivery: Delivery, io: Io): string {
  const c = io.colors;
  const ok = delivery.status < 300;
  return `  ${ok ? c.green('←') : c.red('←')} ${delivery.service} received POST ${delivery.path}: ${ok ? c.green(String(delivery.status)) : c.red(String(delivery.status))} ${c.dim(`webhook-id ${delivery.webhookId}`)}`;
}

/** How to run this CLI again from here: `npx nudge` when installed, else node and the script. */
function selfCommand(io: Io): string {
  const script = process.argv[1] ?? '';
  if (/node_modules[\\/]\.bin[\\/]nudge$|[\\/]nudge$/.test(script)) return 'npx nudge';
  const relative = path.relative(io.cwd, script);
  return `node ${relative.startsWith('..') || path.isAbsolute(relative) ? script : relative}`;
}

async function lastDecision(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<
    { id: number }[]
  >`select coalesce(max(id), 0)::int as id from nudge_engine.decisions`;
  return row?.id ?? 0;
}

async function printDecisions(sql: postgres.Sql, io: Io, after: number): Promise<number> {
  const rows = await sql<
    {
      id: number;
      feature: string | null;
      contact: string | null;
      outcome: string;
      reason: string;
      detail: unknown;
    }[]
  >`
    select d.id::int as id, d.feature, coalesce(c.email, '-') as contact, d.outcome, d.reason, d.detail
      from nudge_engine.decisions d left join nudge_engine.contacts c on c.id = d.contact_id
     where d.id > ${after} order by d.id`;
  for (const r of rows.flatMap((row) => decisionLines(row))) {
    io.out(
      `  ${(r.feature ?? '-').padEnd(18)} ${(r.contact ?? '-').padEnd(26)} ${r.outcome.padEnd(9)} ${r.reason}`,
    );
  }
  return rows.at(-1)?.id ?? after;
}

/** Prints new decisions until Ctrl-C. */
async function follow(
  sql: postgres.Sql,
  io: Io,
  from: number,
  stop: ReturnType<typeof stopOnSignals>,
): Promise<void> {
  let last = from;
  while (!stop.stopped) {
    await stop.sleep(500);
    if (!stop.stopped) last = await printDecisions(sql, io, last);
  }
}

/**
 * Ctrl-C (or SIGTERM, SIGHUP) at any point: the step in hand finishes, then
 * everything is stopped in order — engine, connections, stand-ins, the
 * embedded server. A second Ctrl-C exits at once.
 */
function stopOnSignals(io: Io) {
  let stopped = false;
  let wake: (() => void) | undefined;
  const onSignal = () => {
    if (stopped) {
      io.err(
        'Stopping at once (the embedded PostgreSQL may be left running; the next start reuses it).',
      );
      process.exit(130);
    }
    stopped = true;
    wake?.();
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, onSignal);
  return {
    get stopped() {
      return stopped;
    },
    /** Throws Stopped once a signal came. */
    check() {
      if (stopped) throw new Stopped();
    },
    sleep: (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      }),
    dispose() {
      for (const s of signals) process.off(s, onSignal);
    },
  };
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
