// GET /v1/plan and POST /v1/deploy: the dashboard's Plan and Deploy buttons.
// The plan is `nudge plan`'s: the same feature files read from disk, checked
// against the live database, the same diff printed by the same renderer; the
// deploy is `nudge deploy --yes`'s (capture/deploy.ts), refused with the same
// reason in read-only mode. A deploy names the plan it was shown (`plan`, a
// hash of its statements) and is refused if the plan has changed since.
// What applying a plan would lose (a replication slot still holding changes
// no engine has read) is said on its item (`unread`, as the transport's
// losses note it); Deploy is then refused with a 409 of the transport's
// (unread_slot, naming each slot and what it holds), unless the request says
// `discardUnread: true` (`nudge deploy --discard-unread`). The plans made
// here are the latest the features' deploy state reads (plans.ts); the
// features a deploy applied are the ones the pages read from then on.
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import type postgres from 'postgres';
import { z } from 'zod';
import { deploy as applyPlan, planLosses } from '../../capture/deploy.js';
import { LossError } from '../../capture/loss-error.js';
import type { Plan } from '../../capture/plan.js';
import { afterPlanLine, columnLines, renderPlan } from '../../capture/print-plan.js';
import { transportOf } from '../../capture/transports/index.js';
import { readOnlyRefusal } from '../../cli/deploy.js';
import { memoryIo } from '../../cli/io.js';
import type { CapturePlan, DeployResult, UnreadSlot } from '../../client/dashboard.js';
import type { LoadedConfig } from '../../config/load.js';
import { featurePausesIfAny, pausesLine } from '../../engine/match/pauses.js';
import { messageWithHint, NudgeError } from '../../errors.js';
import type { Feature } from '../../features/load.js';
import { HttpError } from '../http-error.js';
import { captureSigningSecret } from '../ingest-secrets.js';
import type { ApiEnv } from './auth.js';
import { readJson, takes, validate } from './input.js';
import { makePlans, type Plans } from './plans.js';

export interface DeployApiOptions {
  /** The engine store. */
  sql: postgres.Sql;
  /** The user's database. */
  source: postgres.Sql;
  project: LoadedConfig;
  maxBodyBytes?: number;
  /** The plans it makes, shared with the features' deploy state (plans.ts); its own by default. */
  plans?: Plans;
  /**
   * The features the dashboard's pages read (trigger, stages), as the
   * server read their files: replaced in place by the ones a deploy from
   * here applied, before it answers — a page that reads its feature right
   * after Deploy sees them, not those of the server's start. (The engine
   * replaces them too once it reads the deployment: engine/wiring/launch.ts.)
   */
  features?: Feature[];
}

const deploySchema = z.strictObject({
  plan: z.string().min(1),
  /** Drop a replication slot even though it holds changes no engine has read: they are lost. */
  discardUnread: z.boolean({ error: 'expected true or false' }).optional(),
});

export function deployRoutes(options: DeployApiOptions): Hono<ApiEnv> {
  const { sql, source, project } = options;
  const plans = options.plans ?? makePlans(project, source);
  const api = new Hono<ApiEnv>();
  const readOnly = project.config.access === 'read-only';

  api.get('/plan', takes(), async (c) => {
    const { plan } = await planned(plans);
    // What the plan would lose, noted on its items.
    const losses = await planLosses(source, plan);
    const io = memoryIo();
    // The dashboard's way to resume, not the CLI's command.
    const paused = pausesLine(await featurePausesIfAny(sql), 0, 'dashboard');
    if (paused) io.io.out(paused);
    renderPlan(plan, io.io);
    if (plan.hasChanges) io.io.out(afterPlanLine(losses, { readOnly, on: 'dashboard' }).text);
    return c.json({
      access: project.config.access,
      changes: plan.hasChanges,
      counts: plan.counts,
      drift: plan.driftCount,
      items: plan.items.map((item) => ({
        action: item.action,
        kind: item.kind,
        subject: item.subject,
        detail: item.detail ?? null,
        drift: item.drift ?? [],
        columns: item.columns ? columnLines(item.columns) : [],
        unread: (item.loss as UnreadSlot | undefined) ?? null,
      })),
      text: io.stdout(),
      plan: fingerprint(plan),
      deployable: readOnly ? null : plan.hasChanges,
      refused: readOnly ? readOnlyReason(project) : null,
    } satisfies CapturePlan);
  });

  api.post('/deploy', async (c) => {
    const body = validate(deploySchema, await readJson(c, options.maxBodyBytes ?? 1_048_576));
    if (readOnly) throw new HttpError(409, 'read_only', readOnlyReason(project));
    const { plan, features } = await planned(plans);
    if (fingerprint(plan) !== body.plan) {
      throw new HttpError(
        409,
        'plan_changed',
        'the plan changed since it was shown (a feature file or the database changed): look at the new plan, then deploy again',
      );
    }
    const result = await applyPlan(source, plan.desired, {
      discardUnread: body.discardUnread === true,
    })
      .catch((error: unknown) => {
        throw deployRefusal(error);
      })
      .finally(() => plans.forget());
    options.features?.splice(0, options.features.length, ...features);
    const signing = transportOf(project).signing;
    if (signing) await signing.install(source, await captureSigningSecret(sql, project));
    return c.json({
      deployment: result.deploymentId ?? null,
      counts: result.plan.counts,
    } satisfies DeployResult);
  });
  return api;
}

/** The plan made now, or a 422 naming what in the feature files or the database stops it. */
async function planned(plans: Plans) {
  try {
    return await plans.fresh();
  } catch (error) {
    if (error instanceof NudgeError) {
      throw new HttpError(422, 'plan_failed', messageWithHint(error));
    }
    throw error;
  }
}

/**
 * What a failed deploy answers: a refused loss with its transport's 409
 * (unread_slot with each slot and what it holds), and the dashboard's ways
 * forward instead of the CLI's flag; 503
 * deploy_failed with the reason and its hint for the other refusals deploy
 * words (a lock it waited for, the source's error; nothing was changed).
 */
function deployRefusal(error: unknown): unknown {
  if (error instanceof LossError) {
    const { transport, where, code, fields } = error.loss;
    return new HttpError(
      409,
      code,
      `${error.message}; either keep them: set capture: ${transport} again in nudge.yaml and restart the engine with it (this one runs the capture it started with) until its log says it has read ${where}'s backlog, stop it, set your new capture back and start it again, then Plan: ${where}'s line says no changes waiting, and Deploy; or deploy again with discardUnread: true to drop ${where} and lose them`,
      {},
      fields,
    );
  }
  if (error instanceof NudgeError)
    return new HttpError(503, 'deploy_failed', messageWithHint(error));
  return error;
}

/** Why Deploy is refused from the dashboard in read-only mode: the CLI's refusal and its hint. */
export function readOnlyReason(project: LoadedConfig): string {
  const error = readOnlyRefusal(project);
  return `${error.message}; ${error.hint}`;
}

/** What identifies a plan: its statements, in order, and the feature files it records as changed. */
function fingerprint(plan: Plan): string {
  const hash = createHash('sha256');
  for (const item of plan.items)
    hash.update(
      `${item.action}\u0000${[...item.sql, ...(item.changes ?? [])].join('\u0000')}\u0001`,
    );
  return hash.digest('hex').slice(0, 32);
}
