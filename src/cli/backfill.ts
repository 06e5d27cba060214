// `nudge backfill <feature> [--where <condition>] [--dry-run] [--yes] [--rate 50/s] [--restart]`:
// enters the rows that already exist (all current users into an onboarding
// drip) into a feature, as if each had just happened. The dry run counts and
// shows a sample, and writes nothing (not even the engine store's schema);
// the real run asks first, goes at --rate, shows progress, and continues
// from its checkpoint after a crash or Ctrl-C, or after a run that finished
// (src/backfill/run.ts).
import cliProgress from 'cli-progress';
import {
  type BackfillProgress,
  type BackfillStart,
  type Checkpoint,
  parseRate,
  readCheckpoints,
  runBackfill,
  startOf,
} from '../backfill/run.js';
import { sampleContacts } from '../backfill/sample.js';
import { withFeatureSession } from '../backfill/session.js';
import { type BackfillTarget, backfillTarget, countQuery, pageQuery } from '../backfill/target.js';
import { parseWhere } from '../backfill/where.js';
import { parseDuration } from '../config/duration.js';
import { formatCount, formatDuration } from '../contacts/sync/report.js';
import { makeRouter } from '../engine/intake/router.js';
import { identityOf } from '../engine/match/candidates.js';
import { FeatureSet } from '../engine/match/features.js';
import { type Clock, storeClock } from '../engine/wiring/clock.js';
import { runningEngineProcesses } from '../engine/wiring/job-runner.js';
import { NudgeError, UsageError } from '../errors.js';
import { checkFeatures } from '../features/check.js';
import { formatTableName } from '../source/names.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject } from './project.js';

export interface BackfillOptions extends GlobalOptions {
  where?: string;
  dryRun?: boolean;
  yes?: boolean;
  rate?: string;
  /** Read every row from the first, even after a backfill that finished. */
  restart?: boolean;
  /** Stops the run as Ctrl-C does (tests; the CLI wires SIGINT to it). */
  signal?: AbortSignal;
  /** Rows a page at most (tests). */
  pageSize?: number;
}

/** Exit code of a backfill stopped by Ctrl-C: 128 + SIGINT, as `nudge sync`. */
export const INTERRUPTED = 130;
const SAMPLE = 5;

