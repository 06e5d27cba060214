// What the lanes and the timers run with: the engine store, the features, the
// clock, and where their actions and new contacts go (runtime.ts builds it).
import type postgres from 'postgres';
import type { FirstAttempts } from '../../actions/first-attempt.js';
import type { NewActionRun } from '../../actions/types.js';
import type { FeaturesAt } from '../../capture/transports/port.js';
import type { LiveSync } from '../../contacts/live.js';
import type { ContactIdentity } from '../../contacts/store.js';
import type { StepEnv } from '../journeys/store.js';
import type { FeatureSet } from '../match/features.js';
import type { Clock } from '../wiring/clock.js';

export interface ProcessContext {
  engine: postgres.Sql;
  features: FeatureSet;
  clock: Clock;
  frequencyCap?: { max: number; perMs: number };
  enqueueActions: (tx: postgres.TransactionSql, runs: NewActionRun[]) => Promise<unknown>;
  /**
   * When set, actions are recorded through it instead, and the runs it keeps
   * are attempted by this process once the transaction commits
   * (first-attempt.ts).
   */
  firstAttempts?: Pick<FirstAttempts, 'record' | 'start'>;
  /** Told when a batch could not be processed together and goes one event at a time. */
  onBatchFallback?: (error: unknown) => void;
  /** Fills contacts the engine just created (e.g. from auth.users); see launch.ts. */
  onContactsCreated?: (
    tx: postgres.TransactionSql,
    created: { id: string; identity: ContactIdentity }[],
  ) => Promise<void>;
  /** Captured changes of auth.users, storage.objects and mapped tables applied to contacts (contacts/live.ts). */
  liveSync?: LiveSync;
  /** The deployment `features` were read at, and reading them again (engine/wiring/follow-deploys.ts). */
  deploys?: FeaturesAt;
}

export function cap(ctx: ProcessContext): Pick<StepEnv, 'frequencyCap'> {
  return ctx.frequencyCap ? { frequencyCap: ctx.frequencyCap } : {};
}
