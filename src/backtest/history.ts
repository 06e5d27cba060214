// The past a backtest replays, from two sources, merged in time order:
//
// - kept events: the inbox rows engine.retention.ingest_log keeps after they
//   are processed (and any not processed yet), read in id order — the order
//   the engine processed them in — between the ids of the window's first and
//   last receipt, so the primary key serves the read and nothing is sorted;
// - rows: for a table the feature triggers on by insert, the part of the
//   window before the table's oldest kept event of an operation the feature
//   triggers on (all of it when none is kept; never past the window's end)
//   comes from the table itself, each row an insert at its creation
//   timestamp column (created_at, inserted_at, ...), as the row is now.
//
// Each insert comes from one source. A row whose insert is a kept event —
// inserted after capture began, with a creation column set to an earlier
// time (an import, a backdated order) — is read from kept events only, at the
// time it was captured: rows stand only for what capture never saw.
//
// A kept event holds the columns the features deployed when it was captured
// read; one the backtested feature reads that it lacks is taken from a later
// kept change of the same row, else read from the table by primary key, as
// the row is now (withColumns), and what cannot be (a row deleted since, an
// old row's values) is said in the report.
//
// A value read from the table is today's, not the event's. Where the inbox
// keeps a later change of the same row whose old row holds it, that past
// value is read instead (pastValues; the table's kept changes are read once
// per backtest, keptChanges); the rest are counted, per place, as
// todaysValues, which the report shows with the events they touched.
//
// Only the events the feature triggers on are read (its table and
// operations, or its event), unless its journeys wait on other events. A
// scheduled feature reads the runs the engine kept (schedule:<feature>
// events); its query is not run again at simulated times, and a window with
// no kept run says so. Every event says which source it came from, so the
// report can too.
//
// Where Nudge never ran (no engine store: `engine` null), nothing was kept:
// kept history starts at the window's end, so the table's rows cover the
// whole window, none of them captured, and the store is not queried.
import type postgres from 'postgres';
import {
  type ColumnReads,
  capturable,
  columnOf,
  type ExcludedColumns,
  rowJson,
} from '../capture/columns.js';
import { canonicalEventName, namedEvent } from '../capture/named-events.js';
import type { Operation } from '../capture/triggers.js';
import { ident } from '../db/quote.js';
import type { InboxRow } from '../engine/intake/inbox.js';
import type { Feature } from '../features/load.js';
import type { Catalog, Table } from '../source/catalog.js';
import { formatTableName, type TableName } from '../source/names.js';

export type HistorySource = 'kept events' | 'rows';

export interface PastEvent extends InboxRow {
  from: HistorySource;
  /**
   * The columns of new_row that hold the row's value of today, not the
   * event's (a row rebuilt from the table, before withPastValues gives it
   * the past values kept changes know); unset when every value is the
   * event's own.
   */
  todays?: string[];
}

/** A place where a backtest read today's value instead of the event's, and for how many events. */
export interface TodaysValue {
  /** What was read as it is today, in words. */
  what: string;
  /** The events whose values (and so whose verdicts) it touched. */
  events: number;
}

/** Where each table's part of the window comes from, for the report. */
export interface SourcePlan {
  table: string;
  source: HistorySource;
  from: Date;
  to: Date;
  /** For rows: the creation column the inserts are dated by. */
  column?: string;
}

export interface History {
  plans: SourcePlan[];
  /**
   * What could not be read, in words (a table with neither source, a column
   * kept events lack). Lines about columns are added as the events are
   * read: complete once they all have been.
   */
  gaps: string[];
  /** What was read other than it was at the time (columns read from rows as they are now), likewise. */
  simplifications: string[];
  /** Each place an event's row holds today's values, counted; complete once every event has been read. */
  todaysValues: TodaysValue[];
  /** The events in time order, a page at a time. */
  events: AsyncIterable<PastEvent[]>;
}

/** Creation timestamp columns, in the order they are looked for. */
const CREATION_COLUMNS = ['created_at', 'inserted_at', 'createdAt', 'created', 'creation_date'];
const PAGE = 5000;

