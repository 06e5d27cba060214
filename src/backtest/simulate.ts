// The sandbox a backtest runs a feature in. Each past event goes through the
// engine's matcher (candidatesOf, and the rules of match/rules.ts:
// beforeContact and withContact, which event.ts calls too) and the engine's
// pure journey state machine (stepJourney), with three differences:
//
// - the clock is simulated: it reads each event's time, and before an event
//   every journey whose wake_at has come is stepped at its wake_at, so waits
//   and cooldowns elapse in simulated time; at the end of the window the
//   timers due by then fire;
// - journeys live in memory, start empty, and are written nowhere; actions
//   are counted, never run; decisions go to the report, not the log;
// - contacts are looked up read-only (contacts.ts): the book as it is now,
//   and the people it does not know made in memory at their first event;
//   a `set` action changes the contact in memory once its step is done, as
//   the action would have once it ran. Where Nudge never ran (no engine
//   store) the book is empty: everyone is made in memory. At a kept event
//   on which the engine ran an action for a book contact, the trigger reads
//   the contact as that run kept it (then), not the book's row (today);
//   every other read of a book contact by a condition is counted as today's.

import type postgres from 'postgres';
import type { NewActionRun } from '../actions/types.js';
import { CONTACT_FIELDS } from '../contacts/sql/read-contacts.js';
import {
  type Decision,
  type JourneyRow,
  type JourneyStep,
  type StepInput,
  stepJourney,
  stepWithoutContact,
} from '../engine/journeys/machine.js';
import { factsOf } from '../engine/lanes/event.js';
import { candidatesOf, reactiveFeatures } from '../engine/match/candidates.js';
import type { FeatureSet, Row, RuntimeFeature } from '../engine/match/features.js';
import {
  type BeforeContact,
  beforeContact,
  type ContactFreeVerdict,
  withContact,
} from '../engine/match/rules.js';
import {
  type ContactRequest,
  contactsThen,
  fromBook,
  SimulatedBook,
  type SimulatedContact,
} from './contacts.js';
import type { HistorySource, PastEvent } from './history.js';

/** What the simulation tells its observer (report.ts). */
export interface Observer {
  /** An event read; `trigger`: one the feature triggers on (else read for journeys that wait on events). */
  event(source: HistorySource, trigger: boolean): void;
  decisions(
    decisions: Decision[],
    source: HistorySource | 'timer',
    contact?: SimulatedContact,
  ): void;
  actions(actions: NewActionRun[]): void;
  /**
   * A step (an event or a timer) whose conditions on contact.* read a
   * contact of the book: its attributes as they are today, not as they were.
   */
  contactToday?(contact: SimulatedContact): void;
  /** An event whose conditions on contact.* read the contact as the engine saw it then (contactsThen). */
  contactThen?(): void;
}

/** What prepare works out for one event before it is replayed. */
interface EventPlan {
  /** The backtested feature is among the event's candidates. */
  own: boolean;
  /** What the matcher's rules make of it before a contact is known (when `own`). */
  before?: BeforeContact;
  /** The contact to resolve, when `before` says so. */
  contact?: SimulatedContact;
  /** Every candidate's contact, for journeys that wait on events (only when the feature has such). */
  about: SimulatedContact[];
  /** Identity fields the event gives contacts that lacked them, set when it is replayed (resolveContact's fill). */
  fills?: { contact: SimulatedContact; fill: Row }[];
  /** The book contact's row as the engine saw it at this kept event (contactsThen), when it kept it. */
  contactThen?: Row;
}
const NO_ONE: SimulatedContact[] = [];

/**
 * A `set` action's values as the action would set them: its parameters
 * rendered (Liquid) with the run's template context. Only asked for a `set`
 * whose parameters hold Liquid; a literal one is merged as it is.
 */
export type SetValues = (run: NewActionRun) => Promise<unknown>;

export interface SimulationOptions {
  /** The engine store, for the contact book; null where Nudge never ran (an empty book, not read). */
  engine: postgres.Sql | null;
  /** The project's features as the engine would run them, the backtested one among them. */
  features: FeatureSet;
  feature: RuntimeFeature;
  events: AsyncIterable<PastEvent[]>;
  /** The window's end: timers due by then fire. */
  to: Date;
  frequencyCap?: { max: number; perMs: number };
  /** Renders a `set` whose parameters hold Liquid; without it such a set changes nothing. */
  setValues?: SetValues;
  observer: Observer;
}

