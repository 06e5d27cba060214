// A backfill run: the rows a feature's trigger selects, read page by page in
// primary-key order and handed to the engine through its one way in
// (insertInbox), as events that happened now, addressed to that feature
// alone (event name `backfill:<feature>`). The engine then enters them as it
// enters any event: its entry rules — already in the journey, re_entry,
// max_entries, cooldown — hold, and its decisions point at inbox rows whose
// source is `backfill`.
//
// Nobody twice. The checkpoint (migration 011: one row per feature and
// --where, the last primary key done) commits in one transaction of the
// engine store with each page's events, and it is what keeps a row from
// being read again: a run that stopped (a crash, Ctrl-C) continues after it,
// and so does a run of a backfill that finished — it reads only the rows
// whose key comes after the last one done (rows added since, when keys
// grow), never the ones the finished run covered, however long ago it ran.
// The inbox's (source, key) uniqueness (each event's key is
// `<feature>:<primary key>`) cannot promise that alone: retention
// (engine.retention.ingest_log, 7 days by default) deletes processed
// backfill events like any other, and a row whose event is gone would enter
// again — everyone who has left the journey, under re_entry: after_exit.
// Keeping backfill events past retention would make a one-off backfill of a
// million users cost its storage for good. `--restart` (`restart`) reads
// every row again on purpose; the inbox then skips the rows whose events it
// still keeps, and the others enter again subject to the entry rules.
//
// Pace: at most `rate` rows a second (the events, then the actions they
// cause, follow at that pace), in pages of at most a second's worth.
import type postgres from 'postgres';
import type { ExcludedColumns } from '../capture/columns.js';
import { type InboxEvent, insertInbox, type Router } from '../engine/intake/inbox.js';
import type { Clock } from '../engine/wiring/clock.js';
import type { Sql } from '../source/connect.js';
import type { BackfillTarget } from './target.js';
import { pageQuery } from './target.js';

/** The inbox source of backfilled events, and the event name prefix that addresses one feature. */
export const BACKFILL_SOURCE = 'backfill';
export const backfillEventName = (feature: string) => `backfill:${feature}`;

export interface BackfillProgress {
  /** Rows read from the source, this run and the stopped run it continues. */
  read: number;
  /** Events new to the inbox (rows already backfilled before are not). */
  queued: number;
  /** Rows selected, when counted beforehand. */
  total?: number;
  /** Continuing a run that stopped before its end. */
  resumed: boolean;
  /** Reading only the rows after those of a run that finished. */
  afterDone: boolean;
}

export interface BackfillResult extends BackfillProgress {
  status: 'done' | 'interrupted';
  ms: number;
}

export interface BackfillRunOptions {
  source: Sql | postgres.Sql;
  engine: postgres.Sql;
  target: BackfillTarget;
  /** The --where text as given ('' for none): names the checkpoint. */
  whereText: string;
  /** Read every row from the first, even after a run that finished (--restart). */
  restart?: boolean;
  route: Router;
  clock: Clock;
  exclude?: ExcludedColumns;
  /** Rows a second; 0 or absent: as fast as the databases go. */
  rate?: number;
  /** Rows a page at most (default 1000, or a second's worth when paced). */
  pageSize?: number;
  total?: number;
  /** Stops after the page being written (Ctrl-C); the checkpoint keeps the place. */
  signal?: AbortSignal;
  onProgress?: (progress: BackfillProgress) => void;
}

/** The checkpoint of a feature's backfill under one --where (`condition`, '' for none). */
export interface Checkpoint {
  condition: string;
  /** The last primary key done, each column as text; null before the first page. */
  cursor: string[] | null;
  status: 'running' | 'done';
  rows_read: number;
  queued: number;
  started_at: Date;
  finished_at: Date | null;
}

/** Every checkpoint of a feature's backfills, one per --where it was run with. */
export async function readCheckpoints(
  engine: postgres.Sql,
  feature: string,
): Promise<Checkpoint[]> {
  return engine<Checkpoint[]>`
    select condition, cursor, status, rows_read::float8 as rows_read, queued::float8 as queued,
           started_at, finished_at
      from nudge_engine.backfills where feature = ${feature} order by started_at`;
}

/** Where a run starts: the first row, or after the checkpoint's key (the run it continues). */
export interface BackfillStart {
  from: 'first row' | 'stopped run' | 'done run';
  cursor: string[] | null;
  /** What the stopped run it continues had read and queued. */
  read: number;
  queued: number;
}

