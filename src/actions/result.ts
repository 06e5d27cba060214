// What a run keeps of its provider's answer (action_runs.result, jsonb). A
// receiver's JSON may hold what PostgreSQL's json refuses — a lone surrogate
// (`"\ud800"`, half an emoji) or NUL — and a body cut to a length may end in
// half a pair: one such string made the whole batch's recording fail.
import { toStorableText } from '../db/storable-text.js';

/** The first `max` UTF-16 units of the text, one fewer when the last would be half a surrogate pair. */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/**
 * The value with every string in it, keys too, made storable (toStorableText),
 * at any depth: what markSucceeded writes as a run's result.
 */
export function storableResult(value: unknown): unknown {
  if (typeof value === 'string') return toStorableText(value);
  if (Array.isArray(value)) return value.map(storableResult);
  if (value === null || typeof value !== 'object') return value;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return storableResult(toJSON.call(value));
  // fromEntries, not assignment: a "__proto__" key stays a key.
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [toStorableText(key), storableResult(item)]),
  );
}

/**
 * What is kept of a delivered run's result when its attempt could not be
 * recorded as it was (task.ts runActions): an email's provider message id,
 * which its delivery webhooks are matched by, and the contact it went to,
 * which they apply to; nothing else.
 */
export function essentialResult(
  value: unknown,
): { message_id: string; recipient_contact_id?: string | null } | null {
  const { message_id: id, recipient_contact_id: contact } = (value ?? {}) as {
    message_id?: unknown;
    recipient_contact_id?: unknown;
  };
  if (typeof id !== 'string') return null;
  return {
    message_id: toStorableText(id),
    ...(typeof contact === 'string' || contact === null ? { recipient_contact_id: contact } : {}),
  };
}
