// Table names as users write them: `orders`, `auth.users`, `"my-app"."Order Items"`.
// Unquoted parts are taken as written (Supabase users name tables in lower
// case); double quotes allow dots and keep any character.

export interface TableName {
  schema: string;
  table: string;
}

export function parseTableName(input: string, defaultSchema = 'public'): TableName | undefined {
  const parts: string[] = [];
  let i = 0;
  for (;;) {
    let part = '';
    if (input[i] === '"') {
      i++;
      for (;;) {
        if (i >= input.length) return undefined; // unterminated quote
        if (input[i] === '"') {
          if (input[i + 1] !== '"') break;
          i++;
        }
        part += input[i++];
      }
      i++;
      if (!part) return undefined;
    } else {
      const end = input.indexOf('.', i);
      part = input.slice(i, end === -1 ? undefined : end);
      if (!part.trim() || part.includes('"')) return undefined;
      i = end === -1 ? input.length : end;
    }
    parts.push(part);
    if (i >= input.length) break;
    if (input[i] !== '.') return undefined;
    i++;
  }
  if (parts.length === 1) return { schema: defaultSchema, table: parts[0]! };
  if (parts.length === 2) return { schema: parts[0]!, table: parts[1]! };
  return undefined;
}

/** How we show a table to the user: quotes only where needed. */
export function formatTableName({ schema, table }: TableName): string {
  return `${formatName(schema)}.${formatName(table)}`;
}

/** One name (a schema, table or column) as we show it: quotes only where needed. */
export function formatName(part: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(part) ? part : `"${part.replaceAll('"', '""')}"`;
}

export function tableKey({ schema, table }: TableName): string {
  return JSON.stringify([schema, table]);
}
