import { describe, expect, it } from 'vitest';
import { Bells } from './bells.js';

/** Bells whose lanes all wait (a waiter each), recording which were woken. */
function waiting(count: number) {
  const bells = new Bells(count);
  const woken: number[] = [];
  const listen = (lane: number) => {
    const bell = bells.bell(lane);
    bell.waiter = () => {
      bell.waiter = undefined;
      woken.push(lane);
    };
  };
  for (let lane = 0; lane < count; lane++) listen(lane);
  return { bells, woken, listen };
}

describe('lane bells', () => {
  it('wakes one free lane for a light claim, which takes the other free lanes', () => {
    const { bells, woken } = waiting(3);
    bells.wakeTogether([1, 2]);
    expect(woken).toEqual([1]);
    expect(bells.begin(1)).toEqual([1, 2]);
    expect(bells.bell(2).lent).toBe(true);
  });

  it('only marks a lent lane that is rung, and wakes it when the step that has it ends', () => {
    const { bells, woken, listen } = waiting(2);
    bells.wakeTogether([0, 1]);
    const taken = bells.begin(0);
    expect(taken).toEqual([0, 1]);
    woken.length = 0;
    // Rows come for both lanes during the step: lane 0 is busy, lane 1 lent.
    bells.wakeTogether([0, 1]);
    bells.wake([1]);
    expect(woken).toEqual([]);
    expect(bells.bell(0).rung).toBe(true);
    expect(bells.bell(1).rung).toBe(true);
    listen(0);
    bells.end(taken, false);
    expect(woken).toEqual([1]);
    expect(bells.bell(1).lent).toBe(false);
  });

  it('wakes a lent lane that was not rung only when the step read a full batch or failed', () => {
    const { bells, woken } = waiting(2);
    bells.wakeTogether([0, 1]);
    bells.end(bells.begin(0), false);
    expect(woken).toEqual([0]);
    bells.wakeTogether([0, 1]);
    bells.end(bells.begin(0), true);
    expect(woken).toEqual([0, 1]);
  });

  it('leaves a lane that started its own step after it was handed over', () => {
    const { bells } = waiting(2);
    bells.wakeTogether([0, 1]);
    const own = bells.begin(1); // lane 1 woke by its poll first
    expect(own).toEqual([1]);
    expect(bells.begin(0)).toEqual([0]);
    expect(bells.bell(1).lent).toBe(false);
  });

  it('skips the own step of a lent lane (its poll), and wakes it when the step that has it ends', () => {
    const { bells, woken, listen } = waiting(2);
    bells.wakeTogether([0, 1]);
    const taken = bells.begin(0);
    // Rows came for lane 1; its poll then ran its loop, which cleared the mark.
    bells.wake([1]);
    bells.bell(1).rung = false;
    expect(bells.begin(1)).toEqual([]);
    expect(bells.bell(1).busy).toBe(false);
    listen(1);
    woken.length = 0;
    bells.end(taken, false);
    expect(woken).toEqual([1]);
    expect(bells.bell(1).missed).toBe(false);
  });
});