export async function backfill(args: string[], options: BackfillOptions, io: Io): Promise<number> {
  const rate = parseRate(options.rate ?? '50/s');
  if (rate === undefined) {
    throw new UsageError(
      `--rate ${JSON.stringify(options.rate)}: expected rows a second such as 50/s, 3000/m, or unlimited`,
    );
  }
  const where = options.where === undefined ? undefined : parseWhere(options.where);
  const project = await loadProject(options, io);
  const whereText = options.where ?? '';
  return withFeatureSession(
    project,
    args[0],
    async ({ feature, store, storeMissing, migrateStore, source, catalog }) => {
      const c = io.colors;
      if (feature.status === 'draft') {
        throw new NudgeError(
          `${feature.name} is a draft: the engine does not run it, so nobody backfilled would enter`,
          'try it with `nudge backtest`, then set status: active and deploy',
        );
      }
      // The check deploy and backtest run, against the live schema: a column
      // dropped since names the feature file's line, not a compiler's words.
      const attributes = project.config.contacts.attributes;
      checkFeatures([feature], catalog, attributes, {
        exclude: project.config.capture.exclude_columns,
      });
      const target = backfillTarget(feature, catalog, where);
      // Its events are addressed to it alone (backfill:<feature>): the other
      // features route none of them, and one of theirs that no longer fits
      // the schema is not this command's to report.
      const set = new FeatureSet([feature], catalog, attributes);
      const runtime = set.get(feature.name)!;
      // A store Nudge never ran on reads as empty: real time, no
      // checkpoint, nothing backfilled, no contact book (the real run makes
      // it once the user said yes).
      const clock: Clock = storeMissing ? { now: () => new Date() } : await storeClock(store.sql);
      const now = clock.now();
      const checkpoints = storeMissing ? [] : await readCheckpoints(store.sql, feature.name);
      const start = startOf(
        checkpoints.find((k) => k.condition === whereText),
        options.restart,
      );
      // A stopped run's total is every row (its reads so far count towards
      // it); after a finished run, the rows after its last key.
      const counted = countQuery(target, now, start.from === 'done run' ? start.cursor : null);
      const [{ n: total } = { n: 0 }] = await source.unsafe<{ n: number }[]>(
        counted.text,
        counted.values as never[],
      );
      const [{ before } = { before: 0 }] = storeMissing
        ? []
        : await store.sql<{ before: number }[]>`
      select count(*)::float8 as before from nudge_engine.inbox
       where source = 'backfill' and source_key like ${`${feature.name.replace(/[\\%_]/g, '\\$&')}:%`}`;
      const table = formatTableName(target.table);
      io.out(
        `${formatCount(total)} row${total === 1 ? '' : 's'} of ${table} ${options.dryRun ? 'would enter' : 'to enter'} ${feature.name} as ${target.operation}s${where ? ' (--where applied)' : ''}.`,
      );
      const notesOf = {
        target,
        start,
        others: checkpoints.filter((k) => k.condition !== whereText),
        before,
        storeMissing,
        restart: options.restart === true,
        retention: project.config.engine.retention.ingest_log,
      };
      for (const line of notes(notesOf)) io.out(`  ${line}`);
      if (options.dryRun) {
        const page = pageQuery(
          target,
          now,
          start.cursor,
          SAMPLE,
          project.config.capture.exclude_columns,
        );
        const sample = await source.unsafe<{ row: Record<string, unknown>; key: string[] }[]>(
          page.text,
          page.values as never[],
        );
        if (sample.length) {
          const after = start.cursor ? ` after ${keyText(target, start.cursor)}` : '';
          io.out(`Sample (first ${sample.length} by primary key${after}):`);
        }
        const contacts = await sampleContacts(
          storeMissing ? undefined : store.sql,
          source,
          catalog,
          sample.map(({ row }) => identityOf(runtime, { new: row })),
        );
        sample.forEach(({ key }, i) => {
          io.out(`  ${keyText(target, key)}  contact ${contacts[i] ?? '(none)'}`);
        });
        io.out(c.dim(`Dry run: nothing was entered. Run without --dry-run to enter them.`));
        return 0;
      }
      if (total === 0) return 0;
      if (!options.yes) {
        if (!io.confirm) {
          throw new NudgeError(
            'backfill needs confirmation and there is no terminal to ask',
            `review \`nudge backfill ${feature.name} --dry-run\`, then run it with --yes`,
          );
        }
        const eta = rate
          ? `, about ${formatDuration((total / rate) * 1000)} at ${options.rate ?? '50/s'}`
          : '';
        if (!(await io.confirm(`Enter ${formatCount(total)} rows into ${feature.name}${eta}?`))) {
          io.out('Nothing entered.');
          return 1;
        }
      }
      // Asked and answered: the first write makes the engine store if Nudge never ran here.
      if (storeMissing) await migrateStore();
      const stop = options.signal ? undefined : stopOnSigint(io);
      const progress = makeProgress(io, feature.name, total);
      try {
        const result = await runBackfill({
          source,
          engine: store.sql,
          target,
          whereText,
          ...(options.restart ? { restart: true } : {}),
          route: makeRouter(set, project.config.engine.partitions),
          clock,
          exclude: project.config.capture.exclude_columns,
          rate,
          total,
          ...(options.pageSize ? { pageSize: options.pageSize } : {}),
          ...((options.signal ?? stop?.signal)
            ? { signal: (options.signal ?? stop?.signal)! }
            : {}),
          onProgress: progress.update,
        });
        progress.stop();
        const head =
          result.status === 'done'
            ? `${c.green('✓')} ${feature.name}: backfill done`
            : `${c.yellow('■')} ${feature.name}: backfill stopped; run the same command to continue`;
        io.out(
          `${head} in ${formatDuration(result.ms)} — ${formatCount(result.read)} rows read, ${formatCount(result.queued)} new to the engine${result.resumed ? ', continuing an earlier run' : result.afterDone ? ', after the rows of the run that finished before' : ''}`,
        );
        if (result.read > result.queued) {
          io.out(
            `  ${formatCount(result.read - result.queued)} were backfilled before and do not enter again`,
          );
        }
        if (result.queued > 0 && (await runningEngineProcesses(store.sql)) === 0) {
          io.out(
            c.yellow(
              '  no engine is running: they enter when `nudge start` runs (see `nudge logs -f` for each decision)',
            ),
          );
        }
        return result.status === 'done' ? 0 : INTERRUPTED;
      } finally {
        progress.stop();
        stop?.dispose();
      }
    },
    // A dry run writes nothing; the real run writes once asked (above).
    { store: options.dryRun ? 'read' : 'write', whenMissing: 'empty' },
  );
}

