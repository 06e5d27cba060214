// The report's statistics against values worked by hand (a Python check of
// the formulas) and published in Newcombe (1998), "Interval estimation for
// the difference between independent proportions", Statistics in Medicine
// 17:873–890, method 10; and the interval's coverage over simulated
// experiments with known rates (a seeded PRNG, so the answer is fixed).
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../test/runtime/helpers.js';
import { differenceInterval, wilson } from './stats.js';

describe('wilson', () => {
  it('matches hand-computed intervals', () => {
    // p = 81/263 = 0.30798; centre (p + z²/2n)/(1 + z²/n), half-width z/(1+z²/n)·√(p(1−p)/n + z²/4n²).
    const a = wilson(81, 263);
    expect(a.low).toBeCloseTo(0.25529, 5);
    expect(a.high).toBeCloseTo(0.36621, 5);
    // No conversions: the lower end is 0 and the upper is z²/(n + z²) = 3.8415/13.8415.
    const none = wilson(0, 10);
    expect(none.low).toBe(0);
    expect(none.high).toBeCloseTo(0.27753, 5);
  });

  it('refuses counts that are not a proportion', () => {
    expect(() => wilson(3, 0)).toThrow(RangeError);
    expect(() => wilson(5, 4)).toThrow(RangeError);
  });
});

describe('differenceInterval (Newcombe hybrid score)', () => {
  it.each([
    // x1, n1, x2, n2, low, high — Newcombe's Table II examples, method 10.
    [56, 70, 48, 80, 0.0524, 0.3339],
    [9, 10, 3, 10, 0.1705, 0.809],
    [5, 56, 0, 29, -0.0381, 0.1926],
    [0, 10, 0, 20, -0.1611, 0.2775],
  ])('%i/%i − %i/%i: %f to %f', (x1, n1, x2, n2, low, high) => {
    const d = differenceInterval(x1, n1, x2, n2);
    expect(d.difference).toBeCloseTo(x1 / n1 - x2 / n2, 12);
    expect(d.low).toBeCloseTo(low, 4);
    expect(d.high).toBeCloseTo(high, 4);
  });

  it('covers the true difference in about 95% of simulated experiments', () => {
    const random = seededRandom(20261205);
    const trials = 2000;
    let covered = 0;
    for (let t = 0; t < trials; t++) {
      const [n1, p1, n2, p2] = [400, 0.3, 200, 0.2];
      let x1 = 0;
      let x2 = 0;
      for (let i = 0; i < n1; i++) if (random() < p1) x1++;
      for (let i = 0; i < n2; i++) if (random() < p2) x2++;
      const d = differenceInterval(x1, n1, x2, n2);
      if (d.low <= p1 - p2 && p1 - p2 <= d.high) covered++;
    }
    // Binomial sd of the coverage count at 95%: √(2000·.95·.05) ≈ 9.7, so ±4 sd is ±39.
    expect(covered / trials).toBeGreaterThan(0.93);
    expect(covered / trials).toBeLessThan(0.97);
  });
});
