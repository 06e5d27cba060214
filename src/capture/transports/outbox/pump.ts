// The outbox pump, the outbox's engine side: moves captured changes from the
// user's database into the engine's inbox (index.ts hands it to the engine's
// loop). Captures land in two places: nudge.event_log (JSON, one row
// per statement chunk) and the rows tables of typed captures (one typed row
// per captured row). Both take ids from one sequence, and the pump merges
// them in id order. It claims the oldest rows with FOR UPDATE SKIP LOCKED —
// never "id > last seen", which would skip rows of transactions that commit
// out of id order — copies them (idempotently: the inbox key is outbox id +
// row index), and only then deletes (or archives) them, in the claiming
// transaction. A crash between the inbox write and the delete leaves the rows
// to be claimed again, and the inbox ignores the copies.
import type postgres from 'postgres';
import { isUndefinedColumn, isUndefinedTable } from '../../../db/errors.js';
import { together } from '../../../db/together.js';
import { type InboxEvent, insertInbox, type Router } from '../../../engine/intake/inbox.js';
import { announceInbox } from '../../../engine/sql/announce-inbox.js';
import { insertInboxRows } from '../../../engine/sql/insert-inbox-rows.js';
import { listRowsTables, type RowsTable } from '../../state.js';
import type { FeaturesAt } from '../port.js';
import { claimCaptures } from './sql/claim-captures.js';
import { consumeCaptures } from './sql/consume-captures.js';
import { countCaptures } from './sql/count-captures.js';
import { latestDeployment } from './sql/latest-deployment.js';
import { oldestCapture } from './sql/oldest-capture.js';
import { outboxWaiting } from './sql/outbox-waiting.js';

export interface PumpOptions {
  source: postgres.Sql;
  engine: postgres.Sql;
  route: Router;
  /** Outbox rows per claim (each may hold up to 1000 captured rows). */
  batch?: number;
  /** Rows per claim from each rows table. */
  rowsBatch?: number;
  /** Keep consumed rows in nudge.event_archive for this long instead of deleting them. */
  archive?: boolean;
  /**
   * Announce the moved rows on the inbox channel as sent by this process
   * (inbox.ts announcement), with the lanes they went to — in the moving
   * transaction when the engine store is the source database, so the
   * notification is delivered with the commit.
   */
  announceAs?: string;
  /**
   * The deployment the engine's features were read at: rows claimed under a
   * newer one are left where they are until the features are read again
   * (engine/wiring/follow-deploys.ts), so none of a feature just deployed is
   * matched against the features before it.
   */
  features?: FeaturesAt;
}

export interface PumpResult {
  /** Captured rows moved into the inbox. */
  moved: number;
  /** The lanes they were routed to. */
  lanes: Set<number>;
  /** A source returned a full batch: more rows may be waiting, pump again at once. */
  more: boolean;
}

/**
 * The rows tables as of a deployment. Every claim also reads the latest
 * deployment's id, and a claim made with an older list is rolled back and
 * made again with a fresh one: a rows table a deploy added is seen before
 * anything written there could be moved out of order. (Deploys take the
 * pump's lock, so no claim runs while one is applied.)
 */
interface RowsTables {
  deployment: number;
  tables: RowsTable[];
}
const rowsTablesCache = new WeakMap<postgres.Sql, RowsTables>();

async function rowsTables(source: postgres.Sql, fresh: boolean): Promise<RowsTables> {
  const cached = rowsTablesCache.get(source);
  if (!fresh && cached) return cached;
  // The deployment first: a deploy in between makes the list newer than its
  // id, which only costs one more refresh.
  const deployment = await latestDeployment(source);
  const current = { deployment, tables: await listRowsTables(source) };
  rowsTablesCache.set(source, current);
  return current;
}

class StaleRowsTables extends Error {}

/** Rows were claimed under another deployment than the engine's features were read at: the claim is rolled back. */
class FeaturesBehind extends Error {
  constructor(readonly deployment: number) {
    super(`features older than deployment #${deployment}`);
  }
}

/**
 * Moves one batch; returns the number of captured rows moved. One pump at a
 * time over all engine processes (an advisory lock held until the claiming
 * transaction ends): inbox ids are taken before commit, so two pumps at once
 * could commit a later outbox row's inbox copy first, and a lane would then
 * handle a contact's later event before its earlier one.
 */
export async function pumpOnce(options: PumpOptions): Promise<number> {
  return (await pump(options)).moved;
}

/** pumpOnce, saying where the rows went and whether more are waiting. */
export async function pump(options: PumpOptions): Promise<PumpResult> {
  const claim = () => withRowsTables(options.source, (known) => pumpBatch(options, known));
  try {
    return await claim();
  } catch (error) {
    if (!(error instanceof FeaturesBehind)) throw error;
    // Read as of that deployment (or kept, when they do not check): the next claim moves the rows.
    await options.features!.catchUp(error.deployment);
    return claim();
  }
}

/**
 * Runs `use` with the rows tables as last looked up, and once more with a
 * fresh list when they were stale: a deploy since (StaleRowsTables), one
 * that dropped a table the list still names (42P01), or a column it names
 * that is gone (42703): a rows table altered by hand, or made again by the
 * deploy that repaired it (typed-rows.ts remakeRowsTableSql). Both the claim and the idle
 * look go through here: a look that kept naming a dropped table failed on
 * every turn, and the pump, which runs only after a look says so, never ran
 * again until the engine restarted.
 */