export async function simulate(options: SimulationOptions): Promise<Map<string, JourneyRow>> {
  const { feature, features, observer } = options;
  const reactive = reactiveFeatures(features).has(feature.name);
  const journeys = new Map<string, JourneyRow>();
  const book = new SimulatedBook(options.engine);
  const timers = new TimerQueue();
  const emails = new Map<string, number[]>();
  // Only a set whose values are Liquid needs its run's template context.
  const setValues = options.setValues && setsLiquid(feature) ? options.setValues : undefined;
  let clock = 0;
  /** What the simulation's set actions gave each contact: kept over a row the engine saw then. */
  const sets = new Map<string, Row>();
  /** Tells the observer a step reads today's attributes: the feature's conditions read contact.* of a book contact. */
  const readsToday = (contact: SimulatedContact) => {
    if (feature.readsContact && fromBook(contact)) observer.contactToday?.(contact);
  };

  /**
   * One step of a contact's journey. A `set` it queues changes the contact
   * once the step is done (the step's own stages saw the contact as it was,
   * as the live action runs after the step is written): at once when its
   * values are literal; when they are Liquid, once rendered — then the
   * promise returned, which the replay waits for before the next step.
   */
  const step = (
    contact: SimulatedContact,
    input: JourneyStep,
    now: Date,
    source: HistorySource | 'timer',
    /** The contact's row as the step sees it: the simulated one, unless the engine kept the one it had then. */
    row: Row = contact.row,
  ): Promise<void> | undefined => {
    const cap = options.frequencyCap;
    const stepInput: StepInput = {
      step: input,
      feature,
      contact: row,
      journey: journeys.get(contact.id) ?? null,
      now,
      // Actions are counted, never run: no template contexts to build, but
      // for a set whose values are rendered.
      templateContexts: setValues !== undefined,
    };
    if (cap) {
      stepInput.frequencyCap = {
        max: cap.max,
        emailsInWindow: (emails.get(contact.id) ?? []).filter((t) => t > now.getTime() - cap.perMs)
          .length,
      };
    }
    const outcome = stepJourney(stepInput);
    if (outcome.journey) {
      journeys.set(contact.id, outcome.journey);
      if (outcome.journey.status === 'active' && outcome.journey.wake_at) {
        timers.push(outcome.journey.wake_at.getTime(), contact);
      }
    }
    if (cap) {
      for (const run of outcome.actions) {
        if (run.action.kind !== 'email') continue;
        const sent = emails.get(contact.id) ?? [];
        sent.push(now.getTime());
        emails.set(contact.id, sent);
      }
    }
    observer.decisions(outcome.decisions, source, contact);
    observer.actions(outcome.actions);
    let rendering: Promise<void> | undefined;
    for (const run of outcome.actions) {
      if (run.action.kind !== 'set') continue;
      const params = run.action.params;
      if (!hasLiquid(params)) {
        if (rendering) rendering = rendering.then(() => set(contact, params));
        else set(contact, params);
        continue;
      }
      if (!setValues) continue;
      // A set that fails to render sets nothing, as its run would fail.
      rendering = (rendering ?? Promise.resolve())
        .then(() => setValues(run))
        .then((values) => set(contact, values), noop);
    }
    return rendering;
  };

  /** A set action's values on the contact, and remembered as the simulation's own. */
  const set = (contact: SimulatedContact, values: unknown) => {
    if (!setOn(contact, values)) return;
    const own = Object.keys(values as Row).filter((k) => !CONTACT_FIELDS.includes(k as never));
    sets.set(contact.id, {
      ...sets.get(contact.id),
      ...Object.fromEntries(own.map((k) => [k, contact.row[k]])),
    });
  };

  /**
   * Steps every journey whose wake_at is at or before `until`, each at its
   * wake_at, one after another (a set's rendering waited for).
   */
  const fireTimers = (until: number): Promise<void> | undefined => {
    for (let next = timers.peek(); next && next.at <= until; next = timers.peek()) {
      timers.pop();
      const journey = journeys.get(next.contact.id);
      // A timer left from an earlier wait of the journey: its wake_at moved.
      if (journey?.status !== 'active' || (journey.wake_at?.getTime() ?? 0) !== next.at) continue;
      clock = Math.max(clock, next.at);
      readsToday(next.contact);
      const rendering = step(next.contact, TIMER, new Date(next.at), 'timer');
      if (rendering) return rendering.then(() => fireTimers(until));
    }
    return undefined;
  };

  /**
   * A page made ready: who each event is about (for every candidate feature
   * that maps a contact), the contacts resolved in the events' order (the
   * book read in one query for the identities not met before).
   *
   * The matcher's rules before a contact (beforeContact) are asked here,
   * once per event and candidate, and a trigger condition that reads no
   * contact is worked out at the clock as it stands when the page is prepared
   * (the end of the page before); onEvent takes the feature's own answer from
   * the plan. (The engine's triggerVerdict keeps the same verdict per row in
   * a WeakMap, which costs more than the condition itself here.)
   */
  const prepare = async (chunk: PastEvent[]) => {
    const requests: ContactRequest[] = [];
    // Where each request's answer goes: event i's own contact, or one it is about.
    const targets: { i: number; own: boolean }[] = [];
    const plans = chunk.map((row, i): EventPlan => {
      const candidates = candidatesOf(features, row);
      const own = candidates.includes(feature);
      const plan: EventPlan = { own, about: NO_ONE };
      // Every candidate's contact, when the feature may react to the event:
      // it waits on events and the event is not its own (handleEvent).
      const reacts = reactive && !own;
      if (reacts) plan.about = [];
      if (!own && !reacts) return plan;
      const rows = { new: row.new_row, old: row.old_row };
      const contactFreeVerdict: ContactFreeVerdict = (candidate) =>
        candidate.when!.test({
          now: new Date(Math.max(clock, row.occurred_at.getTime())),
          new: row.new_row,
          old: row.old_row,
          contact: null,
        });
      for (const candidate of candidates) {
        if (candidate !== feature && !reacts) continue;
        // As handleEvent: only a candidate that gets as far as a contact
        // looks one up. The backtested feature runs as if active.
        const paused = candidate !== feature && features.isPaused(candidate);
        const before = beforeContact(candidate, rows, paused, contactFreeVerdict);
        if (candidate === feature) plan.before = before;
        if (before.outcome !== 'resolve') continue;
        requests.push({ identity: before.identity, at: row.occurred_at });
        targets.push({ i, own: candidate === feature });
      }
      return plan;
    });
    const answers = await book.resolve(requests);
    for (const [n, { contact, fill }] of answers.entries()) {
      const { i, own } = targets[n]!;
      const plan = plans[i]!;
      if (fill) {
        plan.fills ??= [];
        plan.fills.push({ contact, fill });
      }
      if (own) plan.contact = contact;
      else plan.about.push(contact);
    }
    if (options.engine && feature.readsContact) {
      // What the engine kept of a book contact as it was at a kept event.
      const seen = plans.flatMap((plan, i) =>
        plan.contact && fromBook(plan.contact) && chunk[i]!.from === 'kept events'
          ? [{ inboxId: chunk[i]!.id, contactId: plan.contact.id }]
          : [],
      );
      const then = await contactsThen(options.engine, seen);
      if (then.size) {
        for (const [i, plan] of plans.entries()) {
          const row = plan.contact && then.get(`${chunk[i]!.id}\0${plan.contact.id}`);
          if (row) plan.contactThen = row;
        }
      }
    }
    return { chunk, plans };
  };
  const nextPage = async () => {
    const page = await pages.next();
    return page.done ? undefined : prepare(page.value);
  };

  // The next page is read and its contacts looked up while this one is replayed.
  const pages = options.events[Symbol.asyncIterator]();
  for (let ready = await nextPage(); ready; ) {
    const following = nextPage();
    // Let the next page's queries go out before the replay holds the thread.
    await new Promise((resolve) => setImmediate(resolve));
    const { chunk, plans } = ready;
    for (const [i, row] of chunk.entries()) {
      // Waited for only when a set's values are being rendered.
      const rendering = onEvent(row, plans[i]!);
      if (rendering) await rendering;
    }
    ready = await following;
  }
  await fireTimers(options.to.getTime());
  return journeys;

  /** A decision of the matcher, before the journey's own. */
  function matcherDecision(
    row: PastEvent,
    now: Date,
    contact: SimulatedContact | undefined,
    outcome: Decision['outcome'],
    reason: string,
  ): void {
    observer.decisions(
      [
        {
          at: now,
          inboxId: row.id,
          feature: feature.name,
          contactId: contact?.id ?? null,
          outcome,
          reason,
        },
      ],
      row.from,
      contact,
    );
  }

  /** One past event: the timers due before it, then the event (a set's rendering waited for). */
  function onEvent(row: PastEvent, plan: EventPlan): Promise<void> | undefined {
    clock = Math.max(clock, row.occurred_at.getTime());
    const timers = fireTimers(clock);
    return timers ? timers.then(() => replay(row, plan)) : replay(row, plan);
  }

  /** One past event: the trigger, then journeys of its contacts that wait on events. */
  function replay(row: PastEvent, plan: EventPlan): Promise<void> | undefined {
    observer.event(row.from, plan.own);
    if (plan.fills) {
      for (const { contact, fill } of plan.fills) contact.row = { ...contact.row, ...fill };
    }
    if (!plan.own && !reactive) return undefined;
    const now = new Date(clock);
    const facts = factsOf(row);
    if (plan.own) {
      // The matcher's rules, as in handleEvent: before the contact with the
      // page (prepare), then with the contact its mapping names.
      const before = plan.before!;
      if (before.outcome === 'skipped') {
        matcherDecision(row, now, undefined, before.outcome, before.reason);
        return undefined;
      }
      if (before.outcome === 'without contact') {
        const out = stepWithoutContact(feature, facts, now);
        observer.decisions(out.decisions, row.from);
        observer.actions(out.actions);
        return undefined;
      }
      const contact = plan.contact!;
      // The contact as the engine saw it then where it kept that, with what this simulation set since.
      const seen = plan.contactThen && { ...plan.contactThen, ...sets.get(contact.id) };
      if (seen) observer.contactThen?.();
      else readsToday(contact);
      const rows = { new: row.new_row, old: row.old_row };
      const match = withContact(feature, rows, seen ?? contact.row, now);
      matcherDecision(row, now, contact, match.outcome, match.reason);
      if (match.outcome === 'skipped') {
        // As handleEvent: the trigger's condition on the contact was false,
        // but the contact's journey, waiting on events, still sees this one.
        return reactive && journeys.get(contact.id)?.status === 'active'
          ? step(contact, { kind: 'event', facts }, now, row.from, seen)
          : undefined;
      }
      // As handleEvent: an event the feature is a candidate of steps none of
      // its waiting journeys, whoever the event's other features name.
      return step(contact, { kind: 'trigger', contactId: contact.id, facts }, now, row.from, seen);
    }
    // Journeys of the contacts this event is about may be waiting on it. Each
    // is another contact, so their sets are waited for together.
    const stepped = new Set<string>();
    const rendering: Promise<void>[] = [];
    for (const contact of plan.about) {
      if (stepped.has(contact.id) || journeys.get(contact.id)?.status !== 'active') continue;
      stepped.add(contact.id);
      readsToday(contact);
      const pending = step(contact, { kind: 'event', facts }, now, row.from);
      if (pending) rendering.push(pending);
    }
    return rendering.length ? Promise.all(rendering).then(noop) : undefined;
  }
}

