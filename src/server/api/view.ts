// What a contacts answer looks like: the select= projection (one jsonb per
// row: the whole contact, or the named fields with aliases and JSON paths)
// and the order= list, typed like filters so numbers sort as numbers, with
// the cursor column the next page's `after=` is made from.

import { isIndexStep } from '../../conditions/filter.js';
import type { FieldRef } from '../../conditions/index.js';
import {
  CONTACT_JSON,
  type CompileContext,
  type ContactQuery,
  IDENTITY_COLUMNS,
  orderSql,
  type SelectItem,
} from '../../contacts/query.js';
import { ident } from '../../db/quote.js';

/** SELECT list item (one jsonb), ORDER BY list and cursor column (contacts/query.ts orderSql). */
export function compileView(
  query: ContactQuery,
  ctx: CompileContext,
): { projection: string; orderBy: string; cursor: string } {
  return { projection: projectionSql(query.select, ctx), ...orderSql(query, ctx) };
}

function projectionSql(select: SelectItem[] | undefined, ctx: CompileContext): string {
  if (!select || select.length === 0) return CONTACT_JSON;
  const objects: string[] = [];
  let pairs: string[] = [];
  for (const item of select) {
    if (!item.field) {
      objects.push(CONTACT_JSON);
      continue;
    }
    pairs.push(`${ctx.params.param(item.key, 'text')}, ${rawFieldSql(item.field, ctx)}`);
    // jsonb_build_object takes at most 100 arguments.
    if (pairs.length === 40) {
      objects.push(`jsonb_build_object(${pairs.join(', ')})`);
      pairs = [];
    }
  }
  if (pairs.length > 0) objects.push(`jsonb_build_object(${pairs.join(', ')})`);
  return objects.join(' || ');
}

/** A field as stored, for select: identity columns, attribute values as JSON. */
function rawFieldSql(ref: FieldRef, ctx: CompileContext): string {
  if (Object.hasOwn(IDENTITY_COLUMNS, ref.column)) {
    const column = `c.${ident(ref.column)}`;
    return ref.jsonPath.length > 0 ? withPath(column, ref, ctx) : column;
  }
  return withPath(`c.attributes`, { ...ref, jsonPath: [ref.column, ...ref.jsonPath] }, ctx);
}

/** For order/select: `(col -> $1 ->> $2)`, every key a parameter. */
function withPath(column: string, ref: FieldRef, ctx: CompileContext): string {
  const steps = ref.jsonPath.map((step, index) => {
    const arrow = ref.text && index === ref.jsonPath.length - 1 ? '->>' : '->';
    const key = isIndexStep(step)
      ? `${ctx.params.param(step, 'integer')}::int`
      : ctx.params.param(step, 'text');
    return `${arrow} ${key}`;
  });
  return `(${column} ${steps.join(' ')})`;
}
