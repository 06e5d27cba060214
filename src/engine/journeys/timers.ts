// Durable waits: a journey waiting in a stage has journeys.wake_at; this loop
// claims the due ones (FOR UPDATE SKIP LOCKED, so several workers share them
// and none is stepped twice) and steps them in a transaction with their
// decisions and actions. Waits survive restarts because they are rows.
import { contactRow } from '../../contacts/store.js';
import type { ProcessContext } from '../lanes/context.js';
import { committed, finish } from '../lanes/finish.js';
import { claimTimers } from '../sql/claim-timers.js';
import { endJourney } from '../sql/end-journey.js';
import { handleTimer, type StepEnv } from './store.js';

export async function processTimers(ctx: ProcessContext, batch = 100): Promise<number> {
  const done = await ctx.engine.begin(async (tx) => {
    const now = ctx.clock.now();
    const due = await claimTimers(tx, now, batch);
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
        await endJourney(tx, journey.feature, journey.contact_id, now);
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
