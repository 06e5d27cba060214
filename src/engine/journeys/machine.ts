// The journey state machine, pure: one journey per (feature, contact), moved
// by a step — an event that matched the feature's trigger (a scheduled
// feature's rows arrive as such events too), an event for a contact already
// in the journey, or a timer whose wake_at has come. `stepJourney` is given
// the step, the compiled feature, the contact as known, the journey row (or
// none), the frequency-cap count and `now`, and returns what the step decided
// (with reasons), the actions to queue (each with its idempotency key) and the
// journey row to write, whose wake_at is the next wake-up. It reads no
// database and no clock and does no I/O: the engine (store.ts loads its
// inputs and writes its outputs in the lane's transaction), the backtest
// (a simulated clock, no effects) and the tests run this same code.
//
// Entering. A contact enters when the feature's trigger matches and it is not
// already in the journey, subject to re_entry (never: once ever), max_entries
// and cooldown (time since its last entry). `restart` re-enters a contact that
// is still in the journey, under the same limits; otherwise (or when they
// refuse) the event may move it along instead.
//
// Stages. Entering a stage runs its actions in order (unless its if/unless
// guard says no): goto moves on at once, exit ends the journey, every other
// action is queued with the key feature:contact:entry:stage:index (the stage
// written stage.n on its n-th visit in the entry, see actionKey), so a
// retried step never doubles an effect and a stage come back to sends again.
// Then the stage's transitions decide: none → the journey is complete; one
// without a wait → taken now; `after` → a durable timer (wake_at); `until` →
// taken as soon as it holds (checked now, on every event of the contact, and
// when `within` runs out — then the journey ends as timed out); `when` →
// taken on an event that makes it true. A timer that fires late takes the
// wait that ran out first.
// `exit.when` ends the journey on any event that makes it true. A chain of
// stages without a wait stops after MAX_CHAIN (a loop in the feature).
//
// Deploys. The machine runs the feature as it is now: a journey whose stage
// was removed or renamed is ended (exited, with a decision) by its next step,
// and a trigger may then enter the contact again; a wait that ran out is
// taken as the file says now (timers.ts moves wake-ups when a wait changes).
//
// Frequency cap. actions.frequency_cap limits emails per contact per window
// across all features: given the emails the contact already has in the
// window, an email that would reach the cap is skipped with a decision.
import type { NewActionRun, TemplateContext } from '../../actions/types.js';
import { explain } from '../../conditions/index.js';
import { durationInWords } from '../../config/duration-words.js';
import type {
  Predicate,
  Row,
  RuntimeFeature,
  RuntimeStage,
  RuntimeTransition,
} from '../match/features.js';
import {
  type Assignment,
  applyVariant,
  assign,
  isMessage,
  type MeasuredEntry,
  UNDIVIDED,
} from './experiment.js';

/** The event a step is about, as the journey keeps it (journeys.context) for later steps and templates. */
export interface EventFacts {
  inboxId: number | null;
  name?: string;
  schema?: string;
  table?: string;
  operation?: string;
  newRow: Row | null;
  oldRow: Row | null;
  enrichment?: unknown;
  occurredAt: Date;
}

export interface Decision {
  at: Date;
  inboxId: number | null;
  feature: string | null;
  contactId: string | null;
  outcome:
    | 'matched'
    | 'skipped'
    | 'entered'
    | 'advanced'
    | 'completed'
    | 'exited'
    | 'action'
    | 'synced'
    | 'error';
  reason: string;
  detail?: Record<string, unknown>;
}

/** A row of nudge_engine.journeys. */
export interface JourneyRow {
  feature: string;
  contact_id: string;
  status: 'active' | 'completed' | 'exited';
  stage: string | null;
  entries: number;
  entered_at: Date | null;
  stage_entered_at: Date | null;
  ended_at: Date | null;
  wake_at: Date | null;
  context: JourneyContext | Record<string, never>;
}

/**
 * What a journey keeps of its entry (journeys.context): the event that made
 * the contact enter, and how many times this entry has entered each stage —
 * a stage entered again (a loop back with a wait, a goto to an earlier
 * stage) queues its actions under keys of their own (actionKey).
 */
export type JourneyContext = EventFacts & { visits?: Record<string, number> };

