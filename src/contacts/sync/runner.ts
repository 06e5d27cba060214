// The loop every sync runs: read a page (keyset or API page) while the
// previous ones are written, write up to `concurrency` batches at once, each
// in one transaction, and move the checkpoint only over an unbroken prefix of
// committed batches — so a run stopped at any point (Ctrl-C, a crash, an
// error) continues from a position before which everything is written.
import type postgres from 'postgres';
import {
  addStats,
  emptyStats,
  type RunPlan,
  type SyncStats,
  saveEnd,
  saveProgress,
  saveStart,
} from './checkpoint.js';
import type { SyncReporter } from './report.js';

export type Row = Record<string, unknown>;

export interface PageReader<C> {
  /**
   * The rows after `after` (from the start when null) and the position after
   * them; `next` is null at the end. A page may be empty and still not be the
   * end (an API page whose users all changed before an incremental run's time).
   * `readAt`, when the reader tells it: the engine store's time just before
   * the rows were read.
   */
  read(after: C | null): Promise<{ rows: Row[]; next: C | null; readAt?: string }>;
  /** How many rows are left after `after`, when it can be known cheaply. */
  total?(after: C | null): Promise<number | null>;
}

export interface Page<C> {
  seq: number;
  rows: Row[];
  /** The position before the first row (null: the start). */
  from: C | null;
  /** The position after the last row. */
  to: C;
  /** The engine store's time before the page was read, when the reader tells it. */
  readAt?: string;
}

export interface BatchResult {
  synced: number;
  created?: number;
  updated?: number;
  deleted?: number;
  /** Rows left out: a row identifier and why. */
  skipped: { id: string; reason: string }[];
  /** Rows written without a part of them (an address another contact holds): a row identifier and why. */
  warnings?: { id: string; reason: string }[];
}

export interface RunOptions<C> {
  engine: postgres.Sql;
  /** The sync_state row. */
  name: string;
  /** What the progress and summary call the rows: `users`, `public.orders`. */
  label: string;
  /** What the rows become: contacts (and their attributes) or events. */
  kind?: 'contacts' | 'events';
  plan: RunPlan;
  reader: PageReader<C>;
  /** Writes one page in the given transaction. */
  write(tx: postgres.TransactionSql, page: Page<C>): Promise<BatchResult>;
  /** After the last page of a complete run (e.g. marking users deleted since). */
  finish?(last: C | null): Promise<Partial<BatchResult>>;
  /** Where the next incremental run of this sync starts, once this one is done. */
  nextSince?: string | null;
  concurrency?: number;
  signal?: AbortSignal;
  /** Called after each batch commits (tests stop a run with it). */
  onBatch?: (committed: number, stats: SyncStats) => void;
  report: SyncReporter;
}

export interface SyncResult {
  name: string;
  label: string;
  kind: 'contacts' | 'events';
  status: 'done' | 'interrupted' | 'failed';
  mode: RunPlan['cursor']['mode'];
  resumed: boolean;
  why: string;
  /** This invocation's numbers (a resumed run's earlier part is in runStats). */
  stats: SyncStats;
  runStats: SyncStats;
  ms: number;
  error?: unknown;
}

/** Reduces a skip reason to its kind for counting: quoted values and numbers go. */
export function reasonKind(reason: string): string {
  return reason
    .replace(/"(?:[^"\\]|\\.)*"/g, '…')
    .replace(/\b(number|bigint) [-\d.e+]+/g, '$1')
    .trim();
}

