// Quoting for SQL text that cannot take parameters (DDL: CREATE TRIGGER,
// function bodies, migration files). Every identifier goes through ident();
// every value through literal(). Runtime queries use postgres.js parameters.

/** A quoted identifier, or a dotted qualified name: ident('my-app', 'Order Items'). */
export function ident(...parts: string[]): string {
  return parts
    .map((part) => {
      if (part.includes('\0')) throw new Error('identifier contains a NUL character');
      return `"${part.replaceAll('"', '""')}"`;
    })
    .join('.');
}

/**
 * A string literal that reads the same whatever standard_conforming_strings
 * says: with a backslash inside, an escape string (E'a\\b') whose meaning is
 * fixed; otherwise a plain one with quotes doubled. NUL cannot be stored in
 * PostgreSQL text, so it is refused rather than silently truncated.
 */
export function literal(text: string): string {
  if (text.includes('\0')) throw new Error('SQL literals cannot contain NUL characters');
  const doubled = text.replaceAll("'", "''");
  return text.includes('\\') ? `E'${doubled.replaceAll('\\', '\\\\')}'` : `'${doubled}'`;
}

/** `$tag$body$tag$`, with a tag the body does not contain (names in it could). */
export function dollarQuote(body: string, tag: string): string {
  let quote = `$${tag}$`;
  for (let i = 1; body.includes(quote); i++) quote = `$${tag}_${i}$`;
  return `${quote}${body}${quote}`;
}
