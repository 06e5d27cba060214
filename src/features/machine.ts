// A feature's stages compiled into a state machine: each stage has the
// actions run on entering it and the transitions that leave it. Stages listed
// one after another become a chain — stage i leaves for stage i+1 after the
// next stage's `after`, or when its `until` holds (giving up after `within`).
// `next:` replaces the chain with explicit transitions; `to: null` ends the
// journey; the last stage without `next` ends it too. The runtime executes
// this; nothing here touches a database.
import type { Condition } from '../conditions/index.js';
import type { FieldPath, YamlSource } from '../config/yaml.js';
import type { ConfigError } from '../errors.js';
import { didYouMean } from '../suggest.js';
import { type Action, type FeatureFile, parseDuration } from './schema.js';

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

/**
 * The stages of a feature file as a machine, each problem (a stage named
 * twice, a goto or next to no stage) pushed onto `errors`; `condition`
 * parses a condition in place.
 */
export function compileMachine(
  written: FeatureFile['stages'],
  source: YamlSource,
  condition: (value: unknown, at: FieldPath) => Condition | undefined,
  errors: ConfigError[],
): Machine {
  const names = written.map((s) => s.name);
  const checkStage = (name: string | null, at: FieldPath) => {
    if (name !== null && !names.includes(name)) {
      // The stages there are, when none is near enough to suggest.
      const near = didYouMean(name, names) || ` (stages: ${names.join(', ')})`;
      errors.push(source.error(at, `no stage named "${name}"${near}`));
    }
  };
  const stages = new Map<string, Stage>();
  written.forEach((stage, index) => {
    const at = ['stages', index] as const;
    // A stage named twice keeps its place under a key no stage name has: such
    // a feature is checked, never run, and checks find actions by position.
    let key = stage.name;
    if (stages.has(stage.name)) {
      errors.push(source.error([...at, 'name'], `stage "${stage.name}" is defined twice`));
      key = `${stage.name} (stages[${index}])`;
    }
    const when = condition(stage.if, [...at, 'if']);
    const unless = condition(stage.unless, [...at, 'unless']);
    const guard: Condition | undefined =
      when && unless
        ? { kind: 'and', items: [when, { kind: 'not', item: unless, path: [] }], path: [] }
        : (when ?? (unless ? { kind: 'not', item: unless, path: [] } : undefined));
    stage.do.forEach((action, i) => {
      if (action.kind === 'goto') checkStage(action.params, [...at, 'do', i, 'goto']);
    });
    let transitions: Transition[];
    if (stage.next) {
      transitions = stage.next.map((t, i) => {
        checkStage(t.to, [...at, 'next', i, 'to']);
        return transition(t.to, t, condition, [...at, 'next', i]);
      });
    } else {
      const following = written[index + 1];
      transitions = following
        ? [transition(following.name, following, condition, ['stages', index + 1])]
        : [];
    }
    stages.set(key, {
      name: stage.name,
      ...(guard ? { guard } : {}),
      // A stage's send_window travels with its email actions (checked when each is sent).
      actions: stage.send_window
        ? stage.do.map((action) =>
            action.kind === 'email' && !action.params.send_window
              ? { ...action, params: { ...action.params, send_window: stage.send_window } }
              : action,
          )
        : stage.do,
      transitions,
    });
  });
  return { initial: written[0]!.name, stages };
}

function transition(
  to: string | null,
  spec: {
    when?: Record<string, unknown>;
    after?: string;
    until?: Record<string, unknown>;
    within?: string;
  },
  condition: (value: unknown, at: FieldPath) => Condition | undefined,
  at: FieldPath,
): Transition {
  const when = 'when' in spec ? condition(spec.when, [...at, 'when']) : undefined;
  const until = condition(spec.until, [...at, 'until']);
  return {
    to,
    ...(when ? { when } : {}),
    ...(spec.after ? { afterMs: parseDuration(spec.after)! } : {}),
    ...(until ? { until } : {}),
    ...(spec.within ? { withinMs: parseDuration(spec.within)! } : {}),
  };
}
