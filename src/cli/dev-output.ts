// What `nudge dev` prints: what it deployed, what the story left and where
// to look, how to run the other commands on the demo database from another
// terminal (an API key for an app among them), and the decisions and
// deliveries that follow while it runs.
import path from 'node:path';
import type postgres from 'postgres';
import type { Plan } from '../capture/plan.js';
import { deployingPart, desiredPart } from '../capture/transports/index.js';
import { durationInWords } from '../config/duration.js';
import type { LoadedConfig } from '../config/load.js';
import { displayPath } from '../config/yaml.js';
import type { Delivery, DemoReceiver } from '../dev/receiver.js';
import { MEDIA_PATH } from '../dev/story.js';
import { linksOpenInDevMailbox } from '../email/doctor.js';
import {
  decisionLines,
  readDecisions,
  replayedWords,
  replaysOf,
} from '../engine/lanes/decision-log.js';
import type { Feature } from '../features/load.js';
import { formatTableName } from '../source/names.js';
import { plural } from '../words.js';
import type { Io } from './io.js';
import type { StopSignals } from './signals.js';

/**
 * How to run the other commands on the demo database from a second
 * terminal, literally: its URL, and the project `nudge dev` runs — the
 * bundled demo's nudge.yaml (with no --config they would load the folder's,
 * none: an empty project). Each
 * command carries the URL itself, so any one line works pasted alone: without
 * it a command looks for an embedded store beside that nudge.yaml
 * (examples/demo/.nudge/pg), not the one `nudge dev` runs. The export line
 * is for the commands not printed.
 */
export function otherCommands(
  io: Io,
  url: string,
  /** The project's nudge.yaml as given with --config (none: the folder's), or the bundled demo's. */
  file: string | undefined,
): { env: string; command: (args: string) => string } {
  const shown = file && displayPath(path.resolve(io.cwd, file), io.cwd);
  const assignment = `DATABASE_URL="${url}"`;
  return {
    env: `export ${assignment}`,
    command: (args) =>
      `${assignment} ${selfCommand(io)}${shown ? ` --config ${shown}` : ''} ${args}`,
  };
}

/** One line for what was deployed: the deployment, and the tables captured and how. */
export function deploySummary(plan: Plan, deploymentId: number | undefined, io: Io): string {
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

/**
 * Where the emails' unsubscribe and preference links open, said under the
 * Mailbox line: `url`, the server's own address, when server.public_url is
 * not set (the links point there) and every email of the features stays in
 * the dev mailbox, which opens them there — as the Email check decides it
 * (doctor/dev-links.ts). An email Resend or SMTP sends leaves for a real
 * inbox, where a link to this address leads nowhere: nothing is said then.
 */
export function emailLinksAt(
  project: LoadedConfig,
  features: Feature[],
  url: string | undefined,
): string | undefined {
  return url && linksOpenInDevMailbox(project, features) ? url : undefined;
}

export async function printAfterStory(
  sql: postgres.Sql,
  receiver: DemoReceiver,
  io: Io,
  after: {
    dashboardUrl: string | undefined;
    /** --once: the dashboard, the stand-ins and the database stop when this is said. */
    once: boolean;
    terminal: ReturnType<typeof otherCommands>;
    /** Where the emails' links open, when it is this server's own address (emailLinksAt). */
    linksAt?: string;
  },
): Promise<void> {
  const { dashboardUrl, once, terminal, linksAt } = after;
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
  if (linksAt)
    io.out(
      `           Their unsubscribe and preference links open here, at ${linksAt} (nudge dev's own address: server.public_url is not set).`,
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
        : `           It is back up now: press Replay there and this terminal shows the ${earlier > 0 ? 'deliveries' : 'delivery'} arriving, below (← media service received …).`,
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
      `${once ? 'While `nudge dev` runs (the URL is its psql line; --port keeps it), the' : 'The'} other nudge commands work on this demo database from another terminal:`,
    ),
  );
  for (const line of [terminal.env, ...commands]) io.out(`  ${line}`);
  // What an app needs before its first call to the API: a key (write scope),
  // made in the store this server checks keys against — the demo database.
  // A name holds one active key: once my-app has one (an earlier start's
  // line was run), `keys create my-app` would fail, so say so and name one free.
  const api = dashboardUrl ? ` at ${new URL(dashboardUrl).origin}/v1` : '';
  const forApp = `for your app to call the API${api} (events, contacts; nudge/client)`;
  const taken = new Set(
    (
      await sql<{ name: string }[]>`
        select name from nudge_engine.api_keys where revoked_at is null and name like ${`${APP_KEY}%`}`
    ).map((key) => key.name),
  );
  if (!taken.has(APP_KEY)) {
    io.out(c.dim(`To make an API key ${forApp}, run this; it prints the key once:`));
    io.out(`  ${terminal.command(`keys create ${APP_KEY}`)}`);
    return;
  }
  let another = 2;
  while (taken.has(`${APP_KEY}-${another}`)) another++;
  io.out(
    c.dim(
      `An API key ${forApp} exists: ${APP_KEY}, printed once when it was made. To list the keys, or make another (it prints the key once):`,
    ),
  );
  io.out(`  ${terminal.command('keys list')}`);
  io.out(`  ${terminal.command(`keys create ${APP_KEY}-${another}`)}`);
}

/** The name of the API key nudge dev suggests for an app. */
const APP_KEY = 'my-app';

export function deliveryLine(delivery: Delivery, io: Io): string {
  const c = io.colors;
  const ok = delivery.status < 300;
  return `  ${ok ? c.green('←') : c.red('←')} ${delivery.service} received POST ${delivery.path}: ${ok ? c.green(String(delivery.status)) : c.red(String(delivery.status))} ${c.dim(`webhook-id ${delivery.webhookId}`)}`;
}

/**
 * How to run this CLI again from here: `npx nudge` when it is the project's
 * own (node_modules/.bin, which npx runs before the registry's package of
 * that name), `nudge` when it is on the PATH (npm link), else node and the
 * script.
 */
function selfCommand(io: Io): string {
  const script = process.argv[1] ?? '';
  if (/node_modules[\\/]\.bin[\\/]nudge$/.test(script)) return 'npx nudge';
  if (/[\\/]nudge$/.test(script)) return 'nudge';
  const relative = path.relative(io.cwd, script);
  return `node ${relative.startsWith('..') || path.isAbsolute(relative) ? script : relative}`;
}

async function printDecisions(sql: postgres.Sql, io: Io, after: number): Promise<number> {
  const rows = await readDecisions(sql, {}, { after });
  const replays = await replaysOf(sql, rows);
  for (const row of rows) {
    const replay = replays.get(row.id);
    for (const r of decisionLines(row)) {
      // No contact looked up (skipped before it: a false condition, no contact
      // value): the event, as nudge logs shows it; a paused feature's names its contact.
      const who = r.contact ?? r.event ?? '-';
      const reason = replay ? `${replayedWords(replay)}: ${r.reason}` : r.reason;
      io.out(
        `  ${(r.feature ?? '-').padEnd(18)} ${who.padEnd(26)} ${r.outcome.padEnd(9)} ${reason}`,
      );
    }
  }
  return rows.at(-1)?.id ?? after;
}

/** Prints new decisions until Ctrl-C. */
export async function follow(
  sql: postgres.Sql,
  io: Io,
  from: number,
  stop: StopSignals,
): Promise<void> {
  let last = from;
  while (!stop.stopped) {
    await stop.sleep(500);
    if (!stop.stopped) last = await printDecisions(sql, io, last);
  }
}