export async function runSync<C>(options: RunOptions<C>): Promise<SyncResult> {
  const { engine, name, plan, reader, report } = options;
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const started = performance.now();
  const stats = emptyStats();
  const runStats = plan.stats;
  await saveStart(engine, name, plan);

  // Checkpoint bookkeeping: `prefix` is the last seq with every seq ≤ it committed.
  const committed = new Map<number, C>();
  let prefix = -1;
  let prefixAfter = plan.cursor.after as C | null;
  const advance = () => {
    while (committed.has(prefix + 1)) {
      prefix++;
      prefixAfter = committed.get(prefix)!;
      committed.delete(prefix);
    }
  };

  report.start(
    options.label,
    await reader.total?.(plan.cursor.after as C | null).catch(() => null),
    plan,
  );
  let failure: unknown;
  let reachedEnd = false;
  const inflight = new Set<Promise<void>>();
  const writePage = async (page: Page<C>) => {
    const result = await engine.begin(async (tx) => {
      const result = await options.write(tx, page);
      // Only the batch that extends the unbroken prefix may move the checkpoint.
      if (page.seq === prefix + 1) {
        let end = page.seq;
        let after = page.to;
        while (committed.has(end + 1)) after = committed.get(++end)!;
        const runningStats = structuredClone(runStats);
        addStats(runningStats, toStats(page, result));
        await saveProgress(tx, name, after, runningStats);
      }
      return result;
    });
    committed.set(page.seq, page.to);
    advance();
    const batchStats = toStats(page, result);
    addStats(stats, batchStats);
    addStats(runStats, batchStats);
    for (const skip of result.skipped) report.skipped(skip.id, skip.reason);
    for (const warning of result.warnings ?? []) report.warned?.(warning.id, warning.reason);
    report.progress(stats);
    options.onBatch?.(page.seq + 1, stats);
  };

  try {
    let after = plan.cursor.after as C | null;
    let seq = 0;
    let next = reader.read(after);
    next.catch(() => {}); // awaited below unless the run stops first
    while (!failure && !options.signal?.aborted) {
      const page: { rows: Row[]; next: C | null; readAt?: string } = await next;
      if (page.next === null) {
        reachedEnd = true;
        break;
      }
      const from = after;
      after = page.next;
      // Read ahead while this page is written.
      next = reader.read(after);
      next.catch(() => {}); // awaited next time round, or abandoned on a stop; never unhandled
      const task = writePage({
        seq: seq++,
        rows: page.rows,
        from,
        to: page.next,
        ...(page.readAt ? { readAt: page.readAt } : {}),
      })
        .catch((error) => {
          failure ??= error;
        })
        .finally(() => inflight.delete(task));
      inflight.add(task);
      while (inflight.size >= concurrency) await Promise.race(inflight);
    }
  } catch (error) {
    failure ??= error;
  }
  await Promise.all(inflight);
  // A stop asked for is an interruption, even when it cut a request short.
  if (options.signal?.aborted && failure === options.signal.reason) failure = undefined;

  if (reachedEnd && !failure && !options.signal?.aborted) {
    try {
      const tail = await options.finish?.(prefixAfter);
      if (tail) {
        addStats(stats, tail as Partial<SyncStats>);
        addStats(runStats, tail as Partial<SyncStats>);
      }
    } catch (error) {
      failure = error;
    }
  }
  const status = failure ? 'failed' : reachedEnd ? 'done' : 'interrupted';
  await saveEnd(engine, name, {
    status,
    after: status === 'done' ? null : prefixAfter,
    stats: runStats,
    nextSince: status === 'done' ? (options.nextSince ?? null) : null,
  });
  report.stop();
  return {
    name,
    label: options.label,
    kind: options.kind ?? 'contacts',
    status,
    mode: plan.cursor.mode,
    resumed: plan.resumed,
    why: plan.why,
    stats,
    runStats,
    ms: performance.now() - started,
    ...(failure ? { error: failure } : {}),
  };
}

function toStats<C>(page: Page<C>, result: BatchResult): Partial<SyncStats> {
  const count = (rows: { reason: string }[]) => {
    const kinds: Record<string, number> = {};
    for (const row of rows) {
      const kind = reasonKind(row.reason);
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    }
    return kinds;
  };
  const reasons = count(result.skipped);
  return {
    ...(result.warnings?.length ? { warnings: count(result.warnings) } : {}),
    read: page.rows.length,
    synced: result.synced,
    created: result.created ?? 0,
    updated: result.updated ?? 0,
    deleted: result.deleted ?? 0,
    skipped: result.skipped.length,
    reasons,
  };
}
