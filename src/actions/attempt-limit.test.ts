import { describe, expect, it } from 'vitest';
import { attemptLimit } from './attempt-limit.js';

describe('attemptLimit', () => {
  it('runs at most n tasks at once, the rest in arrival order, through failures', async () => {
    const run = attemptLimit(2);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const releases: (() => void)[] = [];
    const task = (i: number) => () => {
      started.push(i);
      running++;
      most = Math.max(most, running);
      return new Promise<number>((resolve, reject) => {
        releases[i] = () => {
          running--;
          if (i === 1) reject(new Error('task 1 failed'));
          else resolve(i);
        };
      });
    };
    const results = [0, 1, 2, 3].map((i) => run(task(i)));
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    releases[1]!();
    await expect(results[1]).rejects.toThrow('task 1 failed');
    expect(started).toEqual([0, 1, 2]);
    releases[0]!();
    await results[0];
    expect(started).toEqual([0, 1, 2, 3]);
    releases[2]!();
    releases[3]!();
    expect(await Promise.all([results[0], results[2], results[3]])).toEqual([0, 2, 3]);
    expect(most).toBe(2);
  });
});
