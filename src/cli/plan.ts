// `nudge plan`: what deploy would change, and any drift. Never writes.
import { planLosses } from '../capture/deploy.js';
import type { Plan } from '../capture/plan.js';
import { afterPlanLine, renderPlan } from '../capture/print-plan.js';
import type { LoadedConfig } from '../config/load.js';
import { displayPath } from '../config/yaml.js';
import { type FeaturePause, featurePausesIfAny, pausesLine } from '../engine/match/pauses.js';
import type { Feature } from '../features/load.js';
import { openSource } from '../source/connect.js';
import { planChange, printHeader } from './capture.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, withSource } from './project.js';

export async function plan(options: GlobalOptions & { json?: boolean }, io: Io): Promise<number> {
  const project = await loadProject(options, io);
  return withSource(project, async (session) => {
    const { features, plan } = await planChange(project, session.sql);
    // What the plan would lose (a dropped slot: what no engine has read), noted on its items.
    const losses = await planLosses(session.sql, plan);
    const paused = await livePauses(project, session.sql);
    if (options.json) {
      io.out(
        JSON.stringify(
          {
            changes: plan.hasChanges,
            counts: plan.counts,
            drift: plan.driftCount,
            paused: paused.map((p) => p.feature),
            items: plan.items.map(({ sql: _sql, ...item }) => item),
          },
          null,
          2,
        ),
      );
      return 0;
    }
    printHeader(io, 'plan', project, session, features);
    const line = pausesLine(paused);
    if (line) io.out(io.colors.yellow(line));
    renderPlan(plan, io);
    noFeaturesLine(plan, features, project, io);
    if (plan.hasChanges) {
      // Deploy refuses a plan that would lose something (and --sql too): say so, not "run deploy".
      const next = afterPlanLine(losses, { readOnly: session.readOnly, on: 'cli' });
      io.out(next.warn ? io.colors.yellow(next.text) : io.colors.dim(next.text));
    }
    return 0;
  });
}

/**
 * A plan that drops capture because no feature file was found (a command run
 * from the wrong folder, say) says so, naming the folder it looked in.
 */
export function noFeaturesLine(
  plan: Plan,
  features: Feature[],
  project: LoadedConfig,
  io: Io,
): void {
  if (features.length > 0 || plan.counts.drop === 0) return;
  const where = displayPath(project.featuresDir, project.cwd);
  io.out(
    io.colors.yellow(
      `! This plan drops all of Nudge's capture: no feature file was found in ${where}/. Run Nudge from the project folder (or check --config) unless you mean to stop capturing.`,
    ),
  );
}

/** Features paused live (nudge pause, the dashboard), read from the engine store. */
async function livePauses(
  project: Parameters<typeof planChange>[0],
  source: Parameters<typeof planChange>[1],
): Promise<FeaturePause[]> {
  const separate = project.config.engine?.database_url;
  if (!separate) return featurePausesIfAny(source);
  const store = await openSource({ url: separate, readOnly: true, max: 1 });
  try {
    return await featurePausesIfAny(store);
  } finally {
    await store.end({ timeout: 5 });
  }
}
