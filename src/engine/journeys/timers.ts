// Durable waits: a journey waiting in a stage has journeys.wake_at; this loop
// claims the due ones (FOR UPDATE SKIP LOCKED, so several workers share them
// and none is stepped twice) and steps them in a transaction with their
// decisions and actions. Waits survive restarts because they are rows.
//
// Features change under waiting journeys (a deploy, a restart with other
// files): the first pass that runs a feature as compiled now first moves the
// wake-ups of its journeys to fit it (rearmWaits) — a wait shortened wakes
// them earlier, a stage removed or renamed wakes them now, and the machine
// ends them with a decision. A wait made longer needs nothing: the timer
// comes early and the machine arms it again.
import { contactRow } from '../../contacts/store.js';
import type { ProcessContext } from '../lanes/context.js';
import { committed, finish } from '../lanes/finish.js';
import type { FeatureSet, RuntimeFeature } from '../match/features.js';
import { claimTimers } from '../sql/claim-timers.js';
import { endJourney } from '../sql/end-journey.js';
import { stageWaitMs } from './machine.js';
import { rearmWaits, type StageWait } from './rearm-waits.js';
import { handleTimer, type StepEnv } from './store.js';

/** The features (as compiled: a deploy compiles new ones) whose journeys' wake-ups were fitted to them. */
const fitted = new WeakSet<RuntimeFeature>();

/** Whether some feature runs as compiled since the last pass: the next pass fits wake-ups to it. */
export function waitsToFit(features: FeatureSet): boolean {
  return features.all().some((f) => !fitted.has(f));
}

export async function processTimers(ctx: ProcessContext, batch = 100): Promise<number> {
  const unfitted = ctx.features.all().filter((f) => !fitted.has(f));
  const done = await ctx.engine.begin(async (tx) => {
    const now = ctx.clock.now();
    // Rows a step held were skipped: the features stay to fit on a later pass.
    const fits = unfitted.length === 0 || (await rearmWaits(tx, stageWaits(unfitted), now));
    const due = await claimTimers(tx, now, batch);
    if (due.length === 0) return { count: 0, attemptHere: [], fits };
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
    return { count: due.length, attemptHere: await finish(tx, ctx, env), fits };
  });
  if (done.fits) for (const feature of unfitted) fitted.add(feature);
  return committed(ctx, done);
}

/** Every stage of these features with its first wait, as rearmWaits fits wake-ups to them. */
function stageWaits(features: RuntimeFeature[]): StageWait[] {
  return features.flatMap((feature) =>
    [...feature.stages.values()].map((stage) => ({
      feature: feature.name,
      stage: stage.name,
      waitMs: stageWaitMs(stage) ?? null,
    })),
  );
}
