// Ctrl-C for a command that runs until stopped (`nudge dev`): the first
// signal lets the step in hand finish and the command stop in order; a
// second one exits at once.
import type { Io } from './io.js';

/** Thrown by `check()` once a signal came: the command unwinds through its `finally`. */
export class Stopped extends Error {}

export type StopSignals = ReturnType<typeof stopOnSignals>;

/** Watches SIGINT, SIGTERM and SIGHUP until `dispose()`. */
export function stopOnSignals(io: Io) {
  let stopped = false;
  let wake: (() => void) | undefined;
  const onSignal = () => {
    if (stopped) {
      io.err(
        'Stopping at once (the embedded PostgreSQL may be left running; the next start reuses it).',
      );
      process.exit(130);
    }
    stopped = true;
    wake?.();
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, onSignal);
  return {
    get stopped() {
      return stopped;
    },
    /** Throws Stopped once a signal came. */
    check() {
      if (stopped) throw new Stopped();
    },
    /** Waits `ms`, or less when a signal comes. */
    sleep: (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      }),
    dispose() {
      for (const s of signals) process.off(s, onSignal);
    },
  };
}