/** What the counts above do not say. */
function notes(facts: {
  target: BackfillTarget;
  start: BackfillStart;
  /** Checkpoints of this feature under another --where. */
  others: Checkpoint[];
  /** Backfill events of this feature the inbox still keeps. */
  before: number;
  storeMissing: boolean;
  restart: boolean;
  retention: string;
}): string[] {
  const { target, start } = facts;
  const lines: string[] = [];
  if (facts.storeMissing) {
    lines.push(
      'Nudge has not run here yet (its engine store has no schema nudge_engine): nobody was backfilled before, and contacts are named from the rows alone (no contact book); the real run makes the engine store once you say yes',
    );
  }
  if (start.from === 'done run') {
    lines.push(
      `an earlier backfill of ${target.feature.name}${target.where ? ' with this --where' : ''} finished${start.cursor ? ` after ${keyText(target, start.cursor)}` : ', finding no rows'}: the rows it read are not read again, only those after it (--restart reads every row again)`,
    );
  }
  if (start.from === 'stopped run') {
    lines.push(
      `a run of this backfill stopped after ${start.cursor ? keyText(target, start.cursor) : 'no rows'} (${formatCount(start.read)} rows read): this one continues there`,
    );
  }
  if (facts.restart) {
    lines.push(
      `--restart: every row is read again; a row whose backfill event the inbox still keeps (engine.retention.ingest_log: ${facts.retention}) does not enter again, an older one does, subject to the entry rules below`,
    );
  }
  if (target.feature.trigger.when && !target.triggerWhen) {
    lines.push(
      'the trigger condition reads contact.* or old.*: the engine tests it as each row enters, so fewer may enter',
    );
  }
  if (target.operation === 'update') {
    lines.push('they enter as updates with no old row: conditions on old.* see nothing');
  }
  lines.push(
    'each enters through the engine: a contact already in the journey, past max_entries or in its cooldown is skipped with the reason',
  );
  if (facts.before > 0) {
    lines.push(
      `${formatCount(facts.before)} rows of this feature were backfilled within engine.retention.ingest_log (${facts.retention}) and are still in the inbox: they do not enter again`,
    );
  }
  // Another --where has a checkpoint of its own: only the inbox keeps a row
  // both select from entering twice, and only for the retention period.
  const kept = parseDuration(facts.retention) ?? 0;
  for (const other of facts.others) {
    if (other.started_at.getTime() >= Date.now() - kept) continue;
    lines.push(
      `a backfill of this feature ${other.condition ? `with --where ${JSON.stringify(other.condition)}` : 'without --where'} began ${other.started_at.toISOString().slice(0, 10)}, longer ago than engine.retention.ingest_log (${facts.retention}): a row it entered that this one selects too may enter again`,
    );
  }
  if (target.feature.status === 'paused') {
    lines.push('the feature is paused: the engine skips what enters as paused');
  }
  return lines;
}

/** `id=30`, `org_id,id=2,7`: a primary key as the sample prints it. */
function keyText(target: BackfillTarget, key: string[]): string {
  return `${target.table.primaryKey.join(',')}=${key.join(',')}`;
}

/** A bar on a terminal; otherwise a line at each tenth of the way and at most every 5 s. */
function makeProgress(io: Io, label: string, total: number) {
  const started = performance.now();
  let bar: cliProgress.SingleBar | undefined;
  if (io.isTTY) {
    bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {value}/{total} | {rate} rows/s | ETA {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: true,
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { rate: '0' });
  }
  let lastLine = started;
  let lastTenth = 0;
  return {
    update(p: BackfillProgress) {
      const seconds = (performance.now() - started) / 1000;
      const perSecond = seconds > 0 ? Math.round(p.read / seconds) : 0;
      if (bar) {
        if (p.read > total) bar.setTotal(p.read);
        bar.update(p.read, { rate: formatCount(perSecond) });
        return;
      }
      const tenth = total ? Math.min(10, Math.floor((p.read / total) * 10)) : 0;
      if (tenth <= lastTenth && performance.now() - lastLine < 5000) return;
      lastTenth = Math.max(lastTenth, tenth);
      lastLine = performance.now();
      io.out(
        `${label}: ${formatCount(p.read)}/${formatCount(total)} rows · ${formatCount(p.queued)} new · ${formatCount(perSecond)} rows/s`,
      );
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

/** The first Ctrl-C stops after the page being written; the checkpoint keeps the place. */
function stopOnSigint(io: Io) {
  const controller = new AbortController();
  const onSigint = () => {
    io.err('stopping after the page being written (run the same command to continue)…');
    controller.abort();
  };
  process.once('SIGINT', onSigint);
  return {
    signal: controller.signal,
    dispose: () => process.removeListener('SIGINT', onSigint),
  };
}
