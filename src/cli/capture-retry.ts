// `nudge capture retry [--dry-run] [--yes]`: delivers the rows a capture
// trigger could not capture (nudge.failed_events; `nudge doctor` names them
// and their error) into the engine's inbox, each once, and removes them
// there; run it after repairing the cause. Before it asks, it tries each row
// as the dry run does, so the question says how many would go through and
// how many would stay. A row that still fails stays, with its new error; so
// does one another run held or one that failed while it ran: whenever rows
// stay, the command says how many and why and exits 1. --dry-run says what a
// run would deliver and keep, and writes nothing (also where access is
// read-only). Rows are named by their failed_events number and their table's
// key as recorded (`#3 public.orders insert id=42`). The work itself is
// capture/failures/retry.ts.

import {
  previewFailures,
  type RetryItem,
  type RetryResult,
  retryFailures,
} from '../capture/failures/retry.js';
import {
  captureName,
  errorText,
  type FailureSummary,
  failedAtText,
  latestErrorText,
  readFailures,
} from '../capture/failures/summary.js';
import type { LoadedConfig } from '../config/load.js';
import { formatCount } from '../contacts/sync/report.js';
import { sourceBeside } from '../db/engine.js';
import { makeRouter } from '../engine/intake/router.js';
import { FeatureSet } from '../engine/match/features.js';
import { runningEngineProcesses } from '../engine/wiring/job-runner.js';
import { NudgeError } from '../errors.js';
import { loadFeatures } from '../features/load.js';
import { type Catalog, readCatalog } from '../source/catalog.js';
import type { Sql } from '../source/connect.js';
import { plural } from '../words.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, openProjectStore, withSource } from './project.js';

export interface CaptureRetryOptions extends GlobalOptions {
  dryRun?: boolean;
  yes?: boolean;
}

/** Rows listed one a line at most; the rest are counted. */
const LISTED = 20;

export async function captureRetry(options: CaptureRetryOptions, io: Io): Promise<number> {
  const project = await loadProject(options, io);
  if (options.dryRun) return dryRun(project, io);
  if (project.config.access === 'read-only') {
    throw new NudgeError(
      'access is read-only: nudge capture retry removes the rows it delivers from nudge.failed_events, which is a write',
      'set access: read-write in nudge.yaml to retry them; nudge capture retry --dry-run lists them and writes nothing',
    );
  }
  const store = await openProjectStore(project, io, { max: 4 });
  const beside = await sourceBeside(store, { readOnly: false });
  const source = beside.sql;
  try {
    const failures = await readFailures(source);
    if (!hasRows(failures, io)) return 0;
    io.out(describe(failures));
    const catalog = await readCatalog(source);
    // Asked on a terminal: first what each row would do now, as the dry run says it.
    const preview = !options.yes && io.confirm ? await previewFailures(source) : undefined;
    if (preview) await sayPreview(io, source, catalog, preview);
    io.out(
      '  Each is delivered to the engine once, as the change it was (at the time it was made), and removed from nudge.failed_events; its features act on it now.',
    );
    if (!(await confirmed(options, io, failures.rows, preview))) {
      io.out(`Nothing delivered: the ${plural(failures.rows, 'row')} stay in nudge.failed_events.`);
      return 1;
    }
    const features = await loadFeatures(project.featuresDir, project.env, project.cwd);
    const set = new FeatureSet(features, catalog, project.config.contacts.attributes);
    const c = io.colors;
    const result = await retryFailures({
      source,
      engine: store.sql,
      route: makeRouter(set, project.config.engine.partitions),
      onBatch: (soFar) => {
        const done = soFar.delivered + soFar.kept.length;
        if (done < failures.rows) {
          io.out(
            c.dim(
              `  ${formatCount(done)} of ${formatCount(failures.rows)} rows: ${formatCount(soFar.delivered)} delivered, ${formatCount(soFar.kept.length)} kept…`,
            ),
          );
        }
      },
    });
    await report(result, io, store.sql, source, catalog);
    // What is left now, read again: the rows kept, and any this run did not
    // try — held by another retry running at the same time (each takes the
    // rows the other has not locked), or recorded while it ran.
    const left = await readFailures(source);
    const untried = (left.table ? left.rows : 0) - result.kept.length;
    if (untried > 0) {
      io.out(
        c.yellow(
          `! ${plural(untried, 'more row')} ${untried === 1 ? 'is' : 'are'} in nudge.failed_events that this run did not try: another nudge capture retry held ${untried === 1 ? 'it' : 'them'}, or ${untried === 1 ? 'it' : 'they'} failed while it ran`,
        ),
      );
      io.out(`  ${c.dim('fix:')} run nudge capture retry again (nudge doctor names the error)`);
    }
    return result.kept.length > 0 || untried > 0 ? 1 : 0;
  } finally {
    await beside.close();
    await store.close();
  }
}

