// Live sync inside a lane: an inbox row of a table live sync watches
// (auth.users, storage.objects, mapped tables) applied to the contact book in
// the lane's transaction, with the decision that says what it did.
import type postgres from 'postgres';
import { applyLiveSync, liveSyncWatches } from '../../contacts/live.js';
import type { InboxRow } from '../intake/inbox.js';
import type { Decision } from '../journeys/machine.js';
import type { ProcessContext } from './context.js';

/**
 * Live sync of one inbox row, when it watches the row's table: the change is
 * applied to the contact book (in `tx`, so it commits or rolls back with the
 * event), and logged as a decision — `synced` with what it did, or `skipped`
 * with why not. Returns the contacts it touched, whose waiting journeys then
 * re-check their conditions (event.ts). Uses savepoints: never call it
 * concurrently on one transaction.
 */
export async function syncLive(
  tx: postgres.TransactionSql,
  ctx: ProcessContext,
  row: InboxRow,
  at: Date,
): Promise<{ contactIds: string[]; decisions: Decision[] }> {
  const live = ctx.liveSync;
  if (!live || !row.schema_name || !row.table_name || !row.operation) {
    return { contactIds: [], decisions: [] };
  }
  if (!liveSyncWatches(live, { schema: row.schema_name, table: row.table_name })) {
    return { contactIds: [], decisions: [] };
  }
  const outcome = await applyLiveSync(tx, live, {
    inboxId: row.id,
    schema: row.schema_name,
    table: row.table_name,
    operation: row.operation,
    newRow: row.new_row,
    oldRow: row.old_row,
    occurredAt: row.occurred_at,
  });
  const summary = outcome.summary;
  if (!summary) return { contactIds: outcome.contactIds, decisions: [] };
  const decide = (contactId: string | null): Decision => ({
    at,
    inboxId: row.id,
    feature: null,
    contactId,
    outcome: contactId ? 'synced' : 'skipped',
    reason: summary,
  });
  const decisions = outcome.contactIds.length ? outcome.contactIds.map(decide) : [decide(null)];
  return { contactIds: outcome.contactIds, decisions };
}
