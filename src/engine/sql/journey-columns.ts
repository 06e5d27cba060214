// The columns of nudge_engine.journeys that the journey statements read and
// write, in one order: a row of them is a JourneyRow (journeys/machine.ts).
export const JOURNEY_COLUMNS =
  'feature, contact_id, status, stage, entries, entered_at, stage_entered_at, ended_at, wake_at, context';