/** What moves a journey. */
export type JourneyStep =
  /** An event that matched the feature's trigger, for this contact. */
  | { kind: 'trigger'; contactId: string; facts: EventFacts }
  /** An event of a contact already in the journey: exit.when and `when` / `until` transitions. */
  | { kind: 'event'; facts: EventFacts }
  /** The journey's wake_at has come: a due `after`, or an `until` whose `within` ran out. */
  | { kind: 'timer' };

export interface StepInput {
  step: JourneyStep;
  feature: RuntimeFeature;
  /** The contact as conditions and templates see it. */
  contact: Row | null;
  /** The journey of (feature, contact) as stored, or null: none yet. Not changed. */
  journey: JourneyRow | null;
  now: Date;
  /**
   * actions.frequency_cap, when set: `max` emails per window, and how many
   * the contact already has in the window (sent before, and queued earlier in
   * the same transaction). Needed only for a feature that sends email.
   */
  frequencyCap?: { max: number; emailsInWindow: number };
  /**
   * false: queued actions carry NO_CONTEXT instead of their template context.
   * For the backtest, which counts actions and never renders one; the engine
   * leaves it unset.
   */
  templateContexts?: boolean;
}

/** The template context of an action that will never be rendered (the backtest's). */
const NO_CONTEXT: TemplateContext = Object.freeze({ contact: null });

export interface StepOutcome {
  decisions: Decision[];
  actions: NewActionRun[];
  /** The journey row to write (its wake_at is the next wake-up), or null: nothing changed. */
  journey: JourneyRow | null;
  /** Whether the journey moved: false for a skipped trigger, an event nothing waits on, a timer not due. */
  moved: boolean;
  /** An entry into a feature with a goal: the contact's group, for the store to record (experiment.ts). */
  measured?: MeasuredEntry;
}

/** Stages entered in one step without a wait before the machine calls it a loop. */
export const MAX_CHAIN = 32;

/** One step of a journey: its decisions, its actions and the journey row to write. */
export function stepJourney(input: StepInput): StepOutcome {
  const run = new Run(input);
  run.moved = run.step();
  return run.outcome();
}

/**
 * The idempotency key of a stage's action: once per contact, entry, stage
 * visit and position. The first visit of a stage in an entry is
 * `feature:contact:entry:stage:index`; a later one writes the stage as
 * `stage.n` (stage names have no dot). The visit is counted in the journey
 * row the step starts from, so a step retried after a crash (its row not
 * committed) computes the same keys, and a journey that comes back to a
 * stage sends again.
 */
function actionKey(
  feature: string,
  contactId: string,
  entry: number,
  stage: string,
  visit: number,
  index: number,
): string {
  return `${feature}:${contactId}:${entry}:${visit > 1 ? `${stage}.${visit}` : stage}:${index}`;
}

/** The working state of one step. */
class Run {
  readonly decisions: Decision[] = [];
  readonly actions: NewActionRun[] = [];
  private changed: JourneyRow | null = null;
  private emailsQueued = 0;
  private measured: MeasuredEntry | undefined;
  moved = false;

  constructor(private readonly input: StepInput) {}

  outcome(): StepOutcome {
    const outcome: StepOutcome = {
      decisions: this.decisions,
      actions: this.actions,
      journey: this.changed,
      moved: this.moved,
    };
    if (this.measured) outcome.measured = this.measured;
    return outcome;
  }

  /** The contact's group in the feature's experiment (everyone is treated without one). */
  private groupOf(contactId: string): Assignment {
    const experiment = this.feature.feature.experiment;
    return experiment ? assign(this.feature.name, contactId, experiment) : UNDIVIDED;
  }

  /**
   * The input row is never changed: a step that moves the journey moves a
   * copy (`copy(journey)` where it decides to), and most steps move nothing
   * (an event for a contact already in the journey), so they copy nothing.
   */
  step(): boolean {
    const { step, journey } = this.input;
    if (step.kind === 'trigger') return this.trigger(step.contactId, step.facts, journey);
    if (!journey) return false;
    if (step.kind === 'event') return this.onEvent(journey, step.facts);
    return this.onTimer(journey);
  }

  private get feature() {
    return this.input.feature;
  }

  private get now() {
    return this.input.now;
  }