/** The table a feature's trigger reads, when it has one, and the operations it triggers on. */
function triggerTable(feature: Feature): { table: TableName; operations: Operation[] } | undefined {
  const trigger = feature.trigger;
  if (trigger.kind === 'event') {
    const named = namedEvent(trigger.event);
    return named ? { table: named.table, operations: [named.operation] } : undefined;
  }
  if (trigger.kind === 'schedule') return undefined;
  return { table: trigger.table, operations: [...trigger.operations] };
}

export async function readHistory(options: {
  /** The engine store; null where Nudge never ran (no schema nudge_engine): no event was kept. */
  engine: postgres.Sql | null;
  source: postgres.Sql;
  catalog: Catalog;
  feature: Feature;
  from: Date;
  to: Date;
  /** Read every kept event (journeys that wait on other events), not only the trigger's. */
  allEvents: boolean;
  exclude?: ExcludedColumns;
  /**
   * The columns of its trigger's rows the feature reads (features/reads.ts):
   * kept events lacking some (captured for the features deployed then) get
   * them from later kept changes, else from the table. Not given: kept events
   * are read as they are.
   */
  reads?: ColumnReads;
}): Promise<History> {
  const { engine, feature, from, to } = options;
  const plans: SourcePlan[] = [];
  const gaps: string[] = [];
  const simplifications: string[] = [];
  const todaysValues: TodaysValue[] = [];
  const trigger = triggerTable(feature);
  const table = trigger && options.catalog.get(trigger.table);
  // The columns of its rows the feature reads: a value of today matters there only.
  const wanted = table
    ? readColumns(table, options.reads ?? { all: 'not said' }, options.exclude)
    : [];
  const names = eventNames(feature);
  // The table's kept changes, read once, when an event first needs a past value.
  let changes: Promise<KeptChanges> | undefined;
  const keptChangesOnce =
    engine && table?.primaryKey.length
      ? () => {
          changes ??= keptChanges(engine, table, wanted, from);
          return changes;
        }
      : undefined;

  let rows: AsyncIterable<PastEvent[]> | undefined;
  if (trigger) {
    const name = formatTableName(trigger.table);
    // Retention deletes by receipt time: the oldest receipt of an event the
    // feature triggers on is where its kept history starts (an update kept
    // for another feature says nothing of when inserts began to be kept).
    const [oldest] = engine
      ? await engine<{ occurred_at: Date }[]>`
          select occurred_at from nudge_engine.inbox
           where schema_name = ${trigger.table.schema} and table_name = ${trigger.table.table}
             and operation = any(${trigger.operations}::text[])
           order by received_at limit 1`
      : [];
    const keptFrom = oldest ? within(oldest.occurred_at, from, to) : to;
    if (keptFrom > from) {
      const column = table && creationColumn(table);
      // Past rows stand only for inserts.
      if (!trigger.operations.includes('insert')) {
        gaps.push(
          `${name}: no kept events before ${keptFrom.toISOString()}, and ${trigger.operations[0]}s cannot be rebuilt from rows`,
        );
      } else if (!table || !column) {
        gaps.push(
          `${name}: no kept events before ${keptFrom.toISOString()}, and no creation timestamp column (${CREATION_COLUMNS.join(', ')}) to rebuild inserts from`,
        );
      } else {
        plans.push({ table: name, source: 'rows', from, to: keptFrom, column });
        // No store: no insert was captured.
        const captured = engine
          ? await keptInsertKeys(engine, table, column, from, keptFrom)
          : new Set<string>();
        rows = withPastValues(
          tableRows(
            options.source,
            table,
            column,
            from,
            keptFrom,
            captured,
            options.exclude,
            wanted,
          ),
          keptChangesOnce,
          table,
          `${name}: inserts rebuilt from the rows (new.* as the rows are now)`,
          simplifications,
          todaysValues,
        );
      }
    }
    if (keptFrom < to) plans.push({ table: name, source: 'kept events', from: keptFrom, to });
  } else if (feature.trigger.kind === 'schedule') {
    // A schedule's runs are kept as schedule:<feature> events; the segment is
    // not run again at simulated times.
    const event = `schedule:${feature.name}`;
    const [oldest] = engine
      ? await engine<{ occurred_at: Date }[]>`
          select occurred_at from nudge_engine.inbox where event_name = ${event}
           order by received_at limit 1`
      : [];
    const keptFrom = oldest ? within(oldest.occurred_at, from, to) : to;
    if (keptFrom > from) {
      const why = engine
        ? 'it was not deployed active then, or retention dropped its runs'
        : 'Nudge has not run here yet';
      gaps.push(
        `${event}: ${oldest && keptFrom < to ? `no kept run of the schedule before ${keptFrom.toISOString()}` : 'no kept run of the schedule in the window'} (${why}); a backtest replays the runs the engine made and kept, and does not run the schedule's query at simulated times`,
      );
    }
    if (keptFrom < to) plans.push({ table: event, source: 'kept events', from: keptFrom, to });
  } else if (engine) {
    plans.push({ table: names[0] ?? feature.name, source: 'kept events', from, to });
  } else {
    // An event no table holds reaches Nudge only through its inbox.
    gaps.push(
      `${names[0] ?? feature.name}: no kept events (Nudge has not run here yet), and the event is held in no table to read instead`,
    );
  }
  let kept = engine
    ? keptEvents(engine, from, to, options.allEvents ? undefined : { trigger, names })
    : nothing();
  if (table && options.reads && wanted.length) {
    kept = withColumns(kept, {
      source: options.source,
      keptChanges: keptChangesOnce,
      table,
      wanted,
      operations: trigger.operations,
      simplifications,
      gaps,
      todaysValues,
    });
  }
  return {
    plans,
    gaps,
    simplifications,
    todaysValues,
    events: rows ? mergeByTime(rows, kept) : kept,
  };
}

