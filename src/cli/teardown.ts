// `nudge teardown`: removes every Nudge trigger and the nudge schema, and
// each transport's own objects (capture: replication: Nudge's publications
// and slot, setting back the replica identity of the tables Nudge made FULL).
// What only those hold — captured changes no engine has processed yet, in the
// outbox or a slot, and failures to capture not resolved — is dropped only
// with --discard-unread. --dry-run says all of it, refusals as warnings, and
// changes nothing. Engine processes still running against the database are
// named before anything is asked: teardown removes the capture under them.
import { nudgeTriggers, teardown as removeAll } from '../capture/deploy.js';
import { BACKFILL_HINT } from '../capture/print-plan.js';
import { readSchemaState } from '../capture/schema.js';
import { objectsParts, pendingInSource } from '../capture/transports/index.js';
import type { Loss } from '../capture/transports/port.js';
import type { LoadedConfig } from '../config/load.js';
import { runningEngineProcesses } from '../engine/wiring/job-runner.js';
import { NudgeError } from '../errors.js';
import { openSource, type Sql } from '../source/connect.js';
import { formatTableName } from '../source/names.js';
import { plural } from '../words.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, withSource } from './project.js';

export async function teardown(
  options: GlobalOptions & { yes?: boolean; discardUnread?: boolean; dryRun?: boolean },
  io: Io,
): Promise<number> {
  const project = await loadProject(options, io);
  const readOnly =
    project.config.access === 'read-only'
      ? new NudgeError('access is read-only: teardown refuses to write', 'set access: read-write')
      : undefined;
  if (readOnly && !options.dryRun) throw readOnly;
  return withSource(project, async ({ sql }) => {
    const triggers = await nudgeTriggers(sql);
    const schema = await readSchemaState(sql);
    const transports = [];
    for (const { objects } of objectsParts()) transports.push(await objects.teardown.find(sql));
    const lines = transports.flatMap((found) => found.lines);
    const losses = transports.flatMap((found): Loss[] => (found.loss ? [found.loss] : []));
    if (!schema.exists && triggers.length === 0 && lines.length === 0) {
      io.out('Nothing to remove: no nudge schema, no Nudge triggers, publications or slots.');
      return 0;
    }
    // A dry run says what teardown would refuse over, and goes on.
    const refused: NudgeError[] = [];
    const refuse = (refusal: NudgeError) => {
      if (!options.dryRun) throw refusal;
      refused.push(refusal);
      io.out(io.colors.yellow(`  ! ${refusal.message}`));
      if (refusal.hint) io.out(io.colors.dim(`    ${refusal.hint}`));
    };
    io.out(options.dryRun ? 'Nudge would remove:' : 'Nudge will remove:');
    for (const t of triggers) io.out(`  - trigger ${t.name} on ${formatTableName(t)}`);
    if (schema.exists)
      io.out('  - schema nudge (event_log, failed_events, enrichment_map, deployments)');
    for (const line of lines) io.out(`  - ${line}`);
    const engines = await runningEngines(project, sql);
    if (engines) {
      for (const line of enginesWarning(engines, project.config.capture.transport)) {
        io.out(io.colors.yellow(line));
      }
    }
    if (readOnly) refuse(readOnly);
    // What the nudge schema holds that nothing else has: captured changes the
    // engine has not processed, and failures to capture not yet resolved.
    // Refused as a slot's unread changes are: dropped only when asked to.
    const outbox = schema.applied > 0 ? await outboxLoss(sql) : undefined;
    if (outbox) {
      if (!options.discardUnread) {
        refuse(
          new NudgeError(
            `teardown would drop the nudge schema while it holds ${outbox.what}; they would be lost`,
            `${outbox.keep.join('; ')}; or run \`nudge teardown --discard-unread\` (with --yes where there is no terminal) to drop them`,
          ),
        );
      } else {
        io.out(io.colors.yellow(`  ! ${outbox.what} will be lost`));
        for (const keep of outbox.keep) io.out(io.colors.dim(`    ${keep}`));
      }
    }
    const discarded = outbox ? [outbox.what] : [];
    for (const loss of losses) {
      if (!options.discardUnread) refuse(loss.refusal('teardown'));
      else io.out(io.colors.yellow(`  ${loss.notice}`));
      discarded.push(loss.discarded);
    }
    if (options.dryRun) {
      io.out(
        refused.length
          ? 'Dry run: nothing was removed. Without --dry-run, teardown refuses over what is marked !.'
          : 'Dry run: nothing was removed. Run without --dry-run to remove them.',
      );
      await sayEngineStoreStays(sql, io);
      return 0;
    }
    if (!options.yes) {
      if (!io.confirm) {
        throw new NudgeError(
          'teardown needs confirmation and there is no terminal to ask',
          `run \`nudge teardown${options.discardUnread ? ' --discard-unread' : ''} --yes\``,
        );
      }
      if (!(await io.confirm('\nRemove them?'))) return 1;
    }
    const result = await removeAll(sql);
    const removed = [
      // A replication project has no trigger: its removal is not "0 trigger(s)".
      ...(result.triggers || !result.removed.length ? [plural(result.triggers, 'trigger')] : []),
      ...(schema.exists ? ['schema nudge'] : []),
      ...result.removed,
    ];
    const notes = result.notes.map((note) => ` ${note}`).join('');
    const listed =
      removed.length > 1 ? `${removed.slice(0, -1).join(', ')} and ${removed.at(-1)}` : removed[0];
    // What was discarded is said instead of "untouched": that data is gone.
    io.out(
      discarded.length
        ? `${io.colors.green('✓')} Removed ${listed}.${notes} Your tables are untouched; discarded: ${discarded.join('; ')}.`
        : `${io.colors.green('✓')} Removed ${listed}.${notes} Your tables and data are untouched.`,
    );
    if (discarded.length)
      io.out(
        io.colors.dim(`What was discarded is not replayed: after nudge deploy, ${BACKFILL_HINT}.`),
      );
    await sayEngineStoreStays(sql, io);
    return 0;
  });
}