  private decide(
    facts: EventFacts | null,
    contactId: string | null,
    outcome: Decision['outcome'],
    reason: string,
    detail?: Record<string, unknown>,
  ) {
    this.decisions.push({
      at: this.now,
      inboxId: facts?.inboxId ?? null,
      feature: this.feature.name,
      contactId,
      outcome,
      reason,
      ...(detail ? { detail } : {}),
    });
  }

  private holds(predicate: Predicate | undefined, facts: EventFacts) {
    if (!predicate) return { ok: true, why: '' };
    const verdict = predicate.test({
      now: this.now,
      new: facts.newRow,
      old: facts.oldRow,
      contact: this.input.contact,
    });
    return { ok: verdict.result, why: verdict.result ? '' : explain(verdict) };
  }

  /** The row to write: every journey saved is already a copy of the input's (copy(), enter). */
  private save(journey: JourneyRow) {
    this.changed = journey;
  }

  private trigger(contactId: string, facts: EventFacts, given: JourneyRow | null): boolean {
    let journey = given;
    if (journey?.status === 'active' && this.stageGone(journey)) {
      // Its stage was removed or renamed since: the journey ends, and the
      // contact may enter again under the entry rules.
      journey = this.leaveGoneStage(journey, facts);
    }
    if (journey?.status === 'active') {
      const restart = this.feature.feature.reEntry === 'restart';
      // A restart is an entry: the entry rules bound it too.
      const refused = restart ? this.refusal(journey) : undefined;
      if (restart && !refused) {
        this.decide(
          facts,
          contactId,
          'exited',
          `restarted: re_entry is restart (was at stage ${journey.stage})`,
        );
        this.enter(contactId, facts, journey);
        return true;
      }
      if (this.onEvent(journey, facts)) return true;
      const why = refused ?? { reason: `already in the journey at stage ${journey.stage}` };
      this.decide(facts, contactId, 'skipped', why.reason, why.detail);
      return false;
    }
    const refused = this.refusal(journey);
    if (refused) {
      this.decide(facts, contactId, 'skipped', refused.reason, refused.detail);
      return false;
    }
    this.enter(contactId, facts, journey);
    return true;
  }

  /**
   * Why the entry rules refuse the contact another entry (re_entry: never,
   * max_entries, cooldown since its last entry), or undefined: it may enter.
   * A restart is an entry too, so they bound it as well.
   */
  private refusal(
    journey: JourneyRow | null,
  ): { reason: string; detail?: Record<string, unknown> } | undefined {
    const spec = this.feature.feature;
    const entries = journey?.entries ?? 0;
    if (spec.reEntry === 'never' && entries > 0) {
      return { reason: 'already entered once (re_entry: never)' };
    }
    if (spec.maxEntries !== undefined && entries >= spec.maxEntries) {
      return { reason: `max entries reached (${entries} of ${spec.maxEntries})` };
    }
    if (spec.cooldownMs !== undefined && journey?.entered_at) {
      const until = new Date(new Date(journey.entered_at).getTime() + spec.cooldownMs);
      if (until > this.now) {
        return {
          reason: `cooldown until ${utcText(until)}`,
          detail: { cooldown_until: until.toISOString() },
        };
      }
    }
    return undefined;
  }

  /** Whether the journey waits in a stage the feature no longer has (removed or renamed by a deploy). */
  private stageGone(journey: JourneyRow): boolean {
    return journey.stage !== null && !this.feature.stages.has(journey.stage);
  }

  /** Ends a journey whose stage is gone; returns the ended row (saved). */
  private leaveGoneStage(journey: JourneyRow, facts: EventFacts | null): JourneyRow {
    const ended = copy(journey);
    this.end(ended, 'exited', `stage ${journey.stage} is no longer in the feature`, facts);
    return ended;
  }

  /** An event for a contact already in the journey: exit.when, then the current stage's transitions. */
  private onEvent(journey: JourneyRow, facts: EventFacts): boolean {
    if (journey.status !== 'active') return false;
    if (this.stageGone(journey)) {
      this.leaveGoneStage(journey, facts);
      return true;
    }
    if (this.feature.exit && this.holds(this.feature.exit, facts).ok) {
      this.end(copy(journey), 'exited', 'exit.when became true', facts);
      return true;
    }
    const stage = journey.stage ? this.feature.stages.get(journey.stage) : undefined;
    if (!stage) return false;
    for (const transition of stage.transitions) {
      const predicate = transition.when ?? transition.until;
      if (!predicate) continue;
      if (this.holds(predicate, facts).ok) {
        this.take(copy(journey), facts, transition, transition.when ? 'when' : 'until');
        return true;
      }
    }
    return false;
  }