async function withRowsTables<T>(
  source: postgres.Sql,
  use: (known: RowsTables) => Promise<T>,
): Promise<T> {
  try {
    return await use(await rowsTables(source, false));
  } catch (error) {
    if (
      !(error instanceof StaleRowsTables) &&
      !isUndefinedTable(error) &&
      !isUndefinedColumn(error)
    )
      throw error;
    return use(await rowsTables(source, true));
  }
}

async function pumpBatch(options: PumpOptions, known: RowsTables): Promise<PumpResult> {
  const { tables } = known;
  const batch = options.batch ?? 50;
  const rowsBatch = options.rowsBatch ?? 10_000;
  return options.source.begin(async (tx) => {
    const claimed = await claimCaptures(tx, tables, batch, rowsBatch);
    const lanes = new Set<number>();
    const nothing = { moved: 0, lanes, more: false };
    const deployment = claimed.find((row) => row.source === -2);
    if (!deployment) return nothing; // another process is pumping
    if (deployment.id !== known.deployment) throw new StaleRowsTables();
    if (options.features && deployment.id !== options.features.deployment())
      throw new FeaturesBehind(deployment.id);
    const log = claimed.filter((row) => row.source === -1).sort((a, b) => a.id - b.id);
    const typed = tables.map((_, i) =>
      claimed.filter((row) => row.source === i).sort((a, b) => a.id - b.id),
    );
    // Several sources: stop at the lowest last id of any source that returned
    // a full batch, so that nothing it still holds back (with a lower id)
    // comes after what is moved now. The rest waits for the next claim.
    let cutoff = Number.POSITIVE_INFINITY;
    if (log.length === batch) cutoff = Math.min(cutoff, log.at(-1)!.id);
    for (const rows of typed)
      if (rows.length === rowsBatch) cutoff = Math.min(cutoff, rows.at(-1)!.id);
    const logRows = log.filter((row) => row.id <= cutoff);
    const claims = typed.map((rows, i) => ({
      table: tables[i]!,
      rows: rows.filter((row) => row.id <= cutoff),
    }));
    const moved = [
      ...logRows.map((row) => ({
        id: row.id,
        events: Array.from({ length: row.row_count }, (_, i) => ({
          source: 'outbox' as const,
          sourceKey: `${row.id}:${i}`,
          schema: row.schema_name,
          table: row.table_name,
          operation: row.operation,
          newRow: row.new_rows?.[i] ?? null,
          oldRow: row.old_rows?.[i] ?? null,
          enrichment: row.enrichment?.[i] ?? null,
          occurredAt: row.captured_at,
          deployment: deployment.id,
        })),
      })),
      ...claims.flatMap(({ table, rows }) =>
        rows.map((row) => ({
          id: row.id,
          events: [
            {
              source: 'outbox' as const,
              sourceKey: `${row.id}:0`,
              schema: table.schema,
              table: table.table,
              operation: table.operation,
              newRow: table.operation === 'insert' ? row.row : null,
              oldRow: table.operation === 'insert' ? null : row.row,
              enrichment: null,
              occurredAt: row.captured_at,
              deployment: deployment.id,
            },
          ],
        })),
      ),
    ];
    if (moved.length === 0) return nothing;
    if (claims.length > 0) moved.sort((a, b) => a.id - b.id);
    const events: InboxEvent[] = moved.flatMap((m) => m.events);
    const ids = logRows.map((r) => r.id);
    // What consuming the claimed rows takes: archive them (when kept), delete them.
    const consume = consumeCaptures(tx, ids, claims, options.archive);
    const route: Router = (event) => {
      const lane = options.route(event);
      lanes.add(lane);
      return lane;
    };
    const chunks: InboxEvent[][] = [];
    for (let i = 0; i < events.length; i += 1000) chunks.push(events.slice(i, i + 1000));
    if (options.source === options.engine) {
      // The engine store inside the source database: one statement copies
      // the rows into the inbox, consumes them and announces them (the
      // notification goes out with the commit). Its parts touch different
      // tables and see one snapshot, as the statements did one by one.
      const writes = [...chunks.map((chunk) => insertInboxRows(tx, chunk, route)), ...consume];
      await together(tx, writes, () => announceInbox(tx, options.announceAs, lanes));
    } else {
      for (const chunk of chunks) await insertInbox(options.engine, chunk, route);
      if (options.announceAs !== undefined)
        await announceInbox(options.engine, options.announceAs, lanes);
      for (const write of consume) await write;
    }
    return { moved: events.length, lanes, more: Number.isFinite(cutoff) };
  });
}

/**
 * Whether the pump has anything to claim: a captured row in nudge.event_log
 * or in a rows table it knows of, or a deploy since it looked the rows tables
 * up (a claim refreshes them). One cheap query, outside any transaction.
 */
export async function capturesWaiting(source: postgres.Sql): Promise<boolean> {
  return withRowsTables(source, (known) => outboxWaiting(source, known.deployment, known.tables));
}

/** Captured rows waiting for the pump: in nudge.event_log and in every rows table. */
export async function pendingCaptures(source: postgres.Sql): Promise<number> {
  return countCaptures(source, await listRowsTables(source));
}

/** When the oldest of them was captured; null when none waits. */
export async function oldestPendingCapture(source: postgres.Sql): Promise<Date | null> {
  // Through the cached list, looked up again when a deploy dropped a table in it.
  return withRowsTables(source, (known) => oldestCapture(source, known.tables));
}
