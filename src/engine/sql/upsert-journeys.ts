// Journeys written back: inserted, or updated whole, in one statement (not
// sent yet: awaited alone, or sent with a transaction's other writes).
import type postgres from 'postgres';
import { records } from '../../db/records.js';
import type { JourneyRow } from '../journeys/machine.js';
import { JOURNEY_COLUMNS } from './journey-columns.js';

export function upsertJourneys(
  tx: postgres.TransactionSql,
  journeys: { row: JourneyRow; at: Date }[],
): postgres.PendingQuery<postgres.Row[]> {
  return tx`
    insert into nudge_engine.journeys (${tx.unsafe(JOURNEY_COLUMNS)}, updated_at)
    select ${tx.unsafe(JOURNEY_COLUMNS)}, updated_at
      from ${records(
        tx,
        journeys.map(({ row, at }) => ({ ...row, updated_at: at })),
        `feature text, contact_id uuid, status text, stage text, entries int, entered_at timestamptz,
         stage_entered_at timestamptz, ended_at timestamptz, wake_at timestamptz, context jsonb,
         updated_at timestamptz`,
      )}
    on conflict (feature, contact_id) do update set
      status = excluded.status, stage = excluded.stage, entries = excluded.entries, entered_at = excluded.entered_at,
      stage_entered_at = excluded.stage_entered_at, ended_at = excluded.ended_at, wake_at = excluded.wake_at,
      context = excluded.context, updated_at = excluded.updated_at`;
}
