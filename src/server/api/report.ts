// GET /v1/features/:name/report: the same as `nudge report <feature> --json`
// — per variant and for the holdout, entered, converted, the conversion rate
// and the difference from the baseline with its 95% interval (src/report/,
// docs/experiments.md). Reads only the engine store and the feature files.
import { Hono } from 'hono';
import type postgres from 'postgres';
import type { LoadedConfig } from '../../config/load.js';
import { storeClock } from '../../engine/wiring/clock.js';
import { ConfigError, ConfigErrors } from '../../errors.js';
import { type Feature, loadFeatures } from '../../features/load.js';
import { featureReport } from '../../report/index.js';
import { HttpError } from '../http-error.js';
import type { ApiEnv } from './auth.js';
import { featureNotFound, knownFeatures } from './feature-filter.js';
import { takes } from './input.js';

export function reportRoutes(options: { sql: postgres.Sql; project: LoadedConfig }): Hono<ApiEnv> {
  const { sql, project } = options;
  const api = new Hono<ApiEnv>();
  api.get('/:name/report', takes(), async (c) => {
    const name = c.req.param('name');
    let features: Feature[];
    try {
      features = await loadFeatures(project.featuresDir, project.env, project.cwd);
    } catch (error) {
      if (error instanceof ConfigErrors || error instanceof ConfigError) {
        throw new HttpError(422, 'invalid_feature', error.message);
      }
      throw error;
    }
    const feature = features.find((f) => f.name === name);
    const report = await featureReport(sql, name, feature, (await storeClock(sql)).now());
    if (!feature && report.groups.every((g) => g.entered === 0)) {
      throw featureNotFound(knownFeatures(project, features), name);
    }
    return c.json(report);
  });
  return api;
}
