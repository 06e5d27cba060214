// /v1/features: each feature of the running project with its status (draft,
// active, paused — in its file or live), trigger, journey counts per stage,
// its deploy state (from the dashboard's latest plan: plans.ts,
// capture/feature-deploys.ts), its compiled state machine (stages,
// transitions, actions) and its YAML with secret-looking values hidden; and
// the live pause switch (POST /v1/features/:name/pause | resume, the same as
// `nudge pause`).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Hono } from 'hono';
import type postgres from 'postgres';
import { isMap, isPair, isScalar, parseDocument, visit } from 'yaml';
import { featureDeploy } from '../../capture/feature-deploys.js';
import type { FeatureDeploy, FeatureDetail, FeatureSummary } from '../../client/dashboard.js';
import type { Condition } from '../../conditions/index.js';
import { describeTest } from '../../conditions/index.js';
import type { LoadedConfig } from '../../config/load.js';
import {
  type FeaturePause,
  featurePauses,
  pauseFeature,
  resumeFeature,
} from '../../engine/match/pauses.js';
import type { Feature, FeatureTrigger } from '../../features/load.js';
import { formatTableName } from '../../source/names.js';
import { HttpError } from '../http-error.js';
import type { ApiEnv } from './auth.js';
import { readOnlyReason } from './deploy.js';
import { featureNotFound } from './feature-filter.js';
import { durationQuery, noBody, readJson, takes, validate } from './input.js';
import { type Counts, journeyCounts } from './journey-counts.js';
import type { PlanReading, Plans } from './plans.js';

export interface FeaturesApiOptions {
  sql: postgres.Sql;
  /** Where feature files' paths are relative to (the project's working directory). */
  cwd: string;
  /** Largest body a pause or resume reads (it needs none). */
  maxBodyBytes?: number;
  /** The project's features as the server loaded them. */
  features: Feature[];
  /** Where their files are, as the 404 of a name no file has shows it (feature-filter.ts). */
  featuresDir: string;
  project: LoadedConfig;
  /** The dashboard's plans, whose latest says each feature's deploy state. */
  plans: Plans;
}

export function featuresRoutes(options: FeaturesApiOptions): Hono<ApiEnv> {
  const { sql, features, plans } = options;
  const readOnly = options.project.config.access === 'read-only';
  const api = new Hono<ApiEnv>();
  const find = (name: string) => {
    const feature = features.find((f) => f.name === name);
    if (feature) return feature;
    throw featureNotFound(options, name);
  };

  api.get('/', takes('window'), async (c) => {
    const window = durationQuery(c.req.query('window'), 'window');
    const summary = await summaries(sql, plans, window);
    return c.json(features.map(summary));
  });

  api.get('/:name', takes('window'), async (c) => {
    const feature = find(c.req.param('name'));
    const window = durationQuery(c.req.query('window'), 'window');
    const [summary, yaml] = await Promise.all([
      summaries(sql, plans, window, feature.name),
      readFile(path.resolve(options.cwd, feature.source.file), 'utf8').then(redactYaml, () => null),
    ]);
    return c.json({
      ...summary(feature),
      initial: feature.machine.initial,
      stages: stageViews(feature),
      exit: feature.exit ? conditionText(feature.exit) : null,
      yaml,
      file: feature.source.file.split(/[\\/]/).slice(-3).join('/'),
      deploy_refused: readOnly ? readOnlyReason(options.project) : null,
    } satisfies FeatureDetail);
  });

  for (const what of ['pause', 'resume'] as const) {
    api.post(`/:name/${what}`, async (c) => {
      validate(noBody, await readJson(c, options.maxBodyBytes ?? 1_048_576));
      const feature = find(c.req.param('name'));
      if (feature.status === 'draft') {
        throw new HttpError(409, 'feature_draft', `"${feature.name}" is a draft: it does not run`);
      }
      // Who, in the words docs/dashboard.md uses: a session is already named
      // ("dashboard", "api key <name>"); a bearer key is named here.
      const who = c.get('apiKey').name;
      const by = c.req.header('authorization') ? `api key ${who}` : who;
      if (what === 'pause') await pauseFeature(sql, feature.name, by);
      else await resumeFeature(sql, feature.name, by);
      return c.json((await summaries(sql, plans, undefined, feature.name))(feature));
    });
  }
  return api;
}

type Failing = Map<string, FeatureSummary['failing']>;

/** What a summary reads, for every feature or one (`only`): a function from a feature to its summary. */
async function summaries(
  sql: postgres.Sql,
  plans: Plans,
  window: number | undefined,
  only?: string,
): Promise<(feature: Feature) => FeatureSummary> {
  const [pauses, counts, failing, reading] = await Promise.all([
    featurePauses(sql),
    journeyCounts(sql, window, only),
    failingActions(sql, only),
    plans.recent(),
  ]);
  return (feature) => ({
    ...summaryOf(feature, pauses, counts, failing),
    deploy: deployOf(feature, reading),
  });
}

