// LIKE and ILIKE for the JavaScript side, matching PostgreSQL under COLLATE "C".
//
// ILIKE and case: PostgreSQL evaluates `a ILIKE b` as lower(a) LIKE lower(b)
// under the expression's collation. The SQL compiler pins COLLATE "C" (so the
// answer cannot depend on the database's locale), and lower() under "C" folds
// only ASCII A-Z; measured on PostgreSQL 17: 'É' ILIKE 'é' is false, 'A'
// ILIKE 'a' true, 'ß' ILIKE 'SS' false. So ilike here folds ASCII only too.
// To match accented letters in either case, write both: `like.*[éÉ]*` is not
// LIKE syntax, so use `or` with one pattern per spelling.

/** Lower-cases ASCII letters only, like lower() under COLLATE "C". */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/**
 * A predicate for a PostgreSQL LIKE pattern: `%` is any run of characters,
 * `_` exactly one character (a code point, newlines included), `\` makes the
 * next character literal. The matcher is a transcription of PostgreSQL's
 * MatchText (like_match.c), over code points instead of UTF-8 bytes, which
 * gives the same answers and the same linear-ish cost (no regex backtracking).
 */
export function likeMatcher(pattern: string, caseInsensitive: boolean): (text: string) => boolean {
  const compiled = Array.from(caseInsensitive ? asciiLower(pattern) : pattern);
  return (text) => {
    const chars = Array.from(caseInsensitive ? asciiLower(text) : text);
    return matchText(chars, 0, compiled, 0) === MATCH;
  };
}

const MATCH = 1;
const NO_MATCH = 0;
/** No match here, and none is possible with a later start either: stop scanning. */
const ABORT = -1;

function matchText(text: string[], start: number, pattern: string[], from: number): number {
  let t = start;
  let p = from;
  while (t < text.length && p < pattern.length) {
    const char = pattern[p];
    if (char === '\\') {
      p++;
      if (pattern[p] !== text[t]) return NO_MATCH;
    } else if (char === '%') {
      p++;
      // A run of % and _ : each _ eats one character.
      while (p < pattern.length) {
        if (pattern[p] === '%') {
          p++;
        } else if (pattern[p] === '_') {
          if (t >= text.length) return ABORT;
          t++;
          p++;
        } else {
          break;
        }
      }
      if (p >= pattern.length) return MATCH;
      const first = pattern[p] === '\\' ? pattern[p + 1] : pattern[p];
      for (; t < text.length; t++) {
        if (text[t] === first) {
          const result = matchText(text, t, pattern, p);
          if (result !== NO_MATCH) return result;
        }
      }
      return ABORT;
    } else if (char !== '_' && char !== text[t]) {
      return NO_MATCH;
    }
    t++;
    p++;
  }
  if (t < text.length) return NO_MATCH;
  while (p < pattern.length && pattern[p] === '%') p++;
  return p >= pattern.length ? MATCH : ABORT;
}
