// The pump's polling pace: short after a trickle, longer under a stream (bigger
// batches all the way down), slow when quiet.
import { describe, expect, it } from 'vitest';
import { pumpWaitMs } from './runtime.js';

describe('pumpWaitMs', () => {
  it('polls every 10 ms after a trickle, longer after a fuller claim, up to 20 ms', () => {
    expect(pumpWaitMs(0, 5, 200)).toBe(10);
    expect(pumpWaitMs(1, 5, 200)).toBe(10);
    expect(pumpWaitMs(9, 5, 200)).toBe(18);
    expect(pumpWaitMs(500, 5, 200)).toBe(20);
  });

  it('polls every 50 ms once no rows came for a second, and never beyond the idle interval', () => {
    expect(pumpWaitMs(0, 1000, 200)).toBe(50);
    expect(pumpWaitMs(9, 60_000, 200)).toBe(50);
    expect(pumpWaitMs(9, 5, 15)).toBe(15);
    expect(pumpWaitMs(0, 60_000, 20)).toBe(20);
  });
});
