// Whether any action run is of a name a user typed: a feature, an idempotency
// key, an email template. A name with runs behind it is known even when no
// file has it any more; one with none is a typo (the API's 422, the CLI's ✗).
import type postgres from 'postgres';

/** Whether any action run was made for `feature`. */
export async function hasActionRuns(sql: postgres.Sql, feature: string): Promise<boolean> {
  const [row] = await sql<{ found: boolean }[]>`
    select exists (select 1 from nudge_engine.action_runs where feature = ${feature}) as found`;
  return row?.found ?? false;
}

/** Whether an action run has this idempotency key, whatever its status. */
export async function hasActionRun(sql: postgres.Sql, key: string): Promise<boolean> {
  const [row] = await sql<{ found: boolean }[]>`
    select exists (select 1 from nudge_engine.action_runs where key = ${key}) as found`;
  return row?.found ?? false;
}

/** Whether any email was queued with `template` (its run's params, as email stats groups them). */
export async function hasEmailRuns(sql: postgres.Sql, template: string): Promise<boolean> {
  const [row] = await sql<{ found: boolean }[]>`
    select exists (select 1 from nudge_engine.action_runs
                    where kind = 'email' and params ->> 'template' = ${template}) as found`;
  return row?.found ?? false;
}
