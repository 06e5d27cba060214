// The feature files a deployment was made from, by fingerprint. A feature
// changed, added or removed whose captures are deployed already (a second
// feature on auth.users insert, a condition or a wait changed) changed no
// trigger, so deploy said "No changes", recorded nothing and notified no
// one: running engines went on with the files they had read until they
// were restarted. Now each deployment records every feature's fingerprint,
// the plan compares them with the latest deployment's, and a difference is
// an item of its own: deploying it records a deployment, and running
// engines read their files again (engine/wiring/follow-deploys.ts).
import { createHash } from 'node:crypto';
import type { Feature } from '../features/load.js';
import type { PlanItem } from './plan.js';
import type { DesiredCaptures } from './transports/port.js';

/**
 * Each feature's fingerprint: its file as written, `${VAR}`s not expanded,
 * so a deploy from CI and an engine whose environment differs (a stand-in's
 * URL, a secret) fingerprint the same file alike, and no value of a
 * variable goes into it.
 */
export function featureFingerprints(features: Feature[]): Record<string, string> {
  return Object.fromEntries(
    features.map((feature) => [
      feature.name,
      createHash('sha256')
        .update(JSON.stringify(feature.source.written))
        .digest('hex')
        .slice(0, 16),
    ]),
  );
}

/** The desired captures with the fingerprints of the features they were made from. */
export function withFeatures(desired: DesiredCaptures, features: Feature[]): DesiredCaptures {
  return Object.assign(desired, { features: featureFingerprints(features) });
}

/** The features added, changed and removed from one set of fingerprints to another. */
export function featureDiff(
  before: Record<string, string>,
  after: Record<string, string>,
): { added: string[]; changed: string[]; removed: string[] } {
  return {
    added: Object.keys(after).filter((name) => !(name in before)),
    changed: Object.keys(after).filter((name) => name in before && before[name] !== after[name]),
    removed: Object.keys(before).filter((name) => !(name in after)),
  };
}

/** The plan item kind of the feature files (featureItems). */
export const FEATURE_LIST = 'feature list';

/**
 * The plan's item for features that differ from the latest deployment's;
 * none when they do not, or when either side is not known (a deployment
 * made before Nudge recorded them, or captures made without features).
 * Shown beside the captures' items too: theirs name the features using a
 * capture, not a feature whose conditions or actions changed.
 */
export function featureItems(
  desired: Record<string, string> | undefined,
  deployed: Record<string, string> | undefined,
): PlanItem[] {
  if (!desired || !deployed) return [];
  const { added, changed, removed } = featureDiff(deployed, desired);
  const parts = [
    ...added.map((name) => `${name} added`),
    ...changed.map((name) => `${name} changed`),
    ...removed.map((name) => `${name} removed`),
  ];
  if (!parts.length) return [];
  return [
    {
      action: 'replace',
      kind: FEATURE_LIST,
      subject: '',
      detail: `${parts.join(', ')}: recorded with the deployment, so running engines read their feature files again`,
      changes: parts,
      sql: [],
    },
  ];
}