/** The dry run: what each row would do now, writing nothing (a read-only session is enough). */
async function dryRun(project: LoadedConfig, io: Io): Promise<number> {
  return withRetrySource(project, io, async (sql) => {
    const failures = await readFailures(sql);
    if (!hasRows(failures, io)) return 0;
    io.out(describe(failures));
    const items = await previewFailures(sql);
    const { going, staying } = await sayPreview(io, sql, await readCatalog(sql), items);
    const c = io.colors;
    if (staying) {
      io.out(
        c.dim('  fix: repair what the error names, then run nudge capture retry --dry-run again'),
      );
    }
    io.out(
      c.dim(
        going
          ? `Dry run: nothing was delivered. Run nudge capture retry to deliver the ${plural(going, 'row')} that would go through.`
          : 'Dry run: nothing was delivered, and nothing would be yet.',
      ),
    );
    return 0;
  });
}

/** The rows that would be delivered and those that would stay, listed; how many of each. */
async function sayPreview(
  io: Io,
  sql: Sql,
  catalog: Catalog,
  items: RetryItem[],
): Promise<{ going: number; staying: number }> {
  const going = items.filter((item) => !item.problem);
  const staying = items.filter((item) => item.problem);
  const keys = await rowKeys(sql, catalog, [
    ...going.slice(0, LISTED),
    ...staying.slice(0, LISTED),
  ]);
  const c = io.colors;
  if (going.length) {
    io.out(`Would deliver ${plural(going.length, 'row')} to the engine:`);
    list(io, going, keys);
  }
  if (staying.length) {
    io.out(c.yellow(`Would keep ${plural(staying.length, 'row')}: ${itStill(staying.length)}`));
    list(io, staying, keys);
  }
  return { going: going.length, staying: staying.length };
}

/**
 * The source database for the dry run: in the configured access mode; with
 * no database URL, nudge dev's embedded one (as the engine store finds it).
 */
async function withRetrySource<T>(
  project: LoadedConfig,
  io: Io,
  fn: (sql: Sql) => Promise<T>,
): Promise<T> {
  if (project.databaseUrl) return withSource(project, ({ sql }) => fn(sql));
  const store = await openProjectStore(project, io, { max: 2 });
  const beside = await sourceBeside(store, { readOnly: false });
  try {
    return await fn(beside.sql);
  } finally {
    await beside.close();
    await store.close();
  }
}

/** Says there is nothing to retry, and why, when there is not: false then. */
function hasRows(
  failures: FailureSummary,
  io: Io,
): failures is Extract<FailureSummary, { table: true }> {
  if (!failures.table) {
    io.out(
      failures.deployed
        ? 'Nothing to retry: nudge.failed_events is missing (run nudge deploy to make it again).'
        : 'Nothing to retry: no nudge schema in this database (nothing deployed yet).',
    );
    return false;
  }
  if (failures.rows === 0) {
    io.out('Nothing to retry: every row was captured (nudge.failed_events holds none).');
    return false;
  }
  return true;
}

/** "3 rows a capture trigger could not capture are in nudge.failed_events:" and one line per (table, operation). */
function describe(failures: Extract<FailureSummary, { table: true }>): string {
  const lines = [
    `${plural(failures.rows, 'row')} a capture trigger could not capture ${failures.rows === 1 ? 'is' : 'are'} in nudge.failed_events:`,
    ...failures.groups.map(
      (g) =>
        `  ${captureName(g)}: ${plural(g.rows, 'row')} since ${failedAtText(g.since)}; latest error ${latestErrorText(g)}`,
    ),
  ];
  return lines.join('\n');
}

async function confirmed(
  options: CaptureRetryOptions,
  io: Io,
  rows: number,
  preview: RetryItem[] | undefined,
): Promise<boolean> {
  if (options.yes) return true;
  if (!io.confirm) {
    throw new NudgeError(
      'nudge capture retry needs confirmation and there is no terminal to ask',
      'review `nudge capture retry --dry-run`, then run `nudge capture retry --yes`',
    );
  }
  return io.confirm(question(rows, preview));
}