/** A feature's deploy state from the latest plan; unknown, with the reason, when there is none. */
function deployOf(feature: Feature, reading: PlanReading): FeatureDeploy {
  const unknown = (reason: string): FeatureDeploy => ({
    state: 'unknown',
    deployment: null,
    file_changed: false,
    captures: [],
    changes: [],
    reason,
  });
  if ('error' in reading) return unknown(reading.error);
  if (reading.latestError !== undefined) return unknown(reading.latestError);
  return featureDeploy(feature, reading.planned.plan, reading.latest);
}

/**
 * Each feature's action runs that are dead or being retried, now. A journey
 * completes when its stages are done, whatever became of their actions, so
 * the Features page says this beside the journey counts. Read through the
 * (status, updated_at) index: dead and retrying runs are the few.
 */
async function failingActions(sql: postgres.Sql, feature?: string): Promise<Failing> {
  const rows = await sql<{ feature: string; dead: number; retrying: number }[]>`
    select feature, count(*) filter (where status = 'dead')::int as dead,
           count(*) filter (where status = 'retrying')::int as retrying
      from nudge_engine.action_runs
     where status in ('dead', 'retrying') and feature is not null
       and (${feature ?? null}::text is null or feature = ${feature ?? null}::text)
     group by feature`;
  return new Map(rows.map((r) => [r.feature, { dead: r.dead, retrying: r.retrying }]));
}

function summaryOf(
  feature: Feature,
  pauses: FeaturePause[],
  counts: Counts,
  failing: Failing,
): Omit<FeatureSummary, 'deploy'> {
  const pause = pauses.find((p) => p.feature === feature.name);
  return {
    name: feature.name,
    description: feature.description ?? null,
    status:
      feature.status === 'draft'
        ? 'draft'
        : feature.status === 'paused' || pause
          ? 'paused'
          : 'active',
    paused_live: pause
      ? { at: new Date(pause.paused_at).toISOString(), by: pause.paused_by }
      : null,
    paused_in_file: feature.status === 'paused',
    trigger: triggerText(feature.trigger),
    counts: counts.get(feature.name) ?? { entered: 0, completed: 0, exited: 0, stages: {} },
    failing: failing.get(feature.name) ?? { dead: 0, retrying: 0 },
    // Without a contact mapping (table and scheduled triggers may have none) each
    // event runs its actions alone (lanes/event.ts runWithoutContact).
    journeys: Object.keys(feature.contact).length > 0,
  };
}

export function triggerText(trigger: FeatureTrigger): string {
  const when = trigger.when ? ` when ${conditionText(trigger.when)}` : '';
  switch (trigger.kind) {
    case 'table':
      return `${trigger.operations.join(', ')} on ${formatTableName(trigger.table)}${when}`;
    case 'event':
      return `event ${trigger.event}${when}`;
    case 'schedule':
      return `every ${durationText(trigger.everyMs)} over ${formatTableName(trigger.table)}${when}`;
  }
}

/** A feature's stages as the dashboard draws them: conditions and durations as text. */
export function stageViews(feature: Feature): FeatureDetail['stages'] {
  return [...feature.machine.stages.values()].map((stage) => ({
    name: stage.name,
    guard: stage.guard ? conditionText(stage.guard) : null,
    actions: stage.actions.map((a) => a.kind),
    transitions: stage.transitions.map((t) => ({
      to: t.to,
      when: t.when ? conditionText(t.when) : null,
      after: t.afterMs !== undefined ? durationText(t.afterMs) : null,
      until: t.until ? conditionText(t.until) : null,
      within: t.withinMs !== undefined ? durationText(t.withinMs) : null,
    })),
  }));
}

/** A condition as the user wrote it: `new.email not.is.null and new.is_anonymous is.false`. */
export function conditionText(condition: Condition, nested = false): string {
  switch (condition.kind) {
    case 'test':
      return describeTest(condition);
    case 'not':
      return `not (${conditionText(condition.item)})`;
    default: {
      const text = condition.items
        .map((item) => conditionText(item, true))
        .join(` ${condition.kind} `);
      return nested && condition.items.length > 1 ? `(${text})` : text;
    }
  }
}

const UNITS: [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/** 172800000 → "2d", 5400000 → "90m". */
export function durationText(ms: number): string {
  for (const [unit, size] of UNITS) if (ms % size === 0 && ms >= size) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

const SECRET_KEY = /secret|token|password|passwd|api[_-]?key|authorization|cookie/i;

/**
 * The feature file as written, with the value of any key that looks like a
 * secret hidden unless it is only a ${ENV} reference (no value in the file).
 */
export function redactYaml(text: string): string {
  const doc = parseDocument(text);
  let hidden = false;
  visit(doc, {
    Pair(_, pair) {
      if (!isPair(pair) || !isScalar(pair.key) || !SECRET_KEY.test(String(pair.key.value))) return;
      if (isMap(pair.value)) return;
      const value = isScalar(pair.value) ? String(pair.value.value) : '';
      if (/^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(value.trim())) return;
      if (isScalar(pair.value)) {
        pair.value.value = '(hidden)';
        hidden = true;
      }
    },
  });
  return hidden ? doc.toString() : text;
}
