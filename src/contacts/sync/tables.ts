// `nudge sync tables`: each table_mapping entry, as contact attributes or as
// events. Rows find their contact by a user-id or email column; events are
// keyed by the row's primary key so a re-run adds nothing. Incremental runs
// page by updated_at (events also by created_at); a table with neither is
// read whole. Attributes are written one batch at a time: a later row of a
// contact must win over an earlier one.
import { formatTableName, type TableName } from '../../source/names.js';
import {
  type ContactRef,
  type SyncedEvent,
  type TableSyncMapping,
  tableRowToAttributes,
  tableRowToEvent,
} from '../mapping.js';
import { planRun, readState, withSyncLock } from './checkpoint.js';
import { type PageReader, runSync, type SyncResult } from './runner.js';
import { INCREMENTAL_OVERLAP_MS, nextSince, runStart } from './since.js';
import { apiTableReader, dbTableReader } from './sources.js';
import type { SyncRunOptions } from './users.js';
import { contactIds, insertEvents, mergeAttributes, refKey } from './write.js';

/** A table's sync as sync_state names it: `table:public.orders`. */
export function tableSyncName(table: TableName): string {
  return `table:${formatTableName(table)}`;
}

export async function syncTable(
  options: SyncRunOptions & { mapping: TableSyncMapping },
): Promise<SyncResult> {
  const { engine, source, mapping, report } = options;
  const name = tableSyncName(mapping.table);
  const label = formatTableName(mapping.table);
  return withSyncLock(options.engineUrl, name, async () => {
    options.onLocked?.();
    const overlapMs = options.overlapMs ?? INCREMENTAL_OVERLAP_MS;
    const start = await runStart(source, engine, {
      label,
      incremental: mapping.changedAt !== null,
      overlapMs,
      log: report.log,
    });
    const plan = planRun(await readState(engine, name), {
      ...(options.full ? { full: true } : {}),
      ...(options.since ? { since: options.since } : {}),
      source: source.kind,
      incremental: mapping.changedAt !== null,
      ...start,
    });
    if (!mapping.changedAt) {
      const asked = options.since ? ' (--since is ignored)' : '';
      const why =
        mapping.mode === 'attributes' && mapping.allColumns.includes('created_at')
          ? 'no updated_at column (created_at does not change when a row does)'
          : 'no updated_at or created_at column';
      report.log.info(`${label}: ${why}, so every run reads the whole table${asked}`);
      plan.cursor.mode = 'full';
      plan.cursor.since = null;
    } else if (plan.cursor.mode === 'incremental') {
      report.log.verbose(`${label}: incremental by ${mapping.changedAt}`);
    }
    const run = { mode: plan.cursor.mode, since: plan.cursor.since };
    const reader =
      source.kind === 'database'
        ? dbTableReader(source.sql, mapping, run, options.batchSize)
        : apiTableReader(source.api, mapping, run, options.batchSize);
    report.log.debug(
      `${label}: synced as ${mapping.mode}${mapping.mode === 'attributes' ? ' (one batch at a time)' : ''}, contact by ${mapping.contact.by} column ${mapping.contact.column}, keyset ${[...(run.mode === 'incremental' && mapping.changedAt ? [mapping.changedAt] : []), ...mapping.primaryKey].join(', ')}`,
    );
    return runSync({
      engine,
      name,
      label,
      kind: mapping.mode === 'events' ? 'events' : 'contacts',
      plan,
      reader: reader as PageReader<unknown>,
      // Two batches at once could commit an earlier row's attributes after a
      // later row's: each batch merges over what the contact has when it
      // commits. Events are keyed and unordered, so they keep the overlap.
      concurrency: mapping.mode === 'attributes' ? 1 : (options.concurrency ?? 2),
      report,
      nextSince: mapping.changedAt ? nextSince(plan.cursor, overlapMs) : null,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onBatch ? { onBatch: options.onBatch } : {}),
      async write(tx, page) {
        const skipped: { id: string; reason: string }[] = [];
        const rowId = (row: Record<string, unknown>) =>
          `${label} ${JSON.stringify(mapping.primaryKey.map((c) => row[c]))}`;
        if (mapping.mode === 'attributes') {
          const updates: { contact: ContactRef; attributes: Record<string, unknown> }[] = [];
          for (const row of page.rows) {
            const converted = tableRowToAttributes(row, mapping);
            if (converted.ok) updates.push(converted.value);
            else skipped.push({ id: rowId(row), reason: converted.reason });
          }
          const { ids, created } = await contactIds(
            tx,
            updates.map((u) => u.contact),
          );
          const merged = await mergeAttributes(
            tx,
            updates.map((u) => ({
              contactId: ids.get(refKey(u.contact))!,
              attributes: u.attributes,
            })),
          );
          return { synced: updates.length, created, updated: merged - created, skipped };
        }
        const events: { contact: ContactRef; event: SyncedEvent }[] = [];
        for (const row of page.rows) {
          const converted = tableRowToEvent(row, mapping);
          if (converted.ok) events.push(converted.value);
          else skipped.push({ id: rowId(row), reason: converted.reason });
        }
        const { ids } = await contactIds(
          tx,
          events.map((e) => e.contact),
        );
        const added = await insertEvents(
          tx,
          events.map((e) => ({ contactId: ids.get(refKey(e.contact))!, event: e.event })),
          'sync',
        );
        return {
          synced: events.length,
          created: added,
          updated: events.length - added,
          skipped,
        };
      },
    });
  });
}
