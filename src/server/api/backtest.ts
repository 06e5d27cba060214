// POST /v1/features/backtest { "feature": "welcome-drip", "since": "30d" }
// (or "from" / "to"): the same as `nudge backtest` — the feature as it is on
// disk now, run over the past on a simulated clock with no effects; answers
// the report (src/backtest/report.ts). It writes nothing, so the dashboard's
// session may call it ("try on the last 30 days").
import { Hono } from 'hono';
import { z } from 'zod';
import { backtestWindow, runBacktest, WINDOW_FIELDS } from '../../backtest/index.js';
import { storeClock } from '../../engine/wiring/clock.js';
import { ConfigErrors, NudgeError } from '../../errors.js';
import { loadFeatures } from '../../features/load.js';
import { readCatalog } from '../../source/catalog.js';
import { HttpError } from '../http-error.js';
import type { ApiEnv } from './auth.js';
import { featureNotFound, knownFeatures } from './feature-filter.js';
import { readJson, validate } from './input.js';
import type { OverviewApiOptions } from './overview.js';

const bodySchema = z.strictObject({
  feature: z.string().min(1),
  since: z.string().min(1).optional(),
  from: z.string().min(1).optional(),
  to: z.string().min(1).optional(),
});

export function backtestRoutes(
  options: OverviewApiOptions & { maxBodyBytes?: number },
): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  api.post('/', async (c) => {
    const body = validate(bodySchema, await readJson(c, options.maxBodyBytes ?? 1_048_576));
    const { project } = options;
    try {
      const features = await loadFeatures(project.featuresDir, project.env, project.cwd);
      const feature = features.find((f) => f.name === body.feature);
      if (!feature)
        throw featureNotFound(knownFeatures(project, features), body.feature, 'feature');
      const engineNow = (await storeClock(options.sql)).now();
      const report = await runBacktest({
        project,
        features,
        feature,
        engine: options.sql,
        source: options.source,
        catalog: await readCatalog(options.source),
        ...backtestWindow(body, new Date(), engineNow, WINDOW_FIELDS),
      });
      return c.json(report);
    } catch (error) {
      if (error instanceof ConfigErrors) {
        throw new HttpError(422, 'invalid_feature', error.errors.map((e) => e.message).join('; '));
      }
      if (error instanceof NudgeError) throw new HttpError(422, 'invalid_backtest', error.message);
      throw error;
    }
  });
  return api;
}