  private onTimer(journey: JourneyRow): boolean {
    const facts = journey.context as EventFacts;
    if (journey.status !== 'active') return false;
    if (this.stageGone(journey)) {
      this.leaveGoneStage(journey, null);
      return true;
    }
    const stage = journey.stage ? this.feature.stages.get(journey.stage) : undefined;
    if (!stage || !journey.stage_entered_at) return false;
    const since = new Date(journey.stage_entered_at).getTime();
    const now = this.now.getTime();
    // The wait that ran out first: a timer that fires late (the engine was
    // down) takes the transition a timer on time would have taken.
    const due = waitsOf(stage)
      .filter((wait) => since + wait.ms <= now)
      .reduce<TimedWait | undefined>(
        (first, wait) => (first && first.ms <= wait.ms ? first : wait),
        undefined,
      );
    if (due && !due.within) {
      this.take(copy(journey), facts, due.transition, 'after');
      return true;
    }
    if (due) {
      if (this.holds(due.transition.until, facts).ok) {
        this.take(copy(journey), facts, due.transition, 'until');
      } else {
        this.end(
          copy(journey),
          'exited',
          `timed out: until did not hold within ${durationInWords(due.ms)}`,
          null,
        );
      }
      return true;
    }
    // Nothing due yet (the clock moved back, or a transition changed): re-arm.
    this.save({ ...journey, wake_at: nextWake(stage, since) });
    return false;
  }

  private enter(contactId: string, facts: EventFacts, previous: JourneyRow | null) {
    const journey: JourneyRow = {
      feature: this.feature.name,
      contact_id: contactId,
      status: 'active',
      stage: null,
      entries: (previous?.entries ?? 0) + 1,
      entered_at: this.now,
      stage_entered_at: null,
      ended_at: null,
      wake_at: null,
      context: facts,
    };
    const goal = this.feature.feature.goal;
    const group = goal ? this.groupOf(contactId).group : undefined;
    this.decide(
      facts,
      contactId,
      'entered',
      `entered (entry ${journey.entries}${this.feature.feature.experiment ? `, group ${group}` : ''})`,
    );
    if (goal && group !== undefined) {
      this.measured = {
        feature: this.feature.name,
        contactId,
        group,
        enteredAt: this.now,
        deadline: new Date(this.now.getTime() + goal.withinMs),
        inboxId: facts.inboxId,
      };
    }
    this.enterStage(journey, facts, this.feature.initial);
  }

  private take(journey: JourneyRow, facts: EventFacts, transition: RuntimeTransition, why: string) {
    if (transition.to === null) return this.end(journey, 'completed', `completed (${why})`, facts);
    seedVisits(journey);
    this.enterStage(journey, facts, transition.to, why);
  }

  private enterStage(journey: JourneyRow, facts: EventFacts, first: string, why?: string) {
    let name: string | null = first;
    // A stage entered again in this chain (no wait between) is a loop, not a
    // new visit: its actions keep the keys of its first hop, so the loop
    // sends once, not once per hop until MAX_CHAIN.
    const hops = new Map<string, number>();
    for (let hop = 0; name !== null && hop < MAX_CHAIN; hop++) {
      const stage: RuntimeStage = this.feature.stages.get(name)!;
      journey.stage = stage.name;
      journey.stage_entered_at = this.now;
      journey.wake_at = null;
      const visit = hops.get(stage.name) ?? countVisit(journey, stage.name);
      hops.set(stage.name, visit);
      this.decide(
        facts,
        journey.contact_id,
        'advanced',
        `stage ${stage.name}${why && hop === 0 ? ` (${why})` : ''}`,
      );
      const next = this.runActions(journey, facts, stage, visit);
      if (next === 'exit')
        return this.end(journey, 'exited', `exit action in stage ${stage.name}`, facts);
      if (next !== undefined) {
        name = next;
        continue;
      }
      if (stage.transitions.length === 0)
        return this.end(journey, 'completed', `completed after stage ${stage.name}`, facts);
      const immediate = stage.transitions.find(
        (t) => t.afterMs === undefined && !t.when && !t.until,
      );
      const ready =
        immediate ?? stage.transitions.find((t) => t.until && this.holds(t.until, facts).ok);
      if (ready) {
        if (ready.to === null)
          return this.end(journey, 'completed', `completed after stage ${stage.name}`, facts);
        name = ready.to;
        why = ready.until ? 'until' : undefined;
        continue;
      }
      journey.wake_at = nextWake(stage, this.now.getTime());
      return this.save(journey);
    }
    if (name !== null) {
      this.end(
        journey,
        'exited',
        `stopped after ${MAX_CHAIN} stages without a wait (a loop?)`,
        facts,
      );
    }
  }

