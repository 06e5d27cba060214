// What a contacts answer looks like: the select= projection (one jsonb per
// row: the whole contact, or the named fields with aliases and JSON paths)
// and the order= list, typed like filters so numbers sort as numbers.

import { isIndexStep } from '../../conditions/filter.js';
import type { FieldRef } from '../../conditions/index.js';
import {
  CONTACT_JSON,
  type CompileContext,
  type ContactQuery,
  fieldSql,
  IDENTITY_COLUMNS,
  type SelectItem,
} from '../../contacts/query.js';
import { ident } from '../../db/quote.js';

/** SELECT list item (one jsonb) and ORDER BY list. */
export function compileView(
  query: ContactQuery,
  ctx: CompileContext,
): { projection: string; orderBy: string } {
  const order = query.order.map((item) => {
    const { sql, type } = fieldSql(item.field, ctx);
    const collated = type === 'text' ? `(${sql}) COLLATE "C"` : sql;
    const nulls = item.nulls ? ` NULLS ${item.nulls.toUpperCase()}` : '';
    return `${collated} ${item.descending ? 'DESC' : 'ASC'}${nulls}`;
  });
  // Without an order: oldest first. Deliberately not indexed (an index on
  // created_at slows every contact write by a quarter, docs/benchmarks.md): a
  // page is a top-N sort of the matching rows. Always ends with the id, so
  // pages are stable.
  if (order.length === 0) order.push('c.created_at');
  if (!query.order.some((item) => item.field.column === 'id' && item.field.jsonPath.length === 0)) {
    order.push('c.id');
  }
  return { projection: projectionSql(query.select, ctx), orderBy: order.join(', ') };
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
