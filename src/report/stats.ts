// The statistics of `nudge report`: a conversion rate's Wilson score interval
// and the difference of two rates with Newcombe's hybrid score interval
// (Newcombe 1998, method 10), both at 95%. Why these and not the textbook
// normal approximation (Wald): Wald's interval for a difference is too
// narrow when a rate is near 0 or 1 or a group is small — it collapses to
// zero width when a group has no conversions at all — and can leave [-1, 1];
// Newcombe's interval is built from the two groups' Wilson intervals, keeps
// close to its nominal coverage in those cases and stays inside [-1, 1]. For
// large groups with moderate rates the two agree. docs/experiments.md.

/** z for a two-sided 95% interval: the 0.975 quantile of the standard normal. */
export const Z95 = 1.959963984540054;

export interface Interval {
  low: number;
  high: number;
}

/** The Wilson score interval of a proportion x/n (n > 0). */
export function wilson(x: number, n: number, z = Z95): Interval {
  if (!(n > 0) || x < 0 || x > n)
    throw new RangeError(`wilson: need 0 <= x <= n, n > 0 (x ${x}, n ${n})`);
  const p = x / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // Clamped: rounding can put an end a hair outside [0, 1] when x is 0 or n.
  return { low: Math.max(0, center - half), high: Math.min(1, center + half) };
}

/**
 * Newcombe's hybrid score interval of p1 − p2 (x1/n1 − x2/n2): each end
 * combines the distances from each rate to its own Wilson limit.
 */
export function differenceInterval(
  x1: number,
  n1: number,
  x2: number,
  n2: number,
  z = Z95,
): Interval & { difference: number } {
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const a = wilson(x1, n1, z);
  const b = wilson(x2, n2, z);
  const difference = p1 - p2;
  return {
    difference,
    low: difference - Math.sqrt((p1 - a.low) ** 2 + (b.high - p2) ** 2),
    high: difference + Math.sqrt((a.high - p1) ** 2 + (p2 - b.low) ** 2),
  };
}