export function startOf(saved: Checkpoint | undefined, restart = false): BackfillStart {
  if (!saved || restart) return { from: 'first row', cursor: null, read: 0, queued: 0 };
  if (saved.status === 'running') {
    return {
      from: 'stopped run',
      cursor: saved.cursor,
      read: saved.rows_read,
      queued: saved.queued,
    };
  }
  return { from: 'done run', cursor: saved.cursor, read: 0, queued: 0 };
}

export async function runBackfill(options: BackfillRunOptions): Promise<BackfillResult> {
  const { engine, target, clock } = options;
  const feature = target.feature.name;
  const condition = options.whereText;
  const started = performance.now();
  const saved = (await readCheckpoints(engine, feature)).find((c) => c.condition === condition);
  const start = startOf(saved, options.restart);
  const resumed = start.from === 'stopped run';
  let { cursor, read, queued } = start;
  await engine`
    insert into nudge_engine.backfills (feature, condition, cursor, status, rows_read, queued)
    values (${feature}, ${condition}, ${cursor ? JSON.stringify(cursor) : null}::text::jsonb, 'running', ${read}, ${queued})
    on conflict (feature, condition) do update set
      status = 'running', cursor = excluded.cursor, rows_read = excluded.rows_read, queued = excluded.queued,
      started_at = case when ${resumed} then backfills.started_at else now() end,
      updated_at = now(), finished_at = null`;
  const progress = (): BackfillProgress => ({
    read,
    queued,
    resumed,
    afterDone: start.from === 'done run',
    ...(options.total !== undefined ? { total: options.total } : {}),
  });
  const rate = options.rate && options.rate > 0 ? options.rate : undefined;
  const pageSize = Math.max(
    1,
    Math.min(options.pageSize ?? 1000, rate ? Math.ceil(rate) : Number.POSITIVE_INFINITY),
  );
  const paceFrom = performance.now();
  let readHere = 0;
  const interrupted = () => options.signal?.aborted === true;

  while (!interrupted()) {
    const now = clock.now();
    const page = pageQuery(target, now, cursor, pageSize, options.exclude);
    const rows = await options.source.unsafe<{ row: Record<string, unknown>; key: string[] }[]>(
      page.text,
      page.values as never[],
    );
    if (rows.length === 0) break;
    const events: InboxEvent[] = rows.map(({ row, key }) => ({
      source: BACKFILL_SOURCE,
      sourceKey: `${feature}:${JSON.stringify(key)}`,
      schema: target.table.schema,
      table: target.table.table,
      operation: target.operation,
      eventName: backfillEventName(feature),
      newRow: row,
      occurredAt: now,
    }));
    cursor = rows.at(-1)!.key;
    const added = await engine.begin(async (tx) => {
      const count = await insertInbox(tx, events, options.route);
      await tx`
        update nudge_engine.backfills
           set cursor = ${JSON.stringify(cursor)}::text::jsonb, rows_read = rows_read + ${rows.length},
               queued = queued + ${count}, updated_at = now()
         where feature = ${feature} and condition = ${condition}`;
      return count;
    });
    read += rows.length;
    queued += added;
    readHere += rows.length;
    options.onProgress?.(progress());
    if (rows.length < pageSize) break;
    if (rate) await pause(paceFrom + (readHere / rate) * 1000 - performance.now(), options.signal);
  }
  const status = interrupted() ? 'interrupted' : 'done';
  if (status === 'done') {
    await engine`
      update nudge_engine.backfills set status = 'done', finished_at = now(), updated_at = now()
       where feature = ${feature} and condition = ${condition}`;
  }
  return { ...progress(), status, ms: performance.now() - started };
}

/** Waits `ms` (nothing when ≤ 0), or less when the signal stops the run. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** `50/s`, `3000/m`, `50` (a second), `0` or `unlimited` (no limit): rows a second; undefined when unreadable. */
export function parseRate(text: string): number | undefined {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === 'unlimited' || trimmed === '0') return 0;
  const match = /^(\d+(?:\.\d+)?)\s*(?:\/\s*(s|sec|second|m|min|minute))?$/.exec(trimmed);
  if (!match) return undefined;
  const n = Number(match[1]);
  return match[2]?.startsWith('m') ? n / 60 : n;
}
