// Email topics: what a contact can opt out of. nudge.yaml's email.topics
// names them; an email action names one (`topic: marketing`) or
// `transactional` (a receipt, a password reset: exempt from opt-outs and
// suppression, never given unsubscribe headers). An email that names none is
// in the topic `general`, which always exists: mail is refusable unless its
// author said otherwise.
import type { Config } from '../config/schema.js';
import type { FieldPath } from '../config/yaml.js';
import type { ConfigError } from '../errors.js';
import type { Feature } from '../features/load.js';
import { didYouMean } from '../suggest.js';

export const TRANSACTIONAL = 'transactional';
export const GENERAL = 'general';
/** Every topic at once, in the preferences store ("unsubscribe from all", a complaint). */
export const ALL_TOPICS = '*';

export interface Topic {
  name: string;
  label: string;
  description?: string;
}

/** The topics a contact can choose from, in nudge.yaml's order, `general` first. */
export function topicsOf(email: Config['email']): Topic[] {
  const topics: Topic[] = [];
  if (!(GENERAL in email.topics)) topics.push({ name: GENERAL, label: 'General' });
  for (const [name, topic] of Object.entries(email.topics)) {
    topics.push({
      name,
      label: topic.label ?? name.charAt(0).toUpperCase() + name.slice(1).replace(/[-_]/g, ' '),
      ...(topic.description ? { description: topic.description } : {}),
    });
  }
  return topics;
}

/**
 * The topic an email action sends under (`transactional` included), or an
 * error message naming the topics there are.
 */
export function topicOfAction(
  email: Config['email'],
  params: { topic?: string | undefined },
): { topic: string } | { error: string } {
  const topic = params.topic ?? GENERAL;
  if (topic === TRANSACTIONAL || topic === GENERAL || topic in email.topics) return { topic };
  const known = [TRANSACTIONAL, ...topicsOf(email).map((t) => t.name)];
  return {
    error: `email topic "${topic}" is not in email.topics of nudge.yaml${didYouMean(topic, known)} (known: ${known.join(', ')})`,
  };
}

/** An email action naming a topic nudge.yaml does not declare. */
export interface UnknownTopic {
  feature: Feature;
  stage: string;
  /** Where the action's topic is written in the feature file. */
  at: FieldPath;
  /** What is wrong, naming the topics there are. */
  problem: string;
}

/** The email actions of these features whose topic nudge.yaml does not declare. */
export function unknownTopics(features: Feature[], email: Config['email']): UnknownTopic[] {
  return features.flatMap((feature) =>
    [...feature.machine.stages.values()].flatMap((stage, i) =>
      stage.actions.flatMap((action, j) => {
        if (action.kind !== 'email') return [];
        const topic = topicOfAction(email, action.params as { topic?: string });
        if (!('error' in topic)) return [];
        const at = ['stages', i, 'do', j, 'email', 'topic'];
        return [{ feature, stage: stage.name, at, problem: topic.error }];
      }),
    ),
  );
}

/**
 * Every email action's topic is one nudge.yaml declares: an error at the
 * action's `topic:` line, before anything is deployed. features/check.ts asks
 * this of every feature it checks (drafts are not), so plan, deploy, doctor
 * and the engine's start report it with the feature's other errors.
 */
export function checkTopics(features: Feature[], email: Config['email']): ConfigError[] {
  return unknownTopics(features, email).map((u) => u.feature.source.error(u.at, u.problem));
}
