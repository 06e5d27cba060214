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

/** A string literal safe under standard_conforming_strings (on since PostgreSQL 9.1). */
export function literal(value: string): string {
  if (value.includes('\0')) throw new Error('string value contains a NUL character');
  return `'${value.replaceAll("'", "''")}'`;
}
