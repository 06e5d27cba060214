// The matcher's rules for one event and one candidate feature, and the reason
// each gives, in the order they apply. Before any contact is looked up: a
// paused feature is skipped, then a trigger condition that reads no contact
// and is false, then an event whose row has no value for the contact mapping
// (a feature with no mapping at all runs without a contact instead); else the
// identity to resolve. Once the contact is known: a trigger condition that
// reads it and is false is skipped, else the trigger matched.
//
// Pure, and the only copy: the lanes (lanes/event.ts) and the backtest
// (backtest/simulate.ts) both call these, so a rule or a reason is written
// here once and both obey it. Whether a feature is paused and how its
// contact-free condition is worked out (once per event, cached or not) are
// the caller's; what follows from them is decided here.
import { explain, type Verdict } from '../../conditions/index.js';
import { type ContactIdentity, hasIdentity } from '../../contacts/store.js';
import { identityOf } from './candidates.js';
import type { Row, RuntimeFeature } from './features.js';

/** The rows of one event, as conditions and contact mappings read them. */
export interface EventRows {
  new: Row | null;
  old: Row | null;
}

/** A matcher decision: the outcome and its reason, as the decision log keeps them. */
export interface MatcherDecision<Outcome extends 'skipped' | 'matched'> {
  readonly outcome: Outcome;
  readonly reason: string;
}

/** What a candidate feature comes to before its contact is looked up. */
export type BeforeContact =
  /** Skipped before any contact is looked up (the decision log keeps these on one line). */
  | MatcherDecision<'skipped'>
  /** The feature maps no contact: its first stage runs once per event (stepWithoutContact). */
  | { readonly outcome: 'without contact' }
  /** The contact to resolve, then ask `withContact`. */
  | { readonly outcome: 'resolve'; readonly identity: ContactIdentity };

/** What a candidate feature comes to once its contact is known. */
export type WithContact = MatcherDecision<'skipped'> | MatcherDecision<'matched'>;

/**
 * A feature's trigger condition on this event with no contact, asked only of
 * features whose condition reads none. The engine keeps one answer per
 * (event, feature) (triggerVerdict); the backtest works it out with the page.
 */
export type ContactFreeVerdict = (feature: RuntimeFeature) => Verdict;

/**
 * The rules before the contact is known. `paused`: the feature is paused
 * (the engine: in its file or live; the backtest runs its own feature as if
 * active).
 */
export function beforeContact(
  feature: RuntimeFeature,
  rows: EventRows,
  paused: boolean,
  contactFreeVerdict: ContactFreeVerdict,
): BeforeContact {
  if (paused) return PAUSED;
  if (feature.when && !feature.readsContact) {
    const verdict = contactFreeVerdict(feature);
    if (!verdict.result) return new ConditionFalse(verdict);
  }
  const identity = identityOf(feature, rows);
  if (hasIdentity(identity)) return { outcome: 'resolve', identity };
  return Object.keys(feature.feature.contact).length > 0 ? NO_CONTACT : WITHOUT_CONTACT;
}

/** The rules once the contact is known: a trigger condition that reads it, at `now`. */
export function withContact(
  feature: RuntimeFeature,
  rows: EventRows,
  contact: Row | null,
  now: Date,
): WithContact {
  if (feature.when && feature.readsContact) {
    const verdict = feature.when.test({ now, new: rows.new, old: rows.old, contact });
    if (!verdict.result) return new ConditionFalse(verdict);
  }
  return MATCHED;
}

const PAUSED: MatcherDecision<'skipped'> = Object.freeze({
  outcome: 'skipped',
  reason: 'paused',
});
const NO_CONTACT: MatcherDecision<'skipped'> = Object.freeze({
  outcome: 'skipped',
  reason: 'no contact: the row has no value for the contact mapping',
});
const WITHOUT_CONTACT: BeforeContact = Object.freeze({ outcome: 'without contact' });
const MATCHED: MatcherDecision<'matched'> = Object.freeze({
  outcome: 'matched',
  reason: 'trigger matched',
});

/**
 * A trigger condition that was false. Its reason is written out only when
 * read: the backtest asks about every candidate of an event to know whom to
 * look up, and needs the reason of its own feature alone (explain formats
 * the value).
 */
class ConditionFalse implements MatcherDecision<'skipped'> {
  readonly outcome = 'skipped';
  constructor(private readonly verdict: Verdict) {}
  get reason(): string {
    return `trigger condition false: ${explain(this.verdict)}`;
  }
}