/** No events: where Nudge never ran, none were kept. */
async function* nothing(): AsyncIterable<PastEvent[]> {}

/** `time`, or the window's edge it is past. */
function within(time: Date, from: Date, to: Date): Date {
  return new Date(Math.min(Math.max(time.getTime(), from.getTime()), to.getTime()));
}

/** Event names the feature's kept events may carry. */
function eventNames(feature: Feature): string[] {
  const names = [`schedule:${feature.name}`, `backfill:${feature.name}`];
  if (feature.trigger.kind === 'event') {
    names.unshift(feature.trigger.event, canonicalEventName(feature.trigger.event));
  }
  return [...new Set(names)];
}

function creationColumn(table: Table): string | undefined {
  for (const name of CREATION_COLUMNS) {
    const column = table.columns.find((c) => c.name === name);
    if (column && /^(timestamptz|timestamp|date)$/.test(column.typeName)) return name;
  }
  return undefined;
}

async function* keptEvents(
  engine: postgres.Sql,
  from: Date,
  to: Date,
  only?: { trigger: { table: TableName; operations: Operation[] } | undefined; names: string[] },
): AsyncIterable<PastEvent[]> {
  // The window as an id range: received_at has an index, and ids grow with it.
  const [range] = await engine<{ first: string | null; last: string | null }[]>`
    select (select id from nudge_engine.inbox where received_at >= ${from} order by received_at, id limit 1) as first,
           (select id from nudge_engine.inbox where received_at < ${to} order by received_at desc, id desc limit 1) as last`;
  if (!range?.first || !range.last) return;
  const filter = only
    ? engine`and (${
        only.trigger
          ? engine`(schema_name = ${only.trigger.table.schema} and table_name = ${only.trigger.table.table}
                    and operation = any(${only.trigger.operations}::text[])) or`
          : engine``
      } event_name = any(${only.names}::text[]))`
    : engine``;
  const last = BigInt(range.last);
  // Pages are id ranges of PAGE ids, not "the next PAGE rows that pass the
  // filter": with a limit, the planner may judge the filter selective and
  // scan and sort the rest of the window for every page (it did at 1M
  // events); a bounded id range is always an index range scan. Ordered by
  // the column, not the select list's int alias, which would sort.
  //
  // Rows come as arrays (`values()`), which postgres.js builds faster than
  // objects, and occurred_at as milliseconds since the epoch, which it reads
  // faster than a timestamp's text: at a million events both showed in a
  // profile. The milliseconds are those the text would give a Date
  // (truncated); round() keeps them exact where extract() answers a float
  // (PostgreSQL before 14).
  const read = async (after: bigint) => {
    const rows = await engine`
      select id::float8 as id, source, schema_name, table_name, operation, event_name, new_row, old_row, enrichment,
             round(extract(epoch from date_trunc('milliseconds', occurred_at)) * 1000)::float8
        from nudge_engine.inbox
       where id > ${after.toString()} and id <= ${min(after + BigInt(PAGE), last).toString()}
         and occurred_at >= ${from} and occurred_at < ${to} ${filter}
       order by inbox.id`
      .values()
      .execute();
    return (rows as unknown as KeptRow[]).map(keptEvent);
  };
  // The next page is asked for before this one is replayed, so the database
  // reads it meanwhile.
  let after = BigInt(range.first) - 1n;
  let pending = read(after);
  while (after < last) {
    const page = await pending;
    after += BigInt(PAGE);
    if (after < last) pending = read(after);
    if (page.length > 0) yield page;
  }
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);