  /** Queues a stage's actions; returns a goto target, 'exit', or undefined. */
  private runActions(
    journey: JourneyRow,
    facts: EventFacts,
    stage: RuntimeStage,
    visit: number,
  ): string | 'exit' | undefined {
    const guard = this.holds(stage.guard, facts);
    if (!guard.ok) {
      this.decide(
        facts,
        journey.contact_id,
        'skipped',
        `stage ${stage.name}: actions skipped, ${guard.why}`,
      );
      return undefined;
    }
    const group = this.groupOf(journey.contact_id);
    const split = this.feature.feature.experiment?.split?.stage === stage.name;
    for (const [index, written] of stage.actions.entries()) {
      const action = applyVariant(written, split ? group.variant : undefined);
      if (action.kind === 'goto') return action.params;
      if (action.kind === 'exit') return 'exit';
      if (group.holdout && isMessage(action)) {
        this.decide(
          facts,
          journey.contact_id,
          'skipped',
          `stage ${stage.name}: ${action.kind} withheld (holdout)`,
          { action: index },
        );
        continue;
      }
      if (action.kind === 'email' && this.overCap()) {
        this.decide(
          facts,
          journey.contact_id,
          'skipped',
          `stage ${stage.name}: email skipped by the frequency cap`,
          { action: index },
        );
        continue;
      }
      queueAction(this, this.now, facts, {
        key: actionKey(
          this.feature.name,
          journey.contact_id,
          journey.entries,
          stage.name,
          visit,
          index,
        ),
        feature: this.feature.name,
        contactId: journey.contact_id,
        stage: stage.name,
        action,
        context:
          this.input.templateContexts === false
            ? NO_CONTEXT
            : templateContext(this.feature, stage, this.input.contact, facts, journey.entered_at),
      });
      if (action.kind === 'email') this.emailsQueued++;
    }
    return undefined;
  }

  private overCap(): boolean {
    const cap = this.input.frequencyCap;
    if (!cap) return false;
    return cap.emailsInWindow + this.emailsQueued >= cap.max;
  }

  private end(
    journey: JourneyRow,
    status: 'completed' | 'exited',
    reason: string,
    facts: EventFacts | null,
  ) {
    journey.status = status;
    journey.ended_at = this.now;
    journey.wake_at = null;
    this.decide(facts, journey.contact_id, status, reason);
    this.save(journey);
  }
}

/**
 * An event for a feature without a contact mapping (e.g. a heartbeat
 * webhook): its first stage's actions, once per event, keyed by the event —
 * there is no journey, so no guard, no wait, no goto or exit, no cap.
 */
export function stepWithoutContact(
  feature: RuntimeFeature,
  facts: EventFacts,
  now: Date,
): Pick<StepOutcome, 'decisions' | 'actions'> {
  const stage = feature.stages.get(feature.initial)!;
  const out: Pick<StepOutcome, 'decisions' | 'actions'> = {
    decisions: [
      {
        at: now,
        inboxId: facts.inboxId,
        feature: feature.name,
        contactId: null,
        outcome: 'matched',
        reason: 'trigger matched (no contact)',
      },
    ],
    actions: [],
  };
  for (const [index, action] of stage.actions.entries()) {
    if (action.kind === 'goto' || action.kind === 'exit') continue;
    queueAction(out, now, facts, {
      key: `${feature.name}:event:${facts.inboxId}:${stage.name}:${index}`,
      feature: feature.name,
      contactId: null,
      stage: stage.name,
      action,
      context: templateContext(feature, stage, null, facts, null),
    });
  }
  return out;
}

