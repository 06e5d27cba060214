// `nudge deploy`: shows the plan, asks, applies it in one transaction.
// `--sql` prints the change as a script instead (works in read-only mode).

import { deploy as applyPlan, planLosses, planScript, refuseItems } from '../capture/deploy.js';
import { FEATURE_LIST } from '../capture/features-deployed.js';
import type { Action, Plan } from '../capture/plan.js';
import { BACKFILL_HINT, renderPlan } from '../capture/print-plan.js';
import { transportOf } from '../capture/transports/index.js';
import type { LoadedConfig } from '../config/load.js';
import { openEngineStore } from '../db/engine.js';
import { NudgeError } from '../errors.js';
import { captureSigningSecret } from '../server/ingest-secrets.js';
import type { Sql } from '../source/connect.js';
import { redactUrl } from '../source/connect.js';
import { NUDGE_VERSION } from '../version.js';
import { planChange, printHeader } from './capture.js';
import type { Io } from './io.js';
import { noFeaturesLine } from './plan.js';
import type { GlobalOptions } from './program.js';
import { loadProject, withSource } from './project.js';

export interface DeployOptions extends GlobalOptions {
  yes?: boolean;
  sql?: boolean;
  /** Drop a replication slot even though it holds changes no engine has read. */
  discardUnread?: boolean;
}

export async function deploy(options: DeployOptions, io: Io): Promise<number> {
  const project = await loadProject(options, io);
  if (project.config.access === 'read-only' && !options.sql) throw readOnlyRefusal(project);
  return withSource(project, async (session) => {
    const { features, plan } = await planChange(project, session.sql);
    // What the plan would lose (a dropped slot's unread changes), noted on its
    // items: the script says it above the drop, as the plan says it under it.
    const losses = await planLosses(session.sql, plan);
    if (options.sql) {
      for (const loss of losses) {
        if (!options.discardUnread) throw loss.refusal('deploy', { sql: true });
        io.err(io.colors.yellow(`  ${loss.notice} when the script runs`));
      }
      io.out(
        planScript(plan, {
          transaction: true,
          header: [
            `Nudge ${NUDGE_VERSION} deploy for ${redactUrl(session.url)}, ${new Date().toISOString()}`,
            'Apply with: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f <this file>',
          ],
        }).trimEnd(),
      );
      const signing = transportOf(project).signing;
      if (signing) io.err(io.colors.dim(signing.notInScript));
      return 0;
    }
    printHeader(io, 'deploy', project, session, features);
    renderPlan(plan, io);
    noFeaturesLine(plan, features, project, io);
    if (!plan.hasChanges) return 0;
    // Refused before asking; applyPlan checks again inside its lock, measuring
    // again only what changed since this plan was measured (`accepted`).
    refuseItems(plan);
    for (const loss of losses) {
      if (!options.discardUnread) throw loss.refusal('deploy');
      io.out(io.colors.yellow(`  ${loss.notice}`));
    }
    if (!options.yes) {
      if (!io.confirm) {
        throw new NudgeError(
          'deploy needs confirmation and there is no terminal to ask',
          `review \`nudge plan\`, then run \`nudge deploy${options.discardUnread ? ' --discard-unread' : ''} --yes\``,
        );
      }
      if (!(await io.confirm('\nApply these changes?'))) {
        io.out('Nothing deployed.');
        return 1;
      }
    }
    const result = await applyPlan(session.sql, plan.desired, {
      discardUnread: options.discardUnread === true,
      accepted: plan,
    });
    await installCaptureSecret(project, session.sql, io);
    if (result.deploymentId === undefined) {
      io.out('\nNothing to do: the database changed meanwhile and now matches the features.');
      return 0;
    }
    const done = (['create', 'replace', 'drop'] as const).map(
      (action) => `${result.plan.counts[action]} ${PAST[action]}${kindsOf(result.plan, action)}`,
    );
    io.out(`\n${io.colors.green('✓')} Deployment #${result.deploymentId}: ${done.join(', ')}.`);
    if (losses.length)
      io.out(io.colors.dim(`What was discarded is not replayed: ${BACKFILL_HINT}.`));
    return 0;
  });
}

const PAST = { create: 'created', replace: 'replaced', drop: 'dropped' } as const;

/** " (3 publications, 1 slot)": what the deployment's items of one action were. */
function kindsOf(plan: Plan, action: Action): string {
  const counts = new Map<string, number>();
  let withRows = 0;
  for (const item of plan.items)
    if (item.action === action) {
      // A capture item is a trigger, or an old outbox's rows table.
      const kind =
        item.kind !== 'capture'
          ? item.kind
          : item.subject.startsWith('table ')
            ? 'rows table'
            : 'trigger';
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
      // A typed capture's rows table is made with its trigger (one item) and
      // dropped on its own (another): said beside the triggers it came with.
      if (item.createsRowsTable) withRows++;
    }
  const kinds = [...counts].map(([kind, n]) => {
    if (kind === FEATURE_LIST) return `the ${kind}`;
    const words =
      n === 1 ? `1 ${kind}` : `${n} ${kind.replace(/y$/, 'ie').replace(/([^s])$/, '$1s')}`;
    return kind === 'trigger' && withRows > 0 ? `${words} (${withRows} with a rows table)` : words;
  });
  return kinds.length ? ` (${kinds.join(', ')})` : '';
}

/** Why a read-only project does not deploy, and what to do instead (the CLI and the dashboard). */
export function readOnlyRefusal(project: LoadedConfig): NudgeError {
  const place = project.source?.placeOf(['access']);
  return new NudgeError(
    `access is read-only${place ? ` (${place.file}:${place.line})` : ''}: deploy refuses to write to the database`,
    '`nudge deploy --sql` prints the change as SQL you can review and apply yourself; or set access: read-write',
  );
}

/**
 * A transport that signs what it sends (capture: webhook) keeps its key in
 * the source database; it comes from the engine store's encrypted secrets,
 * and is written with a parameter, never into plan SQL. Nothing for others.
 */
export async function installCaptureSecret(
  project: LoadedConfig,
  source: Sql,
  io: Io,
): Promise<void> {
  const signing = transportOf(project).signing;
  if (!signing) return;
  const store = await openEngineStore(project, { max: 2 });
  try {
    const secret = await captureSigningSecret(store.sql, project);
    if (await signing.install(source, secret)) {
      io.out(`${io.colors.green('✓')} ${signing.installed}`);
    }
  } finally {
    await store.close();
  }
}
