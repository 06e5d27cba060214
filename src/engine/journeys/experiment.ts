// Which group of a feature's experiment a contact is in — pure and
// deterministic: the same (feature, contact) always gets the same answer, in
// every process, in the backtest and after a restart, without reading the
// store. The store records the answer at the contact's first entry
// (experiment-store.ts) so the report counts what was decided.
//
// The draw. SHA-256 of `feature NUL contact id` gives two independent
// uniform numbers in [0, 1): the first (bytes 0–5) decides the holdout
// (u < holdout%), the second (bytes 6–11) picks the variant by cumulative
// weight. Because the draws are separate, changing the holdout share moves
// contacts only between the holdout and the rest, never between variants,
// and the variants keep their weights among contacts not held out.
import { createHash } from 'node:crypto';
import {
  type FeatureExperiment,
  HOLDOUT,
  TREATED,
  type Variant,
} from '../../features/experiment.js';
import type { Action } from '../../features/schema.js';

export interface Assignment {
  /** A variant's name, `holdout`, or `treated` (not held out, no split). */
  group: string;
  holdout: boolean;
  /** The variant, when the contact is not held out and the feature splits. */
  variant?: Variant;
}

const SCALE = 2 ** 48;

/** Two independent uniform draws in [0, 1) for (feature, contact). */
export function drawsOf(feature: string, contactId: string): [number, number] {
  const digest = createHash('sha256').update(`${feature}\u0000${contactId}`).digest();
  return [digest.readUIntBE(0, 6) / SCALE, digest.readUIntBE(6, 6) / SCALE];
}

/** The group of (feature, contact) in the experiment. */
export function assign(
  feature: string,
  contactId: string,
  experiment: FeatureExperiment,
): Assignment {
  const [holdoutDraw, variantDraw] = drawsOf(feature, contactId);
  if (holdoutDraw * 100 < experiment.holdoutPercent) return { group: HOLDOUT, holdout: true };
  const variants = experiment.split?.variants;
  if (!variants?.length) return { group: TREATED, holdout: false };
  const total = variants.reduce((sum, v) => sum + v.weight, 0);
  let threshold = variantDraw * total;
  for (const variant of variants) {
    threshold -= variant.weight;
    if (threshold < 0) return { group: variant.name, holdout: false, variant };
  }
  // Rounding can leave a sliver past the last weight: it belongs to the last variant.
  const last = variants[variants.length - 1]!;
  return { group: last.name, holdout: false, variant: last };
}

/** The group of a contact in a feature without an experiment but with a goal: everyone is treated. */
export const UNDIVIDED: Assignment = { group: TREATED, holdout: false };

/**
 * Actions a held-out contact does not get: those that reach the contact
 * (or a system that may message them). State changes — set, lists, track,
 * goto, exit — still run, so the journey takes the same path.
 */
const MESSAGES: ReadonlySet<Action['kind']> = new Set(['email', 'webhook', 'function']);

export function isMessage(action: Action): boolean {
  return MESSAGES.has(action.kind);
}

/** The action as the variant sends it: the variant's parameters replace the stage's. */
export function applyVariant(action: Action, variant: Variant | undefined): Action {
  const overrides = variant?.overrides[action.kind];
  if (!overrides) return action;
  return { ...action, params: { ...(action.params as object), ...overrides } } as Action;
}

/** A contact's first entry into a feature with a goal, as the store records it. */
export interface MeasuredEntry {
  feature: string;
  contactId: string;
  group: string;
  enteredAt: Date;
  /** enteredAt + the goal's within: conversions after it do not count. */
  deadline: Date;
  inboxId: number | null;
}
