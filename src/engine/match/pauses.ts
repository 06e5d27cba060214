// Features paused live: `nudge pause <feature>`, the dashboard's switch, and
// every running engine process skipping the feature's events within about a
// second, without a restart.
//
// The switch is a row in nudge_engine.feature_pauses (migration 009). A
// statement trigger there NOTIFYs nudge_features on every change, whoever
// made it; each engine LISTENs and then reads the whole (small) table, so a
// notification carries no state that could arrive out of order. postgres.js
// calls the listen callback again after it reconnects, and the set is read
// again then: a change made while the connection was down is not missed.
//
// A resume deletes the row, so the row alone keeps no history: each pause
// and resume that changes the switch also writes a decision (outcome
// `paused` / `resumed`, the feature, no contact, no event; `detail.by`), in
// the same statement, so the log holds one exactly when the switch moved.
// `nudge logs`, the dashboard's Logs and GET /v1/decisions show them among
// the decisions. A change by hand (psql) is read by the engines all the
// same, but logs nothing.
import type postgres from 'postgres';
import type { Log } from '../../log.js';
import { engineNowSql } from '../wiring/clock.js';
import type { FeatureSet } from './features.js';

export const PAUSES_CHANNEL = 'nudge_features';

export interface FeaturePause {
  feature: string;
  paused_at: Date;
  /** Who paused it: "cli", "dashboard", "api key <name>". */
  paused_by: string;
}

/** The decision log's outcomes for the switch: `nudge logs`, Logs, GET /v1/decisions?outcome=paused. */
export const SWITCH_OUTCOMES = ['paused', 'resumed'] as const;

/**
 * The switch's decision, written in its statement for each row the switch
 * changed (the CTE `changed`: none, none written). Stamped on the engine
 * clock, as every decision is (the readers show the log, its from/to and
 * --since in engine time), so it sits among the skips it causes when nudge
 * clock has moved time ahead; the pause's own row (paused_at) stays in real
 * time, as `paused` on GET /v1/decisions says it.
 */
const logSwitch = (
  sql: postgres.Sql,
  outcome: (typeof SWITCH_OUTCOMES)[number],
  reason: string,
  by: string,
) => sql`
  insert into nudge_engine.decisions (at, feature, outcome, reason, detail)
  select ${engineNowSql(sql)}, feature, ${outcome}, ${reason}, jsonb_build_object('by', ${by}::text)
    from changed`;

/**
 * Pauses a feature; false when it was paused already (the first pause is
 * kept, and only it is logged). `by`: "cli", "dashboard", "api key <name>".
 */
export async function pauseFeature(sql: postgres.Sql, feature: string, by: string) {
  const rows = await sql`
    with changed as (
      insert into nudge_engine.feature_pauses (feature, paused_by) values (${feature}, ${by})
      on conflict (feature) do nothing returning feature
    ), logged as (
      ${logSwitch(sql, 'paused', `by ${by}: its events are skipped until it is resumed`, by)}
    )
    select feature from changed`;
  return rows.length > 0;
}

/** Resumes a feature; false when it was not paused live (nothing is logged then). `by` as for a pause. */
export async function resumeFeature(sql: postgres.Sql, feature: string, by: string) {
  const rows = await sql`
    with changed as (
      delete from nudge_engine.feature_pauses where feature = ${feature} returning feature
    ), logged as (
      ${logSwitch(sql, 'resumed', `by ${by}: its events are no longer skipped as paused`, by)}
    )
    select feature from changed`;
  return rows.length > 0;
}

export async function featurePauses(sql: postgres.Sql): Promise<FeaturePause[]> {
  return sql<FeaturePause[]>`
    select feature, paused_at, paused_by from nudge_engine.feature_pauses order by feature`;
}

/**
 * Keeps `features`' live pauses current: read once before it returns (so an
 * engine starts with them), then again on every notification and reconnect.
 * A failed read is retried a second later; without LISTEN it reads every second.
 */
export async function watchPauses(
  sql: postgres.Sql,
  features: FeatureSet,
  log: Log,
): Promise<{ stop(): Promise<void> }> {
  let stopped = false;
  let reading: Promise<void> | undefined;
  let again = false;
  let retry: NodeJS.Timeout | undefined;
  const read = async () => {
    const pauses = await featurePauses(sql);
    features.setPausedLive(pauses.map((p) => p.feature));
  };
  // One read at a time; a notification during a read asks for one more after it.
  const reload = (): void => {
    if (stopped) return;
    if (reading) {
      again = true;
      return;
    }
    reading = read()
      .catch((error: unknown) => {
        log.warn({ error: (error as Error).message }, 'reading paused features failed; retrying');
        clearTimeout(retry);
        retry = setTimeout(reload, 1000);
        retry.unref();
      })
      .finally(() => {
        reading = undefined;
        if (again) {
          again = false;
          reload();
        }
      });
  };
  await read();
  let poll: NodeJS.Timeout | undefined;
  const listener = await sql.listen(PAUSES_CHANNEL, reload, reload).catch((error: unknown) => {
    log.warn({ error: (error as Error).message }, `LISTEN ${PAUSES_CHANNEL} failed; polling`);
    poll = setInterval(reload, 1000);
    poll.unref();
    return undefined;
  });
  return {
    async stop() {
      stopped = true;
      clearTimeout(retry);
      clearInterval(poll);
      await listener?.unlisten().catch(() => {});
      await reading;
    },
  };
}

/** The live pauses, or none when the engine store was never migrated this far (plan on a new database). */
export async function featurePausesIfAny(sql: postgres.Sql): Promise<FeaturePause[]> {
  const [table] = await sql<{ present: boolean }[]>`
    select to_regclass('nudge_engine.feature_pauses') is not null as present`;
  return table?.present ? featurePauses(sql) : [];
}

/**
 * "paused live: welcome-drip (cli, 2026-03-01 09:00) — nudge resume
 * <feature>", or undefined when none is. `on`: where it is read, which says
 * how to resume — the CLI's command, or the dashboard's Resume (the plan the
 * dashboard shows).
 */
export function pausesLine(
  pauses: FeaturePause[],
  clockOffsetMs = 0,
  on: 'cli' | 'dashboard' = 'cli',
): string | undefined {
  if (pauses.length === 0) return undefined;
  // Paused at real time: said so beside lines on a moved engine clock (nudge logs).
  const clock = clockOffsetMs === 0 ? '' : ' real time';
  const when = (at: Date) => `${new Date(at).toISOString().replace('T', ' ').slice(0, 16)}${clock}`;
  const resume =
    on === 'cli'
      ? 'nudge resume <feature>'
      : `Resume on the feature's page (Features → ${pauses.length === 1 ? pauses[0]!.feature : 'the feature'})`;
  return `paused live: ${pauses.map((p) => `${p.feature} (${p.paused_by}, ${when(p.paused_at)})`).join(', ')} — ${resume}`;
}