/** Queues one action of a stage, with the decision that says so: the one way a stage's action is queued. */
function queueAction(
  out: Pick<StepOutcome, 'decisions' | 'actions'>,
  now: Date,
  facts: EventFacts,
  run: NewActionRun & { stage: string },
): void {
  out.actions.push(run);
  out.decisions.push({
    at: now,
    inboxId: facts.inboxId ?? null,
    feature: run.feature,
    contactId: run.contactId,
    outcome: 'action',
    reason: `stage ${run.stage}: ${run.action.kind} queued`,
    detail: { kind: run.action.kind, key: run.key },
  });
}

/** What a queued action's templates see: the contact, the event, the journey. */
function templateContext(
  feature: RuntimeFeature,
  stage: RuntimeStage,
  contact: Row | null,
  facts: EventFacts,
  enteredAt: Date | null,
): TemplateContext {
  return {
    contact,
    new: facts.newRow,
    old: facts.oldRow,
    enrichment: facts.enrichment ?? null,
    event: {
      ...(facts.name ? { name: facts.name } : {}),
      ...(facts.schema ? { schema: facts.schema } : {}),
      ...(facts.table ? { table: facts.table } : {}),
      ...(facts.operation ? { operation: facts.operation } : {}),
      occurred_at: new Date(facts.occurredAt).toISOString(),
    },
    journey: {
      feature: feature.name,
      stage: stage.name,
      ...(enteredAt ? { entered_at: new Date(enteredAt).toISOString() } : {}),
    },
  };
}

/**
 * Counts a visit of `stage` in the journey's entry (a row being changed, its
 * context replaced, not changed in place); returns which visit it is.
 */
function countVisit(journey: JourneyRow, stage: string): number {
  const context = journey.context as JourneyContext;
  const visit = (context.visits?.[stage] ?? 0) + 1;
  journey.context = { ...context, visits: { ...context.visits, [stage]: visit } };
  return visit;
}

/**
 * A journey row written before visits were counted (no context.visits) has
 * visited its current stage at least once, under the key of a first visit:
 * counted so, its next visit there sends again (stage.2) instead of reusing
 * that key. Called on a copy about to leave its stage.
 */
function seedVisits(journey: JourneyRow): void {
  const context = journey.context as JourneyContext;
  if (context.visits === undefined && journey.stage !== null) {
    journey.context = { ...context, visits: { [journey.stage]: 1 } };
  }
}

/** A journey row to change, leaving the one the step was given as it was. */
function copy(journey: JourneyRow): JourneyRow {
  return { ...journey };
}

/** The earliest time a stage's `after` or `within` falls due, counted from `since`. */
function nextWake(stage: RuntimeStage, since: number): Date | null {
  const wait = stageWaitMs(stage);
  return wait === undefined ? null : new Date(since + wait);
}

/** A wait of a stage: an `after`, or an `until`'s `within`, and how long after entering it runs out. */
interface TimedWait {
  ms: number;
  transition: RuntimeTransition;
  within: boolean;
}

/** A stage's waits: its `after`s in file order, then its `within`s (the order a tie is taken in). */
function waitsOf(stage: RuntimeStage): TimedWait[] {
  const waits: TimedWait[] = [];
  for (const transition of stage.transitions) {
    if (transition.afterMs !== undefined)
      waits.push({ ms: transition.afterMs, transition, within: false });
  }
  for (const transition of stage.transitions) {
    if (transition.until && transition.withinMs !== undefined)
      waits.push({ ms: transition.withinMs, transition, within: true });
  }
  return waits;
}

/** How long after entering it a stage's first wait runs out (undefined: it waits on no time). */
export function stageWaitMs(stage: RuntimeStage): number | undefined {
  const waits = waitsOf(stage);
  return waits.length ? Math.min(...waits.map((wait) => wait.ms)) : undefined;
}

/** Whether any stage of the feature sends email (only then does the frequency cap matter). */
export function sendsEmail(feature: RuntimeFeature): boolean {
  for (const stage of feature.stages.values()) {
    if (stage.actions.some((a) => a.kind === 'email')) return true;
  }
  return false;
}

/** `2026-03-31 09:00:00 UTC`: a time in a decision's reason, read by people (its detail keeps the ISO form). */
function utcText(time: Date): string {
  return `${time.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