const TIMER: JourneyStep = { kind: 'timer' };
const noop = () => {};

/**
 * A `set` action's values merged into the contact as into its attributes:
 * its own fields (id, email, ...) stay over them, as the book reads a
 * contact (contacts/sql/read-contacts.ts).
 */
function setOn(contact: SimulatedContact, values: unknown): boolean {
  if (values === null || typeof values !== 'object' || Array.isArray(values)) return false;
  const row: Row = { ...contact.row, ...values };
  for (const field of CONTACT_FIELDS) row[field] = contact.row[field] ?? null;
  contact.row = row;
  return true;
}

/** Whether a value holds a string the renderer renders: one with `{` (actions/render.ts). */
function hasLiquid(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('{');
  if (Array.isArray(value)) return value.some(hasLiquid);
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasLiquid);
  return false;
}

/** Whether some `set` of the feature, a variant's included, has Liquid in its values. */
function setsLiquid(feature: RuntimeFeature): boolean {
  for (const stage of feature.stages.values()) {
    if (stage.actions.some((a) => a.kind === 'set' && hasLiquid(a.params))) return true;
  }
  const variants = feature.feature.experiment?.split?.variants ?? [];
  return variants.some((v) => hasLiquid(v.overrides.set));
}

/** Wake-ups in time order: a binary heap of (time, contact). */
class TimerQueue {
  private readonly heap: { at: number; contact: SimulatedContact }[] = [];
  push(at: number, contact: SimulatedContact) {
    const heap = this.heap;
    heap.push({ at, contact });
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.at <= heap[i]!.at) break;
      swap(heap, parent, i);
      i = parent;
    }
  }
  peek() {
    return this.heap[0];
  }
  pop() {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && heap[l]!.at < heap[m]!.at) m = l;
        if (r < heap.length && heap[r]!.at < heap[m]!.at) m = r;
        if (m === i) break;
        swap(heap, m, i);
        i = m;
      }
    }
    return top;
  }
}

function swap<T>(list: T[], a: number, b: number): void {
  const item = list[a]!;
  list[a] = list[b]!;
  list[b] = item;
}