/** A kept inbox row as keptEvents reads it. */
type KeptRow = [
  id: number,
  source: string,
  schema: string | null,
  table: string | null,
  operation: Operation | null,
  eventName: string | null,
  newRow: InboxRow['new_row'],
  oldRow: InboxRow['old_row'],
  enrichment: unknown,
  occurredMs: number,
];

function keptEvent(row: KeptRow): PastEvent {
  const [id, source, schema, table, operation, eventName, newRow, oldRow, enrichment, ms] = row;
  return {
    id,
    from: 'kept events',
    source,
    schema_name: schema,
    table_name: table,
    operation,
    event_name: eventName,
    new_row: newRow,
    old_row: oldRow,
    enrichment,
    occurred_at: new Date(ms),
  };
}

/**
 * The primary keys (as JSON arrays of their values) of the rows whose insert
 * is a kept event: those rows come from kept events, not from the table.
 * Where the kept row holds the creation column, only the ones dated inside
 * the rows' part of the window (give or take a day: a time without zone is
 * read in either session's zone) are asked for; the rest cannot be among the
 * rows read. A key the capture left out (capture.exclude_columns) matches
 * nothing.
 */
async function keptInsertKeys(
  engine: postgres.Sql,
  table: Table,
  column: string,
  from: Date,
  to: Date,
): Promise<Set<string>> {
  const keys = await engine<{ key: unknown[] }[]>`
    select (select jsonb_agg(new_row -> k order by n)
              from unnest(${table.primaryKey}::text[]) with ordinality as pk(k, n)) as key
      from nudge_engine.inbox
     where schema_name = ${table.schema} and table_name = ${table.table} and operation = 'insert'
       and new_row is not null
       and case when jsonb_typeof(new_row -> ${column}::text) = 'string'
                then (new_row ->> ${column}::text)::timestamptz >= ${from}::timestamptz - interval '1 day'
                 and (new_row ->> ${column}::text)::timestamptz < ${to}::timestamptz + interval '1 day'
                else true end`;
  return new Set(keys.map((row) => JSON.stringify(row.key)));
}

/** A row's primary key as keptInsertKeys writes it. */
function keyOf(row: Record<string, unknown>, primaryKey: readonly string[]): string {
  return JSON.stringify(primaryKey.map((name) => row[name] ?? null));
}

async function* tableRows(
  source: postgres.Sql,
  table: Table,
  column: string,
  from: Date,
  to: Date,
  captured: Set<string>,
  exclude: ExcludedColumns | undefined,
  /** The columns the feature reads: their values are today's. */
  todays: string[],
): AsyncIterable<PastEvent[]> {
  const columns = capturable(
    table,
    table.columns.map((c) => c.name),
    exclude,
  );
  const at = columnOf('t')(column);
  const order = [at, ...table.primaryKey.map(columnOf('t'))].join(', ');
  const text = `SELECT ${rowJson(columnOf('t'), columns)} AS row, ${at}::timestamptz AS at
                  FROM ${ident(table.schema, table.table)} AS t
                 WHERE ${at} >= $1::timestamptz AND ${at} < $2::timestamptz ORDER BY ${order}`;
  let n = 0;
  for await (const page of source
    .unsafe<{ row: Record<string, unknown>; at: Date }[]>(text, [from, to] as never[])
    .cursor(PAGE)) {
    const uncaptured = captured.size
      ? page.filter(({ row }) => !captured.has(keyOf(row, table.primaryKey)))
      : page;
    if (uncaptured.length === 0) continue;
    yield uncaptured.map(({ row, at: occurred }) => ({
      id: -++n,
      source: 'rows',
      schema_name: table.schema,
      table_name: table.table,
      operation: 'insert' as const,
      event_name: null,
      new_row: row,
      old_row: null,
      enrichment: null,
      occurred_at: occurred,
      from: 'rows' as const,
      todays,
    }));
  }
}

