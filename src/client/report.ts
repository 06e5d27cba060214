// The client's /v1/features/:name/report: did a feature work? The shapes are
// defined here once; the engine's report (src/report/) builds them.

export interface GroupReport {
  /** A variant's name, `holdout`, or `treated` (a feature without a split). */
  group: string;
  holdout: boolean;
  entered: number;
  converted: number;
  /** Entered, not converted, and still within the goal's time limit: may still convert. */
  open: number;
  /** converted / entered (null when no one entered). */
  rate: number | null;
  /** The rate's 95% Wilson score interval. */
  rate_low: number | null;
  rate_high: number | null;
  /** This group's rate minus the baseline's, with Newcombe's 95% interval (absent for the baseline). */
  difference?: { vs: string; value: number; low: number; high: number };
}

export interface FeatureReport {
  feature: string;
  /** The goal as written in the feature file (null when the file has none or is gone). */
  goal: unknown;
  /** The group the others are compared with: the holdout, else the first variant. */
  baseline: string | null;
  confidence: 0.95;
  method: 'wilson / newcombe hybrid score';
  groups: GroupReport[];
  /** The engine clock's time of the report (open counts depend on it). */
  as_of: string;
}

type Request = <T>(method: string, path: string, body?: unknown) => Promise<T>;

/** `nudge.report(feature)`: the feature's report, as `nudge report <feature> --json` prints it. */
export function reportApi(request: Request) {
  return (feature: string) =>
    request<FeatureReport>('GET', `/features/${encodeURIComponent(feature)}/report`);
}
