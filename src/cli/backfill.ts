// `nudge backfill <feature> [--where <condition>] [--dry-run] [--yes] [--rate 50/s]`:
// enters the rows that already exist (all current users into an onboarding
// drip) into a feature, as if each had just happened. The dry run counts and
// shows a sample; the real run asks first, goes at --rate, shows progress,
// and resumes from its checkpoint after a crash or Ctrl-C (src/backfill/run.ts).
import cliProgress from 'cli-progress';
import { type BackfillProgress, parseRate, runBackfill } from '../backfill/run.js';
import { sampleContacts } from '../backfill/sample.js';
import { withFeatureSession } from '../backfill/session.js';
import { type BackfillTarget, backfillTarget, countQuery, pageQuery } from '../backfill/target.js';
import { parseWhere } from '../backfill/where.js';
import { formatCount, formatDuration } from '../contacts/sync/report.js';
import { makeRouter } from '../engine/intake/router.js';
import { identityOf } from '../engine/match/candidates.js';
import { FeatureSet } from '../engine/match/features.js';
import { storeClock } from '../engine/wiring/clock.js';
import { runningEngineProcesses } from '../engine/wiring/job-runner.js';
import { NudgeError, UsageError } from '../errors.js';
import { formatTableName } from '../source/names.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject } from './project.js';

export interface BackfillOptions extends GlobalOptions {
  where?: string;
  dryRun?: boolean;
  yes?: boolean;
  rate?: string;
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
  return withFeatureSession(
    project,
    args[0],
    async ({ feature, features, store, source, catalog }) => {
      const c = io.colors;
      if (feature.status === 'draft') {
        throw new NudgeError(
          `${feature.name} is a draft: the engine does not run it, so nobody backfilled would enter`,
          'try it with `nudge backtest`, then set status: active and deploy',
        );
      }
      const target = backfillTarget(feature, catalog, where);
      const set = new FeatureSet(features, catalog, project.config.contacts.attributes);
      const runtime = set.get(feature.name)!;
      const clock = await storeClock(store.sql);
      const now = clock.now();
      const counted = countQuery(target, now);
      const [{ n: total } = { n: 0 }] = await source.unsafe<{ n: number }[]>(
        counted.text,
        counted.values as never[],
      );
      const [{ before } = { before: 0 }] = await store.sql<{ before: number }[]>`
      select count(*)::float8 as before from nudge_engine.inbox
       where source = 'backfill' and source_key like ${`${feature.name.replace(/[\\%_]/g, '\\$&')}:%`}`;
      const table = formatTableName(target.table);
      io.out(
        `${formatCount(total)} row${total === 1 ? '' : 's'} of ${table} ${options.dryRun ? 'would enter' : 'to enter'} ${feature.name} as ${target.operation}s${where ? ' (--where applied)' : ''}.`,
      );
      for (const line of notes(target, before, feature.status === 'paused')) io.out(`  ${line}`);
      if (options.dryRun) {
        const page = pageQuery(target, now, null, SAMPLE, project.config.capture.exclude_columns);
        const sample = await source.unsafe<{ row: Record<string, unknown>; key: string[] }[]>(
          page.text,
          page.values as never[],
        );
        if (sample.length) io.out(`Sample (first ${sample.length} by primary key):`);
        const contacts = await sampleContacts(
          store.sql,
          source,
          catalog,
          sample.map(({ row }) => identityOf(runtime, { new: row })),
        );
        sample.forEach(({ key }, i) => {
          io.out(
            `  ${target.table.primaryKey.join(',')}=${key.join(',')}  contact ${contacts[i] ?? '(none)'}`,
          );
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
      const stop = options.signal ? undefined : stopOnSigint(io);
      const progress = makeProgress(io, feature.name, total);
      try {
        const result = await runBackfill({
          source,
          engine: store.sql,
          target,
          whereText: options.where ?? '',
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
          `${head} in ${formatDuration(result.ms)} — ${formatCount(result.read)} rows read, ${formatCount(result.queued)} new to the engine${result.resumed ? ', continuing an earlier run' : ''}`,
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
  );
}

/** What the counts above do not say. */
function notes(target: BackfillTarget, before: number, paused: boolean): string[] {
  const lines: string[] = [];
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
  if (before > 0) {
    lines.push(
      `${formatCount(before)} rows of this feature were backfilled before: they do not enter again`,
    );
  }
  if (paused) lines.push('the feature is paused: the engine skips what enters as paused');
  return lines;
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
