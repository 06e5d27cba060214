// Which clock a time is on. The engine's clock can run ahead of real time
// (nudge clock advance; the Clock page under nudge dev): decisions, journeys,
// wake-ups and an ingest record's processing carry the engine's time; rows
// received, events, action runs and mail carry real time. While the two
// differ, the pages that show either say which is which (a note, and a tag
// on each time of a list that mixes them); while they agree, nothing is added.
import { createContext, type ReactNode, useContext } from 'react';
import { clockOffsetInWords } from '../../src/config/duration-words.js';

/** Said on window when the Clock page moved the engine's clock. */
export const CLOCK_MOVED = 'nudge:clock-moved';

/**
 * The engine clock's offset from real time in ms, as last read (main.tsx);
 * 0: real time; undefined: not read yet.
 */
export const ClockOffset = createContext<number | undefined>(undefined);

/** "2 days ahead of real time" while the engine clock is moved; undefined while it is real time. */
export function useClockMoved(): string | undefined {
  const offset = useContext(ClockOffset);
  return offset ? clockOffsetInWords(offset) : undefined;
}

/** A page's line saying which clock its times are on, given how far it is moved; none at real time. */
export function ClockNote({ children }: { children: (moved: string) => ReactNode }) {
  const moved = useClockMoved();
  if (!moved) return null;
  return (
    <p className="note clock-note" data-testid="clock-note">
      {children(moved)}
    </p>
  );
}

/** Further ahead of this machine's time than two clocks may differ by (as nudge logs counts it). */
const AHEAD_MS = 5 * 60_000;

/**
 * Whether an engine-clock time of these lies ahead of real time: decided
 * while the clock was moved, shown after it was reset. Such times get a
 * note too, or they read as dates in the future.
 */
export function stampedAhead(times: readonly string[]): boolean {
  const now = Date.now();
  return times.some((time) => Date.parse(time) > now + AHEAD_MS);
}
