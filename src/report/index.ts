// `nudge report <feature>` and GET /v1/features/:name/report: did the feature
// work? Per group of its experiment (each variant, the holdout): contacts
// entered, converted, the conversion rate with its 95% Wilson interval, and
// the difference from the baseline — the holdout when there is one, else the
// first variant — with Newcombe's 95% interval (stats.ts). Counts come from
// nudge_engine.experiment_entries (migration 017), one row per contact.
import type postgres from 'postgres';
import type { FeatureReport, GroupReport } from '../client/report.js';
import { HOLDOUT, TREATED } from '../features/experiment.js';
import type { Feature } from '../features/load.js';
import { differenceInterval, wilson } from './stats.js';

export type { FeatureReport, GroupReport };

interface Counts {
  group: string;
  entered: number;
  converted: number;
  open: number;
}

/** The groups in the order the feature declares them: holdout, then its variants in file order. */
function declaredOrder(feature: Feature | undefined): string[] {
  if (!feature?.goal) return [];
  const experiment = feature.experiment;
  const variants = experiment?.split?.variants.map((v) => v.name) ?? [TREATED];
  return [...(experiment && experiment.holdoutPercent > 0 ? [HOLDOUT] : []), ...variants];
}

/**
 * The report of one feature. `feature` is its file as loaded (for the goal
 * and the order of variants); without it the groups found are reported in
 * name order. `now` is the engine clock's time.
 */
export async function featureReport(
  sql: postgres.Sql,
  name: string,
  feature: Feature | undefined,
  now: Date,
): Promise<FeatureReport> {
  const counts = await sql<Counts[]>`
    select "group", count(*)::int as entered, count(converted_at)::int as converted,
           (count(*) filter (where converted_at is null and deadline >= ${now}))::int as open
      from nudge_engine.experiment_entries
     where feature = ${name}
     group by "group"`;
  return assembleReport(name, feature, counts, now);
}

/** The report from the counts per group (pure: the statistics and the order). */
export function assembleReport(
  name: string,
  feature: Feature | undefined,
  counts: Counts[],
  now: Date,
): FeatureReport {
  const declared = declaredOrder(feature);
  const found = new Map(counts.map((c) => [c.group, c]));
  const extra = counts.map((c) => c.group).filter((g) => !declared.includes(g));
  const order = [...declared, ...extra.sort()];
  const all = order.map(
    (group) => found.get(group) ?? { group, entered: 0, converted: 0, open: 0 },
  );
  const baseline = order.includes(HOLDOUT) ? HOLDOUT : order.length > 1 ? order[0]! : null;
  const base = baseline ? found.get(baseline) : undefined;
  const groups = all.map((c): GroupReport => {
    const interval = c.entered > 0 ? wilson(c.converted, c.entered) : undefined;
    const compare = base && base.entered > 0 && c.entered > 0 && c.group !== baseline;
    const diff = compare
      ? differenceInterval(c.converted, c.entered, base.converted, base.entered)
      : undefined;
    return {
      group: c.group,
      holdout: c.group === HOLDOUT,
      entered: c.entered,
      converted: c.converted,
      open: c.open,
      rate: c.entered > 0 ? c.converted / c.entered : null,
      rate_low: interval?.low ?? null,
      rate_high: interval?.high ?? null,
      ...(diff
        ? { difference: { vs: baseline!, value: diff.difference, low: diff.low, high: diff.high } }
        : {}),
    };
  });
  const written = (feature?.source.value as { goal?: unknown } | undefined)?.goal;
  return {
    feature: name,
    goal: written ?? null,
    baseline,
    confidence: 0.95,
    method: 'wilson / newcombe hybrid score',
    groups,
    as_of: now.toISOString(),
  };
}

const percent = (value: number | null) => (value === null ? '—' : `${(value * 100).toFixed(1)}%`);
const points = (value: number) => `${value >= 0 ? '+' : '−'}${Math.abs(value * 100).toFixed(1)}`;

/** The report as lines for a terminal. */
export function reportLines(report: FeatureReport): string[] {
  const goal =
    report.goal === null ? 'no goal in the feature file' : `goal ${JSON.stringify(report.goal)}`;
  const lines = [`${report.feature}: ${goal}`];
  if (report.groups.every((g) => g.entered === 0)) {
    lines.push('No contact has entered since the feature had a goal.');
    return lines;
  }
  const header = [
    'group',
    'entered',
    'converted',
    'open',
    'rate',
    '95% CI',
    `vs ${report.baseline ?? '—'} (points, 95% CI)`,
  ];
  const rows = report.groups.map((g) => [
    g.group,
    String(g.entered),
    String(g.converted),
    String(g.open),
    percent(g.rate),
    g.rate_low === null ? '—' : `${percent(g.rate_low)} – ${percent(g.rate_high)}`,
    g.difference
      ? `${points(g.difference.value)} (${points(g.difference.low)} to ${points(g.difference.high)})`
      : g.group === report.baseline
        ? 'baseline'
        : '—',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const format = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 || i >= 5 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  lines.push(format(header), ...rows.map(format));
  for (const g of report.groups) {
    if (!g.difference) continue;
    const { value, low, high, vs } = g.difference;
    const verdict =
      low > 0
        ? `converts more than ${vs}: ${points(low)} to ${points(high)} points`
        : high < 0
          ? `converts less than ${vs}: ${points(low)} to ${points(high)} points`
          : `no clear difference from ${vs} (the interval ${points(low)} to ${points(high)} includes 0)`;
    lines.push(`${g.group}: ${verdict}; observed ${points(value)} points.`);
  }
  const open = report.groups.reduce((sum, g) => sum + g.open, 0);
  if (open > 0) {
    lines.push(
      `${open} contacts are still within the goal's time limit: their conversions may still come.`,
    );
  }
  return lines;
}
