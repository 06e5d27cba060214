// What PostgreSQL cannot store in text, json and jsonb: U+0000, and a UTF-16
// surrogate without its pair (half an emoji; JavaScript strings may hold one,
// JSON may escape one as "\ud800"). One definition for the two answers to it:
// refuse (an HTTP body, src/server/body.ts) or mend (a provider's answer kept
// as a run's result, src/actions/result.ts).

/** A lone surrogate: a high one not followed by a low one, or a low one not after a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Whether PostgreSQL can store this text as it is. */
export function isStorableText(text: string): boolean {
  // search() ignores the g flag's lastIndex.
  return !text.includes('\u0000') && text.search(LONE_SURROGATE) === -1;
}

/** The text made storable: each lone surrogate U+FFFD (as String.prototype.toWellFormed does), NUL left out. */
export function toStorableText(text: string): string {
  const formed = text.replace(LONE_SURROGATE, '\uFFFD');
  return formed.includes('\u0000') ? formed.replaceAll('\u0000', '') : formed;
}
