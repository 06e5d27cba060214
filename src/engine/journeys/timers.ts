// Durable waits: a journey waiting in a stage has journeys.wake_at; this loop
// claims the due ones (FOR UPDATE SKIP LOCKED, so several workers share them
// and none is stepped twice) and steps them in a transaction with their
// decisions and actions. Waits survive restarts because they are rows.
import type postgres from 'postgres';
import { contactRow } from '../../contacts/store.js';
import type { ProcessContext } from '../lanes/context.js';
import { committed, finish } from '../lanes/finish.js';
import type { JourneyRow } from './machine.js';
import { handleTimer, type StepEnv } from './store.js';

/** Whether any journey's wait is over at `now` (a cheap look, outside any transaction). */
export async function timersDue(engine: postgres.Sql, now: Date): Promise<boolean> {
  const [row] = await engine<{ due: boolean }[]>`
    select exists (select 1 from nudge_engine.journeys
                    where status = 'active' and wake_at <= ${now}) as due`;
  return row?.due === true;
}

export async function processTimers(ctx: ProcessContext, batch = 100): Promise<number> {
  const done = await ctx.engine.begin(async (tx) => {
    const now = ctx.clock.now();
    const due = await tx<JourneyRow[]>`
      select feature, contact_id, status, stage, entries, entered_at, stage_entered_at, ended_at, wake_at, context
        from nudge_engine.journeys
       where status = 'active' and wake_at <= ${now}
       order by wake_at limit ${batch}
         for update skip locked`;
    if (due.length === 0) return { count: 0, attemptHere: [] };
    const env: StepEnv = {
      tx,
      now,
      decisions: [],
      actions: [],
      ...(ctx.frequencyCap ? { frequencyCap: ctx.frequencyCap } : {}),
    };
    for (const journey of due) {
      const feature = ctx.features.get(journey.feature);
      if (!feature) {
        // The feature was removed or drafted: end its journeys rather than keep waking them.
        await tx`update nudge_engine.journeys set status = 'exited', ended_at = ${now}, wake_at = null
                  where feature = ${journey.feature} and contact_id = ${journey.contact_id}`;
        env.decisions.push({
          at: now,
          inboxId: null,
          feature: journey.feature,
          contactId: journey.contact_id,
          outcome: 'exited',
          reason: 'feature is no longer active',
        });
        continue;
      }
      const contact = await contactRow(tx, journey.contact_id);
      await handleTimer(env, feature, journey, contact);
    }
    return { count: due.length, attemptHere: await finish(tx, ctx, env) };
  });
  return committed(ctx, done);
}
