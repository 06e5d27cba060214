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
// - contacts are looked up read-only (contacts.ts): the book as it is now.
import type postgres from 'postgres';
import type { NewActionRun } from '../actions/types.js';
import type { ContactIdentity } from '../contacts/store.js';
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
import type { FeatureSet, RuntimeFeature } from '../engine/match/features.js';
import {
  type BeforeContact,
  beforeContact,
  type ContactFreeVerdict,
  withContact,
} from '../engine/match/rules.js';
import { identityKey, lookUpContacts, type SimulatedContact } from './contacts.js';
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
}
const NO_ONE: SimulatedContact[] = [];

export interface SimulationOptions {
  engine: postgres.Sql;
  /** The project's features as the engine would run them, the backtested one among them. */
  features: FeatureSet;
  feature: RuntimeFeature;
  events: AsyncIterable<PastEvent[]>;
  /** The window's end: timers due by then fire. */
  to: Date;
  frequencyCap?: { max: number; perMs: number };
  observer: Observer;
}

export async function simulate(options: SimulationOptions): Promise<Map<string, JourneyRow>> {
  const { feature, features, observer } = options;
  const reactive = reactiveFeatures(features).has(feature.name);
  const journeys = new Map<string, JourneyRow>();
  const contacts = new Map<string, SimulatedContact>();
  const timers = new TimerQueue();
  const emails = new Map<string, number[]>();
  let clock = 0;

  const step = (
    contact: SimulatedContact,
    input: JourneyStep,
    now: Date,
    source: HistorySource | 'timer',
  ) => {
    const cap = options.frequencyCap;
    const stepInput: StepInput = {
      step: input,
      feature,
      contact: contact.row,
      journey: journeys.get(contact.id) ?? null,
      now,
      // Actions are counted, never run: no template contexts to build.
      templateContexts: false,
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
  };

  /** Steps every journey whose wake_at is at or before `until`, each at its wake_at. */
  const fireTimers = (until: number) => {
    for (let next = timers.peek(); next && next.at <= until; next = timers.peek()) {
      timers.pop();
      const journey = journeys.get(next.contact.id);
      // A timer left from an earlier wait of the journey: its wake_at moved.
      if (journey?.status !== 'active' || (journey.wake_at?.getTime() ?? 0) !== next.at) continue;
      clock = Math.max(clock, next.at);
      step(next.contact, TIMER, new Date(next.at), 'timer');
    }
  };

  /**
   * A page made ready: who each event is about (for every candidate feature
   * that maps a contact), and the contacts not met before looked up, in one
   * query. A contact met before is put in the plan at once; the others when
   * the query has answered (`pending`).
   *
   * The matcher's rules before a contact (beforeContact) are asked here,
   * once per event and candidate, and a trigger condition that reads no
   * contact is worked out at the clock as it stands when the page is prepared
   * (the end of the page before); onEvent takes the feature's own answer from
   * the plan. (The engine's triggerVerdict keeps the same verdict per row in
   * a WeakMap, which costs more than the condition itself here.)
   */
  const prepare = async (chunk: PastEvent[]) => {
    const wanted = new Map<string, ContactIdentity>();
    const pending: { plan: EventPlan; key: string }[] = [];
    // Every candidate's identity key by event, when the feature may react to
    // it: it waits on events and the event is not its own (handleEvent).
    const keys: (string[] | undefined)[] = [];
    const plans = chunk.map((row, i): EventPlan => {
      const candidates = candidatesOf(features, row);
      const own = candidates.includes(feature);
      const plan: EventPlan = { own, about: NO_ONE };
      const reacts = reactive && !own;
      if (reacts) keys[i] = [];
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
        const key = identityKey(before.identity);
        const known = contacts.get(key);
        if (known === undefined) wanted.set(key, before.identity);
        if (candidate === feature) {
          if (known) plan.contact = known;
          else pending.push({ plan, key });
        }
        keys[i]?.push(key);
      }
      return plan;
    });
    await lookUpContacts(options.engine, wanted, contacts);
    for (const { plan, key } of pending) plan.contact = contacts.get(key)!;
    if (reactive) {
      for (const [i, plan] of plans.entries())
        if (keys[i]) plan.about = keys[i].map((k) => contacts.get(k)!);
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
    for (const [i, row] of chunk.entries()) onEvent(row, plans[i]!);
    ready = await following;
  }
  fireTimers(options.to.getTime());
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

  /** One past event: the trigger, then journeys of its contacts that wait on events. */
  function onEvent(row: PastEvent, plan: EventPlan): void {
    clock = Math.max(clock, row.occurred_at.getTime());
    fireTimers(clock);
    observer.event(row.from, plan.own);
    if (!plan.own && !reactive) return;
    const now = new Date(clock);
    const facts = factsOf(row);
    if (plan.own) {
      // The matcher's rules, as in handleEvent: before the contact with the
      // page (prepare), then with the contact its mapping names.
      const before = plan.before!;
      if (before.outcome === 'skipped') {
        matcherDecision(row, now, undefined, before.outcome, before.reason);
        return;
      }
      if (before.outcome === 'without contact') {
        const out = stepWithoutContact(feature, facts, now);
        observer.decisions(out.decisions, row.from);
        observer.actions(out.actions);
        return;
      }
      const contact = plan.contact!;
      const rows = { new: row.new_row, old: row.old_row };
      const match = withContact(feature, rows, contact.row, now);
      matcherDecision(row, now, contact, match.outcome, match.reason);
      if (match.outcome === 'skipped') return;
      step(contact, { kind: 'trigger', contactId: contact.id, facts }, now, row.from);
      // As handleEvent: an event the feature is a candidate of steps none of
      // its waiting journeys, whoever the event's other features name.
      return;
    }
    // Journeys of the contacts this event is about may be waiting on it.
    const stepped = new Set<string>();
    for (const contact of plan.about) {
      if (stepped.has(contact.id) || journeys.get(contact.id)?.status !== 'active') continue;
      stepped.add(contact.id);
      step(contact, { kind: 'event', facts }, now, row.from);
    }
  }
}

const TIMER: JourneyStep = { kind: 'timer' };

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
