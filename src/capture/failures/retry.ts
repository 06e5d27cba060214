// `nudge capture retry`'s work: the rows a capture trigger could not capture
// (nudge.failed_events, stage 'capture') delivered into the engine's inbox,
// each exactly once, and removed from failed_events as they go; and its dry
// run, which says what a run would do and changes nothing.
//
// Exactly once. A row's inbox key is `failed:<id>:<failed_at, UTC, to the
// microsecond>` under source 'outbox': its id, which never changes, with its
// failure time, because failed_events' ids start again from 1 when teardown
// drops the schema while the inbox keeps what it holds (the outbox's own ids
// outlive that, capture migration 005; failed_events' do not). A batch is
// claimed FOR UPDATE SKIP LOCKED in a source transaction that stays open
// until the inbox has its events; the delivered rows are deleted in that
// transaction, which commits last. A crash in between leaves them to the next
// run, whose insert the inbox ignores ((source, source_key) is unique): a row
// is delivered once however often retry runs, and two runs at once take
// different rows. When the engine store is the source database, the inbox
// insert is part of that same transaction.
//
// Enrichment. A capture whose table nudge.enrichment_map names enriches each
// row in the trigger, and that is what fails most often (a join target
// dropped, a value the join cannot cast); the row was recorded without it. So
// retry calls nudge.enrich on the recorded row as the trigger did (the new
// row; the old one of a DELETE): the event reaches the engine as the trigger
// would have sent it, joined against the target table as it is now. A row
// whose enrichment still fails is not delivered: it stays, with that error in
// sqlstate, message, detail and context, and attempts counted, until a run
// after its cause is repaired. So does a row that recorded nothing to deliver.
import postgres from 'postgres';
import { records } from '../../db/records.js';
import { type InboxEvent, insertInbox, type Router } from '../../engine/intake/inbox.js';
import { type Operation, triggerNameFor } from '../triggers.js';

type Row = Record<string, unknown>;
type Db = postgres.Sql | postgres.TransactionSql;

/** One row of nudge.failed_events, as retry reads it. */
export interface FailedRow {
  id: number;
  /** failed_at as the inbox key writes it: UTC, to the microsecond. */
  key_at: string;
  failed_at: Date;
  schema_name: string;
  table_name: string;
  operation: string;
  new_row: Row | null;
  old_row: Row | null;
  attempts: number;
}

/** Why a row cannot be delivered (yet): recorded on the row in place of the trigger's error. */
export interface Problem {
  sqlstate: string | null;
  message: string;
  detail: string | null;
  context: string | null;
}

/** A row and what retry does (or would do) with it: deliver it, or keep it for `problem`. */
export interface RetryItem {
  id: number;
  failedAt: Date;
  schema: string;
  table: string;
  operation: string;
  problem?: Problem;
}

export interface RetryResult {
  /** Rows delivered into the inbox and removed from failed_events. */
  delivered: number;
  /** Of them, events the inbox did not hold yet (a run cut short after its insert stores none again). */
  stored: number;
  /** Rows left in failed_events, each with why. */
  kept: RetryItem[];
}

export interface RetryOptions {
  source: postgres.Sql;
  /** The engine store; the same Sql as `source` when it is the source database. */
  engine: postgres.Sql;
  route: Router;
  /** Rows per transaction (default 500). */
  batch?: number;
  /** After each batch: the counts so far. */
  onBatch?: (soFar: RetryResult) => void;
}

/** The inbox key of a failed_events row: the same on every run, never another row's. */
export const retryKey = (row: Pick<FailedRow, 'id' | 'key_at'>): string =>
  `failed:${row.id}:${row.key_at}`;