/** The columns of `table` the feature reads that capture may copy: every one when it reads them all. */
function readColumns(table: Table, reads: ColumnReads, exclude?: ExcludedColumns): string[] {
  const names = table.columns.map((c) => c.name);
  const read = 'all' in reads ? names : names.filter((name) => reads.columns.includes(name));
  return capturable(table, read, exclude);
}

/**
 * Kept events of `table` given the columns the feature reads that they lack
 * — a capture copies what the features deployed at the time read, and a new
 * or edited feature may read others. Each comes first from a later kept
 * change of the same row (pastValues); the rest from the table, by primary
 * key, as the rows are now (read-only), counted in todaysValues. A row
 * deleted since whose delete was not kept with the column cannot give it,
 * nor can an update's or a delete's old row (its values are gone): the
 * report says which columns stayed unknown, and for how many events.
 */
async function* withColumns(
  pages: AsyncIterable<PastEvent[]>,
  options: {
    source: postgres.Sql;
    /** The table's kept changes; undefined when there is no store or no primary key to match by. */
    keptChanges: (() => Promise<KeptChanges>) | undefined;
    table: Table;
    wanted: string[];
    operations: readonly Operation[];
    simplifications: string[];
    gaps: string[];
    todaysValues: TodaysValue[];
  },
): AsyncIterable<PastEvent[]> {
  const { table, wanted, operations } = options;
  const past = new PastTally();
  const todays = { events: 0 };
  const gone = { events: 0, columns: new Set<string>() };
  const old = { events: 0, columns: new Set<string>() };
  const count = (tally: typeof gone, columns: string[]) => {
    tally.events++;
    for (const column of columns) tally.columns.add(column);
  };
  for await (const page of pages) {
    let lacking: { event: PastEvent; columns: string[] }[] = [];
    for (const event of page) {
      if (event.schema_name !== table.schema || event.table_name !== table.table) continue;
      const { new_row: row, old_row: oldRow } = event;
      const missing = row && lackedBy(row, wanted);
      if (missing) lacking.push({ event, columns: missing });
      // Old values matter only to the events the feature triggers on.
      if (oldRow && event.operation && operations.includes(event.operation)) {
        const oldMissing = lackedBy(oldRow, wanted);
        if (oldMissing) count(old, oldMissing);
      }
    }
    if (lacking.length && options.keptChanges) {
      const changes = await options.keptChanges();
      lacking = lacking.flatMap(({ event, columns }) => {
        const rest = pastValues(event, columns, table, changes, past);
        return rest.length ? [{ event, columns: rest }] : [];
      });
    }
    if (lacking.length) {
      const columns = [...new Set(lacking.flatMap((l) => l.columns))];
      const now = await rowsNow(
        options.source,
        table,
        columns,
        lacking.map((l) => l.event.new_row!),
      );
      for (const { event, columns: missing } of lacking) {
        const found = now.get(keyOf(event.new_row!, table.primaryKey));
        if (!found) {
          count(gone, missing);
          continue;
        }
        event.new_row = {
          ...event.new_row,
          ...Object.fromEntries(missing.map((column) => [column, found[column] ?? null])),
        };
        todays.events++;
      }
    }
    yield page;
  }
  const name = formatTableName(table);
  past.report(name, options.simplifications);
  if (todays.events) {
    options.todaysValues.push({
      what: `${name}: columns kept events lacked, read from the rows as they are now`,
      events: todays.events,
    });
  }
  const list = (columns: Set<string>) => [...columns].sort().join(', ');
  const events = (n: number) => `${n} kept event${n === 1 ? '' : 's'}`;
  if (gone.events) {
    options.gaps.push(
      `${name}: ${list(gone.columns)} unknown for ${events(gone.events)} (not kept with them, and ${table.primaryKey.length ? 'their rows are deleted since' : 'the table has no primary key to find their rows by'}): conditions and templates on them read nothing there`,
    );
  }
  if (old.events) {
    options.gaps.push(
      `${name}: old values of ${list(old.columns)} unknown for ${events(old.events)} (not kept with them, and rows hold only today's values): old.* on them reads nothing there`,
    );
  }
}

