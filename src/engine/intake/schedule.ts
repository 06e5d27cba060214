// Scheduled features (trigger.schedule): once per window (`every`), the
// feature's condition runs as parameterized SQL against the user's table, and
// every matching row is put in the inbox as an event for that feature — so
// entry rules, cooldowns, decisions and ordering are those of any event. The
// window is claimed with a row in schedule_runs, so it runs once even with
// several workers and across restarts. A run that stopped halfway (the
// process died) is claimed again once it has made no progress for
// SCHEDULE_STALE_MS; inbox keys make the rows it already entered harmless.
// The rows entered carry the table's capturable columns only (capture/columns.ts):
// a schedule over auth.users never copies a password hash.
import type postgres from 'postgres';
import { capturable, columnOf, type ExcludedColumns, rowJson } from '../../capture/columns.js';
import { compileSql, numberedParams, valueTypeOf } from '../../conditions/index.js';
import { ident } from '../../db/quote.js';
import type { Catalog } from '../../source/catalog.js';
import type { RuntimeFeature } from '../match/features.js';
import type { Clock } from '../wiring/clock.js';
import { type InboxEvent, insertInbox, type Router } from './inbox.js';

export interface ScheduleContext {
  source: postgres.Sql;
  engine: postgres.Sql;
  catalog: Catalog;
  clock: Clock;
  route: Router;
  /** capture.exclude_columns from nudge.yaml. */
  exclude?: ExcludedColumns;
}

/** The SQL that selects the rows a scheduled feature enters, with its parameters. */
function segmentQuery(
  feature: RuntimeFeature,
  catalog: Catalog,
  now: Date,
  exclude: ExcludedColumns = {},
): { text: string; values: unknown[] } {
  const trigger = feature.feature.trigger;
  if (trigger.kind !== 'schedule') throw new Error(`${feature.name} is not a scheduled feature`);
  const table = catalog.get(trigger.table);
  if (!table)
    throw new Error(`table ${trigger.table.schema}.${trigger.table.table} does not exist`);
  const params = numberedParams(1, now);
  const where = trigger.when
    ? compileSql(trigger.when, {
        column: (field) => {
          // nudge plan refuses any other scope here (features/load.ts); read
          // as a column, contact.plan would silently become the row's own.
          if (field.scope !== 'new')
            throw new Error(`${feature.name}: a schedule's when reads new.*, not ${field.scope}.*`);
          const column = table.columns.find((c) => c.name === field.column);
          return {
            sql: `t.${ident(field.column)}`,
            type: column ? valueTypeOf(column.type) : 'unknown',
          };
        },
        ...params,
      })
    : 'TRUE';
  const columns = capturable(
    table,
    table.columns.map((c) => c.name),
    exclude,
  );
  const order = table.primaryKey.length
    ? ` ORDER BY ${table.primaryKey.map((c) => `t.${ident(c)}`).join(', ')}`
    : '';
  return {
    text: `SELECT ${rowJson(columnOf('t'), columns)} AS row FROM ${ident(trigger.table.schema, trigger.table.table)} AS t WHERE ${where}${order}`,
    values: params.values,
  };
}

/** How long an unfinished window run may go without progress before another process takes it over. */
const SCHEDULE_STALE_MS = 120_000;

/** Runs every scheduled feature whose current window has not run yet; returns rows entered. */
export async function runSchedules(
  ctx: ScheduleContext,
  features: RuntimeFeature[],
): Promise<number> {
  let total = 0;
  for (const feature of features) {
    const trigger = feature.feature.trigger;
    if (trigger.kind !== 'schedule' || feature.feature.status !== 'active') continue;
    const now = ctx.clock.now();
    const windowStart = new Date(Math.floor(now.getTime() / trigger.everyMs) * trigger.everyMs);
    const [claimed] = await ctx.engine`
      insert into nudge_engine.schedule_runs (feature, window_start) values (${feature.name}, ${windowStart})
      on conflict (feature, window_start) do update set started_at = now()
        where schedule_runs.matched is null
          and schedule_runs.started_at < now() - ${SCHEDULE_STALE_MS} * interval '1 millisecond'
      returning feature`;
    if (!claimed) continue;
    const { text, values } = segmentQuery(feature, ctx.catalog, now, ctx.exclude);
    const table = ctx.catalog.get(trigger.table)!;
    let matched = 0;
    const cursor = ctx.source
      .unsafe<{ row: Record<string, unknown> }[]>(text, values as never[])
      .cursor(1000);
    for await (const rows of cursor) {
      const events: InboxEvent[] = rows.map(({ row }, i) => ({
        source: 'schedule',
        sourceKey: `schedule:${feature.name}:${windowStart.toISOString()}:${table.primaryKey.map((c) => String(row[c])).join(',') || matched + i}`,
        schema: trigger.table.schema,
        table: trigger.table.table,
        eventName: `schedule:${feature.name}`,
        newRow: row,
        occurredAt: now,
      }));
      matched += rows.length;
      await insertInbox(ctx.engine, events, ctx.route);
      // Progress: the run is alive, no other process takes it over.
      await ctx.engine`update nudge_engine.schedule_runs set started_at = now()
                        where feature = ${feature.name} and window_start = ${windowStart}`;
    }
    await ctx.engine`update nudge_engine.schedule_runs set matched = ${matched}
                      where feature = ${feature.name} and window_start = ${windowStart}`;
    total += matched;
  }
  return total;
}