/** Delivers every row a capture trigger could not capture that can be delivered now; see the top of the file. */
export async function retryFailures(options: RetryOptions): Promise<RetryResult> {
  const { source, engine, route } = options;
  const batch = options.batch ?? 500;
  const result: RetryResult = { delivered: 0, stored: 0, kept: [] };
  // Within one run each row is tried once: a kept row is not taken again.
  // Rows another run held locked when this one passed them (SKIP LOCKED)
  // are below its cursor; held rows can be more than the other run's batch
  // (two reads at once measured it: one read 1,10,11,12, the other 2..5,
  // then 6..9). So a pass that ends starts again from the first row, and
  // the run ends only when a pass from the start finds nothing it has not
  // tried: what it still skips is held by a run that sweeps after it.
  const tried: number[] = [];
  let after = 0;
  for (;;) {
    const step = await source.begin(async (tx) => {
      const rows = await readRows(tx, after, batch, true, tried);
      if (rows.length === 0) return undefined;
      const prepared = await prepare(tx, rows);
      const events = prepared.flatMap((p) => (p.event ? [p.event] : []));
      const kept = prepared.filter((p) => p.problem);
      const stored = await insertInbox(source === engine ? tx : engine, events, route);
      if (events.length > 0) {
        const ids = prepared.filter((p) => p.event).map((p) => p.row.id);
        await tx`delete from nudge.failed_events where id = any(${ids}::bigint[])`;
      }
      if (kept.length > 0) await recordProblems(tx, kept);
      return { last: rows.at(-1)!.id, events, stored, kept };
    });
    if (!step) {
      if (after === 0) break;
      after = 0;
      continue;
    }
    result.delivered += step.events.length;
    result.stored += step.stored;
    result.kept.push(...step.kept.map((p) => itemOf(p.row, p.problem)));
    tried.push(...step.kept.map((p) => p.row.id));
    options.onBatch?.(result);
    after = step.last;
  }
  return result;
}

/**
 * What retryFailures would do now, row by row, changing nothing, in a
 * read-only transaction (a read-only session is enough): each row with the
 * problem that would keep it, if any. Enrichment is tried for real
 * (nudge.enrich only reads). In a transaction because a batch's enrichment
 * that fails partway is then rolled back to a savepoint before each row is
 * tried alone (enrich, below); outside one, postgres.js 3.4 hands the next
 * statement on that connection a result with holes where the failed one's
 * first rows were (porsager/postgres#1119).
 */
export async function previewFailures(sql: postgres.Sql, batch = 500): Promise<RetryItem[]> {
  return (await sql.begin('read only', async (tx) => {
    const items: RetryItem[] = [];
    let after = 0;
    for (;;) {
      const rows = await readRows(tx, after, batch, false);
      for (const p of await prepare(tx, rows)) items.push(itemOf(p.row, p.problem));
      if (rows.length < batch) return items;
      after = rows.at(-1)!.id;
    }
  })) as RetryItem[];
}

/** Rows of stage 'capture' not resolved, after id `after` and not in `tried`, in id order; locked when `lock`. */
async function readRows(db: Db, after: number, limit: number, lock: boolean, tried: number[] = []) {
  const rows = await db<(Omit<FailedRow, 'id'> & { id: string })[]>`
    select id::text as id,
           to_char(failed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as key_at,
           failed_at, schema_name, table_name, operation, new_row, old_row, attempts
      from nudge.failed_events
     where stage = 'capture' and resolved_at is null and id > ${after}
       and id <> all(${tried}::bigint[])
     order by id
     limit ${limit}
     ${lock ? db`for update skip locked` : db``}`;
  return rows.map((row): FailedRow => ({ ...row, id: Number(row.id) }));
}

interface Prepared {
  row: FailedRow;
  event?: InboxEvent;
  problem?: Problem;
}

const OPERATIONS: readonly string[] = ['insert', 'update', 'delete'] satisfies Operation[];

/** Each row as the event it becomes, or the problem that keeps it. */
async function prepare(db: Db, rows: FailedRow[]): Promise<Prepared[]> {
  if (rows.length === 0) return [];
  // Enriched as the trigger would have: only the captures whose deployed
  // function calls nudge.enrich (enrichment_map is per table, and a table's
  // other operations may capture without it).
  const captures = await db<{ schema_name: string; table_name: string; operation: string }[]>`
    select n.nspname as schema_name, c.relname as table_name,
           substr(t.tgname, length('nudge_capture_') + 1) as operation
      from pg_trigger t
      join pg_class c on c.oid = t.tgrelid
      join pg_namespace n on n.oid = c.relnamespace
      join pg_proc p on p.oid = t.tgfoid
     where t.tgname in (${triggerNameFor('insert')}, ${triggerNameFor('update')}, ${triggerNameFor('delete')})
       and p.prosrc like '%nudge.enrich(%'`;
  const enriching = new Set(
    captures.map((m) => JSON.stringify([m.schema_name, m.table_name, m.operation])),
  );
  const prepared: Prepared[] = rows.map((row) => {
    const problem = unusable(row);
    return problem ? { row, problem } : { row };
  });
  const toEnrich = prepared.filter(
    (p) =>
      !p.problem &&
      enriching.has(JSON.stringify([p.row.schema_name, p.row.table_name, p.row.operation])),
  );
  const enrichments = await enrich(db, toEnrich);
  for (const p of prepared) {
    if (p.problem) continue;
    const found = enrichments.get(p.row.id);
    if (found && 'problem' in found) {
      p.problem = found.problem;
      continue;
    }
    p.event = {
      source: 'outbox',
      sourceKey: retryKey(p.row),
      schema: p.row.schema_name,
      table: p.row.table_name,
      operation: p.row.operation as Operation,
      newRow: p.row.new_row,
      oldRow: p.row.old_row,
      enrichment: found ? found.enrichment : null,
      occurredAt: p.row.failed_at,
    };
  }
  return prepared;
}