/**
 * Rows rebuilt from the table (`todays`: every column the feature reads is
 * today's) given the past values kept changes know (pastValues). The rest
 * stay today's, counted as `what` in todaysValues.
 */
async function* withPastValues(
  pages: AsyncIterable<PastEvent[]>,
  keptChanges: (() => Promise<KeptChanges>) | undefined,
  table: Table,
  what: string,
  simplifications: string[],
  todaysValues: TodaysValue[],
): AsyncIterable<PastEvent[]> {
  const past = new PastTally();
  let todays = 0;
  for await (const page of pages) {
    const marked = page.filter((e) => e.todays?.length && e.new_row);
    if (marked.length && keptChanges) {
      const changes = await keptChanges();
      for (const event of marked) {
        event.todays = pastValues(event, event.todays!, table, changes, past);
      }
    }
    for (const event of marked) if (event.todays!.length) todays++;
    yield page;
  }
  past.report(formatTableName(table), simplifications);
  if (todays) todaysValues.push({ what, events: todays });
}

/**
 * The kept updates and deletes of a table's rows with their old rows (cut to
 * the columns the feature reads), by primary key (keyOf), each row's in the
 * order they occurred.
 */
type KeptChanges = Map<string, { at: number; old: Record<string, unknown> }[]>;

/**
 * Every kept update and delete of `table` after `after` that has an old row:
 * one read per backtest, however many events need a past value. The key is
 * made in SQL, as keptInsertKeys makes it, so it compares with keyOf.
 */
async function keptChanges(
  engine: postgres.Sql,
  table: Table,
  wanted: string[],
  after: Date,
): Promise<KeptChanges> {
  const rows = await engine<{ key: unknown[]; at: Date; old: Record<string, unknown> }[]>`
    select (select jsonb_agg(old_row -> k order by n)
              from unnest(${table.primaryKey}::text[]) with ordinality as pk(k, n)) as key,
           occurred_at as at,
           (select coalesce(jsonb_object_agg(c.key, c.value), '{}')
              from jsonb_each(old_row) as c where c.key = any(${wanted}::text[])) as old
      from nudge_engine.inbox
     where schema_name = ${table.schema} and table_name = ${table.table}
       and operation in ('update', 'delete') and old_row is not null
       and occurred_at > ${after}
     order by occurred_at, id`;
  const byKey: KeptChanges = new Map();
  for (const row of rows) {
    const key = JSON.stringify(row.key);
    const list = byKey.get(key) ?? [];
    list.push({ at: row.at.getTime(), old: row.old });
    byKey.set(key, list);
  }
  return byKey;
}

/**
 * The event's row given, for each of `columns`, the old row's value of the
 * first kept update or delete of the same row after the event that holds it.
 * That is the value the row had just before that change, which the row had
 * at the event unless an earlier change went uncaptured: never further from
 * it than today's. Returns the columns no kept change knows.
 */
function pastValues(
  event: PastEvent,
  columns: string[],
  table: Table,
  changes: KeptChanges,
  tally: PastTally,
): string[] {
  const olds = changes.get(keyOf(event.new_row!, table.primaryKey));
  if (!olds) return columns;
  const at = event.occurred_at.getTime();
  const past: Record<string, unknown> = {};
  const rest: string[] = [];
  for (const column of columns) {
    const change = olds.find((o) => o.at > at && column in o.old);
    if (change) past[column] = change.old[column];
    else rest.push(column);
  }
  if (rest.length < columns.length) {
    event.new_row = { ...event.new_row, ...past };
    tally.add(Object.keys(past));
  }
  return rest;
}

