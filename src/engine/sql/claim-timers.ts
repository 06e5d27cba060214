// The journeys whose wait is over, oldest first, claimed with FOR UPDATE SKIP
// LOCKED: several processes share them and none steps one twice.
import type postgres from 'postgres';
import type { JourneyRow } from '../journeys/machine.js';
import { JOURNEY_COLUMNS } from './journey-columns.js';

export function claimTimers(
  tx: postgres.TransactionSql,
  now: Date,
  limit: number,
): Promise<JourneyRow[]> {
  return tx<JourneyRow[]>`
    select ${tx.unsafe(JOURNEY_COLUMNS)}
      from nudge_engine.journeys
     where status = 'active' and wake_at <= ${now}
     order by wake_at limit ${limit}
       for update skip locked`;
}
