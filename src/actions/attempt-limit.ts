// How many action attempts one engine process runs at once: at most `n`, the
// others wait their turn, first come first served. Every attempt goes through
// one limit (the first attempts the process makes itself, first-attempt.ts,
// and its job runner's tasks alike), so attempts hold at most `n` connections
// of the engine store however they were started.

export type AttemptLimit = <T>(task: () => Promise<T>) => Promise<T>;

export function attemptLimit(n: number): AttemptLimit {
  let free = Math.max(1, n);
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      // The freed place passes straight to the next in line, or back to the pool.
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}