/** That the engine store in the source database stays, and how to remove it too. */
async function sayEngineStoreStays(sql: Sql, io: Io): Promise<void> {
  const [store] = await sql<{ schemas: string[] }[]>`
    select coalesce(array_agg(nspname::text order by nspname), '{}') as schemas
      from pg_namespace where nspname in ('nudge_engine', 'nudge_worker')`;
  if (store?.schemas.length) {
    io.out(
      `The engine store stays (schemas ${store.schemas.join(', ')}: contacts, decisions, journeys, secrets). To remove it too: DROP SCHEMA ${store.schemas.join(', ')} CASCADE;`,
    );
  }
}

/**
 * What the nudge schema holds that teardown loses: captured changes the
 * engine has not processed (`nudge.pending()`), and failures to capture not
 * yet resolved; with how to keep them. Nothing when it holds neither.
 */
async function outboxLoss(sql: Sql): Promise<{ what: string; keep: string[] } | undefined> {
  const [pending] = await sql<{ rows: number; failed: number }[]>`
    select ${await pendingInSource(sql)}::int as rows,
           (select count(*) from nudge.failed_events where resolved_at is null)::int as failed`;
  if (!pending || (!pending.rows && !pending.failed)) return undefined;
  const what = [];
  const keep = [];
  if (pending.rows) {
    what.push(`${plural(pending.rows, 'captured change')} not yet processed`);
    keep.push(
      `to keep ${pending.rows === 1 ? 'it' : 'them'}: run \`nudge start\` until \`select count(*) from nudge.pending()\` is 0, then teardown`,
    );
  }
  if (pending.failed) {
    what.push(`${plural(pending.failed, 'failed event')} not resolved`);
    keep.push(
      'to keep what failed: repair its cause and run `nudge capture retry` (it delivers them to the engine), or copy out `select * from nudge.failed_events where resolved_at is null` first',
    );
  }
  return { what: what.join(' and '), keep };
}

/**
 * Engine processes running against this project's engine store (the source
 * database, or a separate store); undefined when it cannot be read (a
 * separate store out of reach): then nothing is said.
 */
async function runningEngines(project: LoadedConfig, source: Sql): Promise<number | undefined> {
  const url = project.config.engine?.database_url;
  let store: Sql | undefined;
  try {
    store = url ? await openSource({ url, readOnly: true, max: 1 }) : source;
    return await runningEngineProcesses(store);
  } catch {
    return undefined;
  } finally {
    if (store && store !== source) await store.end({ timeout: 5 }).catch(() => {});
  }
}

/** What teardown means for the engine processes still running: said before it is asked. */
export function enginesWarning(processes: number, transport: string): string[] {
  const one = processes === 1;
  const head = one
    ? '1 engine process is running against this database'
    : `${processes} engine processes are running against this database`;
  const effect =
    transport === 'replication'
      ? `teardown drops the replication slot ${one ? 'it streams' : 'they stream'} from`
      : 'teardown removes the capture';
  return [
    `  ! ${head} (nudge start, dev or worker): ${effect}, and no change made afterwards reaches ${one ? 'its' : 'their'} features`,
    `    stop ${one ? 'it' : 'them'} first, or run nudge deploy afterwards to capture again`,
  ];
}
