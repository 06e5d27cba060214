// When the live tail of the decision log reads nudge_engine.feature_pauses
// again: once as it starts, then only after the pauses may have changed —
// not every second per open tab. Every change to the table is announced on
// nudge_features by its statement trigger (migration 009; the engines'
// watchPauses in engine/match/pauses.ts listens to the same), whoever made
// it, a hand-written UPDATE included.
//
// The tails of one server share one LISTEN, held while at least one is open;
// on the engine's own connection pool it rides the LISTEN connection the
// engine's watchPauses already holds. Each notification, and each time the
// listening connection comes back (a change made while it was down would be
// missed), moves a counter; a tail reads the pauses when the counter moved
// since its last read. Where LISTEN is refused (a pooler in transaction
// mode), each tail reads them every second, as before.
import type postgres from 'postgres';
import { PAUSES_CHANNEL } from '../../engine/match/pauses.js';

/** How often a tail reads the pauses when nothing announces their changes. */
const UNANNOUNCED_MS = 1000;

export interface PauseWatch {
  /**
   * Whether to read the pauses now: true the first time, then after a change
   * was announced since the last true (or, unannounced, a second later).
   * Asked before the read, so a change during it makes the next ask true.
   */
  due(): boolean;
  close(): Promise<void>;
}

export interface PauseChanges {
  /** A watch for one tail; close it as the tail ends. */
  watch(): Promise<PauseWatch>;
}

export function makePauseChanges(sql: postgres.Sql): PauseChanges {
  let changes = 0;
  let watching = 0;
  let listening: Promise<postgres.ListenMeta | undefined> | undefined;
  const changed = () => {
    changes++;
  };
  return {
    async watch() {
      watching++;
      listening ??= sql.listen(PAUSES_CHANNEL, changed, changed).catch(() => undefined);
      const listener = await listening;
      let seen: number | undefined;
      let dueAt = 0;
      let closed = false;
      return {
        due() {
          if (listener) {
            if (seen === changes) return false;
            seen = changes;
            return true;
          }
          if (Date.now() < dueAt) return false;
          dueAt = Date.now() + UNANNOUNCED_MS;
          return true;
        },
        async close() {
          if (closed) return;
          closed = true;
          watching--;
          if (watching > 0) return;
          const last = listening;
          listening = undefined;
          await (await last)?.unlisten().catch(() => {});
        },
      };
    },
  };
}
