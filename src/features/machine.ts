// A feature's stages compiled into a state machine: each stage has the
// actions run on entering it and the transitions that leave it. Stages listed
// one after another become a chain — stage i leaves for stage i+1 after the
// next stage's `after`, or when its `until` holds (giving up after `within`).
// `next:` replaces the chain with explicit transitions; `to: null` ends the
// journey; the last stage without `next` ends it too. The runtime executes
// this; nothing here touches a database.
import type { Condition } from '../conditions/index.js';
import type { Action } from './schema.js';

export interface Transition {
  /** The stage to enter, or null to end the journey. */
  to: string | null;
  /** Taken when an event for the contact makes this true. */
  when?: Condition;
  /** Taken this long after entering the stage (a durable timer). */
  afterMs?: number;
  /** Taken once this holds, checked on events and when `withinMs` runs out. */
  until?: Condition;
  withinMs?: number;
}

export interface Stage {
  name: string;
  /** Run the actions only when this holds at entry (if, and not unless). */
  guard?: Condition;
  actions: Action[];
  transitions: Transition[];
}

export interface Machine {
  initial: string;
  stages: Map<string, Stage>;
}
