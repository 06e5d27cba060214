// How the decision log stores what it says. Every candidate feature of every
// event gets its outcome and reason, but the features an event skipped before
// a contact was looked up (trigger condition false, paused, no contact value)
// share one row: on a table with 20 features, one row per event instead of
// 19, which was most of the log's write cost (docs/architecture.md). The
// readers (nudge logs, nudge dev) show that row as one line per feature.

import type { Decision } from './journey.js';

/** The features skipped together, feature → reason, in a row's detail. */
export interface SkippedDetail {
  skipped: Record<string, string>;
}

/** One decision for the features `skips` names (a plain one when it is a single feature). */
export function skippedTogether(at: Date, inboxId: number, skips: Map<string, string>): Decision {
  if (skips.size === 1) {
    const [feature, reason] = [...skips][0]!;
    return { at, inboxId, feature, contactId: null, outcome: 'skipped', reason };
  }
  return {
    at,
    inboxId,
    feature: null,
    contactId: null,
    outcome: 'skipped',
    reason: `${skips.size} features skipped`,
    detail: { skipped: Object.fromEntries(skips) } satisfies SkippedDetail,
  };
}

/**
 * A stored decision as the lines it stands for: a row of skips becomes one
 * line per feature (only `feature`'s when given), any other row itself.
 */
export function decisionLines<
  T extends { feature: string | null; reason: string; detail?: unknown },
>(row: T, feature?: string): T[] {
  const skipped = (row.detail as Partial<SkippedDetail> | null | undefined)?.skipped;
  if (row.feature !== null || !skipped || typeof skipped !== 'object') return [row];
  return Object.entries(skipped)
    .filter(([name]) => feature === undefined || name === feature)
    .map(([name, reason]) => ({ ...row, feature: name, reason, detail: null }));
}
