// Email topics: what a contact can opt out of. nudge.yaml's email.topics
// names them; an email action names one (`topic: marketing`) or
// `transactional` (a receipt, a password reset: exempt from opt-outs and
// suppression, never given unsubscribe headers). An email that names none is
// in the topic `general`, which always exists: mail is refusable unless its
// author said otherwise.
import type { Config } from '../config/schema.js';

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
  const known = [TRANSACTIONAL, ...topicsOf(email).map((t) => t.name)].join(', ');
  return { error: `email topic "${topic}" is not in email.topics of nudge.yaml (known: ${known})` };
}
