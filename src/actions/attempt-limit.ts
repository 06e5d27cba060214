// At most `n` tasks at once; the others wait their turn, first come first
// served. One engine process runs every action attempt through one (the first
// attempts it makes itself and its job runner's tasks alike), so attempts hold
// at most `n` connections of the engine store however they were started.

export type Slots = <T>(task: () => Promise<T>) => Promise<T>;

export function slots(n: number): Slots {
  let free = Math.max(1, n);
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      // The slot passes straight to the next in line, or back to the pool.
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}
