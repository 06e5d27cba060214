// /v1/actions: action runs (one per idempotency key) newest first, filtered
// by status and feature, keyset-paged on the run id — the dead and retrying
// ones with their last error are what the dashboard's Actions page lists;
// POST /v1/actions/replay runs dead ones again, one by key or all matching a
// filter (a feature, a time such as 24h), exactly as `nudge replay` does
// (actions/queue.ts replayFilter and replayActions). A key whose run is not
// dead (succeeded; queued already, as by a second click) is a 409 unless the
// body says `force: true`. A feature no file has, with no dead runs either,
// is refused with the known features (a typo); the dead runs of a feature
// since removed can still be replayed. The list refuses such a feature the
// same way when no run was ever made for it (feature-filter.ts).
import { Hono } from 'hono';
import type postgres from 'postgres';
import { z } from 'zod';
import {
  type ReplayFilter,
  ReplayFilterError,
  type ReplayFilterText,
  RunNotDead,
  replayActions,
  replayFilter,
} from '../../actions/queue.js';
import { hasActionRun, hasActionRuns } from '../../actions/runs-exist.js';
import { ACTION_STATUSES, type ActionPage, type ActionRun } from '../../client/dashboard.js';
import { type Feature, unknownFeatureText } from '../../features/load.js';
import { HttpError } from '../http-error.js';
import type { ApiEnv } from './auth.js';
import { checkFeatureFilter } from './feature-filter.js';
import { durationQuery, invalid, readJson, takes, validate } from './input.js';
import { limitOf, pageOf, wholeNumber } from './keyset.js';

const DEFAULT_LIMIT = 50;

const replaySchema = z.strictObject({
  key: z.string().min(1).optional(),
  feature: z.string().min(1).optional(),
  since: z.string().min(1).optional(),
  force: z.boolean().optional(),
});

export interface ActionsApiOptions {
  sql: postgres.Sql;
  /** The project's features as the server loaded them (absent: replay checks no name). */
  features?: Feature[];
  /** Where their files are, as the refusal of an unknown feature shows it. */
  featuresDir?: string;
  maxBodyBytes?: number;
}

export function actionsRoutes(options: ActionsApiOptions): Hono<ApiEnv> {
  const { sql, features } = options;
  const api = new Hono<ApiEnv>();

  api.get('/', takes('status', 'feature', 'since', 'before', 'limit'), async (c) => {
    const status = c.req.query('status') || undefined;
    if (status && !(ACTION_STATUSES as readonly string[]).includes(status)) {
      throw new HttpError(
        400,
        'bad_query',
        `status: expected one of ${ACTION_STATUSES.join(', ')}, got "${status}"`,
      );
    }
    const feature = c.req.query('feature') || undefined;
    const sinceMs = durationQuery(c.req.query('since'), 'since');
    const before = wholeNumber(c.req.query('before'), 'before');
    const limit = limitOf(c.req.query('limit'), DEFAULT_LIMIT);
    const rows = await sql<
      (Omit<ActionRun, 'created_at' | 'updated_at'> & { created_at: Date; updated_at: Date })[]
    >`
      select r.id::float8 as id, r.key, r.feature, r.stage, r.kind, r.status, r.attempts, r.replays,
             r.attempts_before_replay, r.last_error,
             coalesce(c.email, c.auth_user_id::text, r.contact_id::text) as contact,
             r.created_at, r.updated_at
        from nudge_engine.action_runs r
        left join nudge_engine.contacts c on c.id = r.contact_id
       where true
         ${status ? sql`and r.status = ${status}` : sql``}
         ${feature ? sql`and r.feature = ${feature}` : sql``}
         ${sinceMs !== undefined ? sql`and r.created_at >= ${new Date(Date.now() - sinceMs)}` : sql``}
         ${before !== undefined ? sql`and r.id < ${before}` : sql``}
       order by r.id desc limit ${limit + 1}`;
    const { page, next } = pageOf(rows, limit);
    if (page.length === 0) {
      await checkFeatureFilter(options, feature, (name) => hasActionRuns(sql, name));
    }
    return c.json({
      items: page.map((row) => ({
        ...row,
        created_at: row.created_at.toISOString(),
        updated_at: row.updated_at.toISOString(),
      })),
      next,
    } satisfies ActionPage);
  });

  api.post('/replay', async (c) => {
    const body = validate(replaySchema, await readJson(c, options.maxBodyBytes ?? 1_048_576));
    const filter = filterOf(body);
    const queued = await replayActions(sql, filter).catch((error: unknown) => {
      if (!(error instanceof RunNotDead)) throw error;
      throw new HttpError(
        409,
        'not_dead',
        `${error.message}: a replay sends dead runs only ({ "key", "force": true } sends it whatever its status)`,
      );
    });
    if (queued === 0) {
      // As `nudge replay` does: nothing matched because a name given is of
      // nothing — a key no run has, a feature no file has and no run was made for.
      if (body.key && !(await hasActionRun(sql, body.key)))
        throw invalid('key', `no action run has the key ${body.key}`);
      if (body.feature && features && !(await hasActionRuns(sql, body.feature))) {
        const unknown = unknownFeatureText(
          features,
          body.feature,
          options.featuresDir ?? 'features',
        );
        if (unknown) throw invalid('feature', unknown);
      }
    }
    return c.json({ queued });
  });
  return api;
}

/** replayFilter, its errors as a 422 naming the body's field. */
function filterOf(body: ReplayFilterText): ReplayFilter {
  try {
    return replayFilter(body);
  } catch (error) {
    if (!(error instanceof ReplayFilterError)) throw error;
    // The CLI names the value in its flag (--since lately: …); here it follows the problem.
    const hint = error.field
      ? error.field === 'force'
        ? ''
        : `, got ${JSON.stringify(body[error.field])}`
      : ': { "key" }, { "feature" } or { "since": "1h" }';
    throw invalid(error.field ?? '(body)', error.problem + hint);
  }
}
