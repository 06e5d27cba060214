// "Did you mean" for names the user typed: config keys, tables, columns,
// condition operators and scopes, feature and template names. One distance
// and one idea of "close enough" for all of them.

/**
 * Edits between two words, ignoring case: insertions, deletions,
 * substitutions, and two neighbours swapped counted as one edit (`nwe` →
 * `new`, `emial` → `email`): the optimal-string-alignment distance.
 */
export function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let before: number[] = [];
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) {
      let best = Math.min(
        previous[j]! + 1,
        row[j - 1]! + 1,
        previous[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) {
        best = Math.min(best, before[j - 2]! + 1);
      }
      row.push(best);
    }
    before = previous;
    previous = row;
  }
  return previous[y.length]!;
}

/**
 * The closest candidate, if it is close enough to be a plausible typo: one
 * edit between words of up to three letters (`gt` is not a typo of `eq`),
 * else two, or a third of the longer word's letters.
 */
export function closest(input: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(input, candidate);
    if (distance < bestDistance && distance <= allowedEdits(input, candidate)) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function allowedEdits(a: string, b: string): number {
  const longer = Math.max(a.length, b.length);
  return longer <= 3 ? 1 : Math.max(2, Math.floor(longer / 3));
}

/** ` (did you mean "gt"?)`, or nothing when no candidate is close; `prefix` goes before the candidate (`is.`). */
export function didYouMean(input: string, candidates: Iterable<string>, prefix = ''): string {
  const match = closest(input, candidates);
  return match === undefined ? '' : ` (did you mean "${prefix}${match}"?)`;
}
