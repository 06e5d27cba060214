// Checks features against the live database — every table, column and literal
// they name — and derives what capture each needs. A missing table or column
// is reported at its file:line with the nearest existing name; nothing is
// written before every feature passes.

import {
  type ColumnReads,
  capturable,
  type ExcludedColumns,
  exclusionOf,
} from '../capture/columns.js';
import { isBuiltInNamespace, NAMED_EVENTS, namedEvent } from '../capture/named-events.js';
import {
  type CaptureNeed,
  capturedColumns,
  type Enrichment,
  type Operation,
  type RowRefs,
} from '../capture/triggers.js';
import {
  type Condition,
  ConditionError,
  compileJs,
  compileSql,
  type FieldRef,
  inlineLiterals,
  testsOf,
  type ValueType,
  valueTypeOf,
} from '../conditions/index.js';
import type { LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { FieldPath } from '../config/yaml.js';
import { templateErrorsAt } from '../email/templates.js';
import { checkTopics } from '../email/topics.js';
import { type ConfigError, throwInFileOrder } from '../errors.js';
import type { Catalog, Table } from '../source/catalog.js';
import { formatTableName, type TableName } from '../source/names.js';
import { closest, didYouMean } from '../suggest.js';
import { unreachableFunctions } from './connector-checks.js';
import { conditionPlace, type Feature, triggerUnread } from './load.js';
import { type AttributeTypes, suggestedType, typeResolver } from './types.js';
import { contactVariableErrors, knownContactFields, liquidRowField } from './variable-checks.js';

/** Types that have no equality operator and must be compared as text. */
const NO_EQUALITY = new Set([
  'json',
  'xml',
  'point',
  'line',
  'lseg',
  'box',
  'path',
  'polygon',
  'circle',
]);

export type { AttributeTypes };

export interface CheckOptions {
  /** What each feature reads (features/reads.ts); a feature missing here is captured whole, less credentials. */
  reads?: ReadonlyMap<string, ColumnReads>;
  /** capture.exclude_columns from nudge.yaml. */
  exclude?: ExcludedColumns;
  /** nudge.yaml's email: each email action's topic must be one it declares (unchecked without). */
  email?: Config['email'];
  /** Template name → its problem (email/templates.ts): an error at each email action naming it. */
  templates?: ReadonlyMap<string, string>;
  /**
   * Given, what needs nudge.yaml's connectors is checked: nudge.yaml's
   * connectors.supabase as loaded, null when it has none. A function action
   * needs its project_url and key (connector-checks.ts); the contact fields
   * its mappings sync are known fields of a contact (variable-checks.ts).
   */
  supabase?: LoadedConfig['supabase'] | null;
}

export function checkFeatures(
  features: Feature[],
  catalog: Catalog,
  attributes: AttributeTypes = {},
  options: CheckOptions = {},
): CaptureNeed[] {
  const errors: ConfigError[] = [];
  const needs: CaptureNeed[] = [];
  // Not given (a backtest, a test's check): what needs the connectors is not checked.
  const connectors =
    options.supabase === undefined ? undefined : { supabase: options.supabase ?? undefined };
  // Known only with the project's connector (its mappings sync attributes).
  const contactFields = connectors && knownContactFields(features, attributes, connectors.supabase);
  for (const feature of features) {
    if (feature.status === 'draft') continue;
    if (contactFields) errors.push(...contactVariableErrors(feature, contactFields));
    const reads = options.reads?.get(feature.name);
    needs.push(
      ...checkFeature(feature, catalog, attributes, errors, options.exclude).map((need) => ({
        ...need,
        ...(reads ? { reads } : {}),
      })),
    );
    if (options.email) errors.push(...checkTopics([feature], options.email));
    if (options.templates)
      for (const { at, problem } of templateErrorsAt(feature, options.templates))
        errors.push(feature.source.error(at, problem));
    if (connectors) errors.push(...unreachableFunctions(feature, connectors.supabase));
  }
  throwInFileOrder(errors);
  return needs;
}

function checkFeature(
  feature: Feature,
  catalog: Catalog,
  attributes: AttributeTypes,
  errors: ConfigError[],
  exclude: ExcludedColumns | undefined,
): CaptureNeed[] {
  const { source, trigger } = feature;
  const fail = (at: FieldPath, problem: string) => errors.push(source.error(at, problem));

  // Without the rows' table, what does not read the rows is checked still.
  const rowsUnknown = () => {
    checkConditions(feature, 'unknown', attributes, errors, exclude);
    checkEnrichments(feature, undefined, catalog, errors, exclude);
    return [];
  };
  // A trigger its file does not give (load.ts) names no rows to check against.
  if (triggerUnread(feature)) return rowsUnknown();
  if (trigger.kind === 'event') {
    const event = namedEvent(trigger.event);
    if (!event) {
      // Built-in namespaces must name a known event; anything else is an event
      // the app tracks through the API (its properties are new.*).
      if (isBuiltInNamespace(trigger.event)) {
        fail(
          ['trigger', 'event'],
          `unknown event "${trigger.event}"${didYouMean(trigger.event, Object.keys(NAMED_EVENTS))}`,
        );
        return rowsUnknown();
      }
      checkConditions(feature, undefined, attributes, errors, exclude);
      return [];
    }
    const table = catalog.get(event.table);
    if (!table) {
      fail(
        ['trigger', 'event'],
        `${trigger.event} needs ${formatTableName(event.table)}, which does not exist`,
      );
      return rowsUnknown();
    }
    checkConditions(feature, table, attributes, errors, exclude);
    return [
      {
        table: event.table,
        operation: event.operation,
        by: feature.name,
        ...capturedColumns(table),
        ...withFilter(event.filter),
      },
    ];
  }

  const table = catalog.get(trigger.table);
  if (!table) {
    fail(['trigger', 'table'], missingTable(trigger.table, catalog));
    return rowsUnknown();
  }
  const before = errors.length;
  // A schedule only reads (a query each window), so a view will do; capture needs a table.
  if (
    trigger.kind !== 'schedule' &&
    (table.kind === 'view' || table.kind === 'materialized view' || table.kind === 'foreign table')
  ) {
    fail(
      ['trigger', 'table'],
      `${formatTableName(table)} is a ${table.kind}; Nudge captures changes on tables`,
    );
  }
  checkConditions(feature, table, attributes, errors, exclude);
  if (trigger.kind === 'table') {
    trigger.columns?.forEach((column, i) => {
      if (!columnOf(table, column)) fail(['trigger', 'columns', i], missingColumn(column, table));
    });
  }
  const enrichments = checkEnrichments(feature, table, catalog, errors, exclude);
  if (errors.length > before || trigger.kind === 'schedule') return [];

  return trigger.operations.map((operation) => ({
    table: trigger.table,
    operation,
    by: feature.name,
    ...capturedColumns(table),
    ...(enrichments.length ? { enrichments } : {}),
    ...withFilter(rowFilter(feature, table, operation)),
  }));
}

function withFilter(filter: CaptureNeed['filter']): Pick<CaptureNeed, 'filter'> {
  return filter ? { filter } : {};
}

/**
 * Every condition and field reference of the feature, checked against the
 * trigger's table (or, for an event tracked through the API, whose new.* are
 * free-form properties, only for well-formed literals; or, when the rows'
 * table does not exist, only where they read contact.*).
 */
function checkConditions(
  feature: Feature,
  rows: Table | undefined | 'unknown',
  attributes: AttributeTypes,
  errors: ConfigError[],
  exclude: ExcludedColumns | undefined,
): void {
  const { source } = feature;
  const table = rows === 'unknown' ? undefined : rows;
  const typeOf = typeResolver(
    table,
    attributes,
    conditionsOf(feature).map(([, c]) => c),
  );
  /**
   * Checks a new.* / old.* field against the rows' table. Written as a
   * condition's key, a problem with its column is reported at the key; read
   * by an action's Liquid (`{{ new.email }}`), at the string that reads it,
   * naming the variable.
   */
  const checkField = (
    field: FieldRef,
    at: FieldPath,
    readBy: 'condition' | 'liquid' = 'condition',
  ): boolean => {
    if (field.scope !== 'new' && field.scope !== 'old') return true;
    if (rows === 'unknown') return false;
    if (!table) return true;
    const liquid = readBy === 'liquid';
    const fail = (problem: string) =>
      errors.push(
        liquid
          ? source.error(at, `${field.scope}.${field.column}: ${problem}`)
          : source.error(at, problem, { key: true }),
      );
    const column = columnOf(table, field.column);
    if (!column) {
      fail(missingColumn(field.column, table));
      return false;
    }
    const excluded = exclusionOf(table, field.column, exclude);
    if (excluded) {
      fail(notCaptured(field.column, table, excluded));
      return false;
    }
    const type = valueTypeOf(column.type);
    if (field.jsonPath.length === 0 || type === 'jsonb') return true;
    if (!liquid) {
      errors.push(
        source.error(
          at,
          `${field.raw}: ${field.column} is ${column.type}, not json; remove the -> path`,
        ),
      );
      return false;
    }
    // Liquid reads `.size` of text and of arrays, and indexes arrays (whose type is unknown here).
    if (type === 'unknown' || field.jsonPath[0] === 'size') return true;
    errors.push(
      source.error(
        at,
        `${field.raw}: ${field.column} is ${column.type}, not json, so it renders empty`,
      ),
    );
    return false;
  };
  // Test by test (a type problem is a test's own), so that each is reported,
  // and a test on a column that does not exist only as that.
  for (const [at, condition] of conditionsOf(feature)) {
    for (const test of testsOf(condition)) {
      if (!checkField(test.field, [...at, ...test.path])) continue;
      try {
        // Compiling checks every literal against its column's type.
        compileJs(test, { typeOf });
        compileSql(test, {
          column: (field) => ({ sql: 'x', type: typeOf(field) }),
          ...inlineLiterals(),
        });
      } catch (error) {
        if (!(error instanceof ConditionError)) throw error;
        const undeclared =
          test.field.scope === 'contact' &&
          typeOf(test.field) === 'unknown' &&
          error.message.includes(test.field.raw);
        errors.push(
          source.error([...at, ...error.path], error.message, {
            ...(undeclared
              ? {
                  hint: undeclaredHint(
                    test.field.column,
                    attributes,
                    suggestedType(test) ?? 'text',
                  ),
                }
              : {}),
          }),
        );
      }
    }
  }
  // The columns the actions' Liquid reads (`{{ new.email }}`), not only the conditions'.
  for (const { at, segments } of feature.variables) {
    const field = liquidRowField(segments);
    if (field) checkField(field, at, 'liquid');
  }
  // An entry whose test could not be read (an unknown operator) still names its column;
  // not in a goal, whose new.* are its event's properties (or refused: experiment.ts).
  for (const { at, field } of feature.unreadFields ?? [])
    if (at[0] !== 'goal') checkField(field, at);
  for (const [key, field] of Object.entries(feature.contact)) {
    if (field) checkField(field, ['contact', key]);
  }
}

/** The conditions of a feature with where each was written. */
export function conditionsOf(feature: Feature): [FieldPath, Condition][] {
  const found: [FieldPath, Condition][] = [];
  if (feature.trigger.when) found.push([['trigger', 'when'], feature.trigger.when]);
  if (feature.exit) found.push([['exit', 'when'], feature.exit]);
  // A goal with an event reads that event's properties, not the trigger's row.
  if (feature.goal?.when && !feature.goal.event) found.push([['goal', 'when'], feature.goal.when]);
  [...feature.machine.stages.values()].forEach((stage, index) => {
    const at = (c: Condition) => conditionPlace(c) ?? ['stages', index];
    for (const c of written(stage.guard)) found.push([at(c), c]);
    stage.transitions.forEach((t) => {
      if (t.when) found.push([at(t.when), t.when]);
      if (t.until) found.push([at(t.until), t.until]);
    });
  });
  return found;
}

/**
 * The conditions a stage's guard was made of as written (its if, its
 * unless), so each is checked and located at its own key; a guard not made
 * here (a test's machine) is itself.
 */
function written(guard: Condition | undefined): Condition[] {
  if (!guard) return [];
  if (conditionPlace(guard)) return [guard];
  if (guard.kind === 'not' && conditionPlace(guard.item)) return [guard.item];
  if (guard.kind === 'and' && guard.items.every((c) => written(c).length > 0))
    return guard.items.flatMap(written);
  return [guard];
}

function checkEnrichments(
  feature: Feature,
  table: Table | undefined,
  catalog: Catalog,
  errors: ConfigError[],
  exclude: ExcludedColumns | undefined,
): Enrichment[] {
  const result: Enrichment[] = [];
  for (const enrichment of feature.enrich) {
    const at = ['enrich', enrichment.name];
    const before = errors.length;
    const fail = (where: FieldPath, problem: string, key = false) =>
      errors.push(feature.source.error([...at, ...where], problem, key ? { key } : {}));
    // The row's own column is independent of the table it is matched in.
    if (table && !columnOf(table, enrichment.from.column)) {
      fail(['match', enrichment.column], missingColumn(enrichment.from.column, table));
    }
    const target = catalog.get(enrichment.table);
    if (!target) {
      fail(['table'], missingTable(enrichment.table, catalog));
      continue;
    }
    const column = columnOf(target, enrichment.column);
    if (!column) fail(['match'], missingColumn(enrichment.column, target), true);
    for (const [i, name] of (enrichment.columns ?? []).entries()) {
      const excluded = exclusionOf(target, name, exclude);
      if (!columnOf(target, name)) fail(['columns', i], missingColumn(name, target));
      else if (excluded) fail(['columns', i], notCaptured(name, target, excluded));
    }
    if (!column || errors.length > before) continue;
    result.push({
      name: enrichment.name,
      target: enrichment.table,
      targetColumn: enrichment.column,
      // regtype spelling, without a type modifier: varchar(255) → character varying
      targetType: column.type.replace(/\s*\([\d\s,]*\)/g, ''),
      sourceField: enrichment.from.column,
      // Always a list: without one, nudge.enrich would copy the whole target row.
      columns:
        enrichment.columns ??
        capturable(
          target,
          target.columns.map((c) => c.name),
          exclude,
        ),
    });
  }
  return result;
}

/**
 * The part of the feature's trigger condition a trigger can evaluate: tests on
 * contact attributes are unknown inside the database, so they are weakened to
 * "true" — the trigger keeps a superset of rows and the engine decides. Update
 * triggers with `columns` also require one of them to have changed.
 */
function rowFilter(feature: Feature, table: Table, operation: Operation): CaptureNeed['filter'] {
  const trigger = feature.trigger;
  if (trigger.kind !== 'table') return undefined;
  const condition = trigger.when ? rowOnly(trigger.when) : undefined;
  const columns = operation === 'update' ? trigger.columns : undefined;
  if (!condition && !columns) return undefined;
  return (row: RowRefs) => {
    const parts: string[] = [];
    if (columns) {
      const changed = columns.map((name) => {
        const type = columnOf(table, name)!.typeName;
        const cast = NO_EQUALITY.has(type) ? '::text' : '';
        return `${row.old(name)}${cast} IS DISTINCT FROM ${row.new(name)}${cast}`;
      });
      parts.push(changed.length > 1 ? `(${changed.join(' OR ')})` : changed[0]!);
    }
    if (condition) {
      parts.push(
        compileSql(condition, {
          column: (field) => {
            const column = columnOf(table, field.column)!;
            const ref = field.scope === 'old' ? row.old(field.column) : row.new(field.column);
            return { sql: ref, type: valueTypeOf(column.type) };
          },
          ...inlineLiterals(),
        }),
      );
    }
    return parts.join(' AND ');
  };
}

/** A condition implied by `condition` that mentions only new.* and old.* (undefined: always true). */
export function rowOnly(condition: Condition): Condition | undefined {
  switch (condition.kind) {
    case 'test':
      return condition.field.scope === 'new' || condition.field.scope === 'old'
        ? condition
        : undefined;
    case 'not':
      return testsOf(condition.item).every(
        (t) => t.field.scope === 'new' || t.field.scope === 'old',
      )
        ? condition
        : undefined;
    case 'and': {
      const items = condition.items.map(rowOnly).filter((c): c is Condition => c !== undefined);
      return items.length === 0
        ? undefined
        : items.length === 1
          ? items[0]
          : { ...condition, items };
    }
    case 'or': {
      const items = condition.items.map(rowOnly);
      return items.every((c) => c !== undefined)
        ? { ...condition, items: items as Condition[] }
        : undefined;
    }
  }
}

function columnOf(table: Table, name: string) {
  return table.columns.find((c) => c.name === name);
}

function missingColumn(name: string, table: Table): string {
  return `column "${name}" does not exist on ${formatTableName(table)}${didYouMean(
    name,
    table.columns.map((c) => c.name),
  )}`;
}

function notCaptured(name: string, table: Table, reason: string): string {
  return reason === 'credential'
    ? `${name} holds credentials: Nudge never captures it from ${formatTableName(table)}`
    : `${name} of ${formatTableName(table)} is excluded by capture.exclude_columns in nudge.yaml`;
}

function missingTable(name: TableName, catalog: Catalog): string {
  const names = catalog.tables.map(formatTableName);
  return `table ${formatTableName(name)} does not exist${didYouMean(formatTableName(name), names)}`;
}

/** For an attribute nudge.yaml does not declare: the declared one it may mean, or how to declare it. */
function undeclaredHint(name: string, attributes: AttributeTypes, type: ValueType): string {
  const declare = `declare the attribute's type in nudge.yaml: contacts: { attributes: { ${name}: ${type} } } (or text, numeric, timestamptz, ...)`;
  const meant = closest(name, Object.keys(attributes));
  return meant ? `did you mean contact.${meant}? Else ${declare}` : declare;
}