/** The events that took past values from kept changes, and which columns, for the report. */
class PastTally {
  private events = 0;
  private readonly columns = new Set<string>();
  add(columns: string[]): void {
    this.events++;
    for (const column of columns) this.columns.add(column);
  }
  report(table: string, simplifications: string[]): void {
    if (this.events === 0) return;
    simplifications.push(
      `${table}: ${this.events} event${this.events === 1 ? '' : 's'} took ${[...this.columns].sort().join(', ')} from the old row of the first kept change of their row after them (the value just before it), not from today's row`,
    );
  }
}

/** The columns a row does not hold, or undefined when it holds them all (most rows: nothing made). */
function lackedBy(row: Record<string, unknown>, columns: string[]): string[] | undefined {
  let missing: string[] | undefined;
  for (const column of columns) {
    if (column in row) continue;
    missing ??= [];
    missing.push(column);
  }
  return missing;
}

/**
 * The rows of `table` that these rows name by primary key, as they are now:
 * their primary key and `columns`, by keyOf. One query, joined on the key
 * through its index.
 */
async function rowsNow(
  source: postgres.Sql,
  table: Table,
  columns: string[],
  rows: Record<string, unknown>[],
): Promise<Map<string, Record<string, unknown>>> {
  const primaryKey = table.primaryKey;
  const keys = new Map<string, Record<string, string>>();
  for (const row of rows) {
    if (primaryKey.length === 0 || primaryKey.some((c) => row[c] === null || row[c] === undefined))
      continue;
    keys.set(
      keyOf(row, primaryKey),
      Object.fromEntries(primaryKey.map((c, i) => [`k${i}`, keyText(row[c])])),
    );
  }
  if (keys.size === 0) return new Map();
  const on = primaryKey.map((name, i) => {
    const type = table.columns.find((c) => c.name === name)!.type;
    return `t.${ident(name)} = k.k${i}::${type}`;
  });
  const text = `SELECT ${rowJson(columnOf('t'), [...new Set([...primaryKey, ...columns])])} AS row
                  FROM (SELECT * FROM json_to_recordset($1::text::json) AS x(${primaryKey.map((_, i) => `k${i} text`).join(', ')})
                         LIMIT ${keys.size}) AS k
                  JOIN ${ident(table.schema, table.table)} AS t ON ${on.join(' AND ')}`;
  const found = await source.unsafe<{ row: Record<string, unknown> }[]>(text, [
    JSON.stringify([...keys.values()]),
  ]);
  return new Map(found.map(({ row }) => [keyOf(row, primaryKey), row]));
}

/** A key's value from a JSON row as text, which its column's type reads back. */
function keyText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Two streams of pages, each in time order, as one, in pages of PAGE events.
 * Events are compared one by one, but the merge waits only when one side's
 * page runs out: a million events must not cost a million awaits.
 */
async function* mergeByTime(
  a: AsyncIterable<PastEvent[]>,
  b: AsyncIterable<PastEvent[]>,
): AsyncIterable<PastEvent[]> {
  const left = cursorOf(a);
  const right = cursorOf(b);
  await Promise.all([left.fill(), right.fill()]);
  let page: PastEvent[] = [];
  while (left.head || right.head) {
    const x = left.head;
    const y = right.head;
    const first = !y || (x && x.occurred_at <= y.occurred_at) ? left : right;
    page.push(first.head!);
    if (!first.advance()) await first.fill();
    if (page.length >= PAGE) {
      yield page;
      page = [];
    }
  }
  if (page.length) yield page;
}

/** Item by item over a stream of pages. */
function cursorOf(pages: AsyncIterable<PastEvent[]>) {
  const iterator = pages[Symbol.asyncIterator]();
  let page: PastEvent[] = [];
  let at = 0;
  const cursor = {
    head: undefined as PastEvent | undefined,
    /** Reads pages until one has an event (head), or the stream ends (no head). */
    async fill() {
      while (at >= page.length) {
        const next = await iterator.next();
        if (next.done) {
          cursor.head = undefined;
          return;
        }
        page = next.value;
        at = 0;
      }
      cursor.head = page[at];
    },
    /** Moves to the next event of this page; false when the page has no more (then fill). */
    advance(): boolean {
      at++;
      if (at >= page.length) return false;
      cursor.head = page[at];
      return true;
    },
  };
  return cursor;
}
