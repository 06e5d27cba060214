// `nudge report <feature> [--json]`: whether a feature worked — per variant
// and for the holdout, contacts entered and converted, the conversion rate,
// and the difference from the holdout (or the first variant) with its 95%
// interval (src/report/, docs/experiments.md). Reads the engine store and the
// feature file; never the source database.
import { storeClock } from '../engine/wiring/clock.js';
import { NudgeError } from '../errors.js';
import { loadFeatures } from '../features/load.js';
import { featureReport, reportLines } from '../report/index.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, openProjectStore } from './project.js';

export interface ReportOptions extends GlobalOptions {
  json?: boolean;
}

export async function report(args: string[], options: ReportOptions, io: Io): Promise<number> {
  const project = await loadProject(options, io);
  const name = args[0]!;
  const features = await loadFeatures(project.featuresDir, project.env, project.cwd);
  const feature = features.find((f) => f.name === name);
  const store = await openProjectStore(project, io, { max: 2 });
  try {
    const now = (await storeClock(store.sql)).now();
    const result = await featureReport(store.sql, name, feature, now);
    const nobody = result.groups.every((g) => g.entered === 0);
    if (!feature && nobody) {
      throw new NudgeError(
        `no feature named "${name}" in ${project.featuresDir}, and no recorded entries for it`,
        `nudge report takes a feature's name: ${features.map((f) => f.name).join(', ') || '(none)'}`,
      );
    }
    if (feature && !feature.goal && nobody) {
      throw new NudgeError(
        `feature ${name} has no goal: there is nothing to measure`,
        'add goal: { when: { "contact.onboarded": "is.true" }, within: 7d } (docs/experiments.md)',
      );
    }
    if (options.json) io.out(JSON.stringify(result, null, 2));
    else for (const line of reportLines(result)) io.out(line);
    return 0;
  } finally {
    await store.close();
  }
}
