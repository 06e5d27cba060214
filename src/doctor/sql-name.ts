// Identifiers in the fixes doctor prints: as a user would type them in SQL.

/** An identifier as SQL needs it: quoted unless plain lower case. */
export function sqlName(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}