/** A row with nothing an engine can take: an unknown operation, or no row recorded to deliver. */
function unusable(row: FailedRow): Problem | undefined {
  const said = (message: string): Problem => ({
    sqlstate: null,
    message,
    detail: null,
    context: 'nudge capture retry',
  });
  if (!OPERATIONS.includes(row.operation)) {
    return said(
      `cannot be delivered: operation "${row.operation}" is not insert, update or delete`,
    );
  }
  const needed = row.operation === 'delete' ? row.old_row : row.new_row;
  if (!needed || typeof needed !== 'object') {
    const which = row.operation === 'delete' ? 'old_row' : 'new_row';
    return said(`cannot be delivered: no ${which} was recorded with this failure`);
  }
  return undefined;
}

type Enriched = { enrichment: unknown } | { problem: Problem };

/**
 * nudge.enrich on each row, as the trigger called it: all in one statement,
 * and when that fails, one row at a time (in a savepoint inside a
 * transaction), so one row that still fails keeps only itself back.
 */
async function enrich(db: Db, rows: Prepared[]): Promise<Map<number, Enriched>> {
  const found = new Map<number, Enriched>();
  if (rows.length === 0) return found;
  type Found = { id: string; enrichment: unknown }[];
  const select = async (q: Db, ids: number[]): Promise<Found> => [
    ...(await q<Found>`
      select f.id::text as id,
             nudge.enrich(f.schema_name, f.table_name,
                          (case when f.operation = 'delete' then f.old_row else f.new_row end)::json
                         )::jsonb as enrichment
        from nudge.failed_events as f
       where f.id = any(${ids}::bigint[])`),
  ];
  // In a transaction, a savepoint: a statement that fails must not end it.
  const attempt = (ids: number[]): Promise<Found> =>
    'savepoint' in db ? db.savepoint((sp) => select(sp, ids)) : select(db, ids);
  const keep = (result: Found) => {
    for (const r of result) found.set(Number(r.id), { enrichment: r.enrichment });
  };
  try {
    keep(await attempt(rows.map((p) => p.row.id)));
    return found;
  } catch (error) {
    if (!(error instanceof postgres.PostgresError)) throw error;
  }
  for (const p of rows) {
    try {
      keep(await attempt([p.row.id]));
    } catch (error) {
      if (!(error instanceof postgres.PostgresError)) throw error;
      found.set(p.row.id, { problem: enrichmentProblem(error) });
    }
  }
  return found;
}

function enrichmentProblem(error: postgres.PostgresError): Problem {
  return {
    sqlstate: error.code ?? null,
    message: error.message,
    detail: error.detail ?? null,
    context: ['nudge capture retry: nudge.enrich on the recorded row', error.where]
      .filter(Boolean)
      .join('\n'),
  };
}

/** Kept rows: the problem in place of the error they had, one more attempt counted. */
async function recordProblems(tx: postgres.TransactionSql, kept: Prepared[]): Promise<void> {
  const problems = kept.map((p) => ({ id: p.row.id, ...p.problem! }));
  await tx`
    update nudge.failed_events as f
       set attempts = f.attempts + 1, sqlstate = k.sqlstate, message = k.message,
           detail = k.detail, context = k.context
      from ${records(tx, problems, 'id bigint, sqlstate text, message text, detail text, context text', 'k')}
     where f.id = k.id`;
}

function itemOf(row: FailedRow, problem: Problem | undefined): RetryItem {
  return {
    id: row.id,
    failedAt: row.failed_at,
    schema: row.schema_name,
    table: row.table_name,
    operation: row.operation,
    ...(problem ? { problem } : {}),
  };
}