/**
 * The question, in what the run would do when the preview knows it:
 * "Deliver 3 rows to the engine?" when each would go through, else
 * "Try 3 rows? 1 can be delivered now; 2 would still fail and stay."
 */
function question(rows: number, preview: RetryItem[] | undefined): string {
  if (!preview) return `Deliver ${plural(rows, 'row')} to the engine?`;
  const staying = preview.filter((item) => item.problem).length;
  const going = preview.length - staying;
  if (staying === 0) return `Deliver ${plural(going, 'row')} to the engine?`;
  const now =
    going === 0
      ? `None can be delivered now: ${staying === 1 ? 'it' : `all ${staying}`} would still fail and stay.`
      : `${going} can be delivered now; ${staying} would still fail and stay.`;
  return `Try ${plural(preview.length, 'row')}? ${now}`;
}

/**
 * One line a row, the first LISTED of them:
 * `#12 public.orders insert id=42, failed …[: its problem]`.
 */
function list(io: Io, items: RetryItem[], keys: Map<number, string>): void {
  for (const item of items.slice(0, LISTED)) {
    const key = keys.get(item.id);
    const what = `#${item.id} ${captureName(item)}${key ? ` ${key}` : ''}, failed ${failedAtText(item.failedAt)}`;
    io.out(`  ${what}${item.problem ? `: ${errorText(item.problem)}` : ''}`);
  }
  if (items.length > LISTED) io.out(`  … and ${formatCount(items.length - LISTED)} more`);
}

/**
 * Which row each failure was, from the row it recorded (the old one of a
 * delete): its table's primary key (`id=42`, `order_id=7 line=2`), else
 * its `id`, else its first column. Rows no longer in failed_events, or that
 * recorded none, have no entry.
 */
async function rowKeys(
  sql: Sql,
  catalog: Catalog,
  items: RetryItem[],
): Promise<Map<number, string>> {
  if (items.length === 0) return new Map();
  const rows = await sql<{ id: string; row: Record<string, unknown> | null }[]>`
    select id::text as id,
           case when operation = 'delete' then old_row else coalesce(new_row, old_row) end as row
      from nudge.failed_events
     where id = any(${items.map((item) => item.id)}::bigint[])`;
  const keys = new Map<number, string>();
  for (const { id, row } of rows) {
    if (!row || typeof row !== 'object') continue;
    const item = items.find((i) => i.id === Number(id));
    const primary = item ? catalog.get(item)?.primaryKey : undefined;
    const columns =
      primary?.length && primary.every((column) => column in row)
        ? primary
        : 'id' in row
          ? ['id']
          : Object.keys(row).slice(0, 1);
    if (columns.length)
      keys.set(Number(id), columns.map((c) => `${c}=${valueText(row[c])}`).join(' '));
  }
  return keys;
}

/** A key's value, short: 42, a@x.io, "two words", null. */
function valueText(value: unknown): string {
  const text =
    typeof value === 'string' && /^[\w.@:+-]+$/.test(value)
      ? value
      : (JSON.stringify(value) ?? 'null');
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

const itStill = (n: number) =>
  n === 1 ? 'it still fails, with this error' : 'they still fail, with these errors';

async function report(
  result: RetryResult,
  io: Io,
  engine: Sql,
  source: Sql,
  catalog: Catalog,
): Promise<void> {
  const c = io.colors;
  if (result.delivered) {
    io.out(
      `${c.green('✓')} ${plural(result.delivered, 'row')} delivered to the engine and removed from nudge.failed_events`,
    );
    const before = result.delivered - result.stored;
    if (before) {
      io.out(
        `  ${formatCount(before)} of them ${before === 1 ? 'was' : 'were'} in the engine's inbox already (an earlier run stopped before removing ${before === 1 ? 'it' : 'them'}): not stored twice`,
      );
    }
    if ((await runningEngineProcesses(engine)) === 0) {
      io.out(
        c.yellow(
          '  no engine is running: they are processed when nudge start runs (nudge logs -f shows each decision)',
        ),
      );
    }
  }
  if (result.kept.length) {
    io.out(
      c.yellow(
        `! ${plural(result.kept.length, 'row')} kept in nudge.failed_events: ${itStill(result.kept.length)}`,
      ),
    );
    list(io, result.kept, await rowKeys(source, catalog, result.kept.slice(0, LISTED)));
    io.out(`  ${c.dim('fix:')} repair what the error names, then run nudge capture retry again`);
  }
}
