// `nudge analyze`: prints what introspect.ts reads, grouped by schema, or as one
// JSON document with `--json`. Read-only; works as a role without CREATE.
//
// JSON shape (version 1; types in src/source/introspect.ts):
//   { version: 1, url, database: {name, serverVersion, serverVersionNum, role, superuser,
//     bypassRls, canCreateSchema, walLevel},
//     schemas: [{ name, tables: [{ schema, table, kind, owner, rls, rowEstimate,
//       rows: {value, source: estimate|count|unknown}, primaryKey: [col],
//       columns: [{name, type, typeName, notNull, generated}],
//       authUserReferences: [{constraint, columns, references, onDelete}],
//       triggers: [{name, timing, events, level, function: {schema, name},
//                   state: enabled|always|replica|disabled, fires, nudge}],
//       publications: [name], access: {select, trigger, rlsApplies} }] }],
//     extensions: [{name, version, schema}], pgNet: {installed, version, available},
//     publications: [{name, allTables, operations, tables: [{schema, table}]}],
//     nudgeSchema: {exists, owner, usable}, summary: {...see summarize()} }

import { NudgeError } from '../errors.js';
import { redactUrl, sourceError } from '../source/connect.js';
import {
  type Analysis,
  allTables,
  analyzeDatabase,
  type TableReport,
  type Trigger,
  userSchemas,
} from '../source/introspect.js';
import { formatTableName } from '../source/names.js';
import { didYouMean } from '../suggest.js';
import { plural } from '../words.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, withSource } from './project.js';

export interface AnalyzeOptions extends GlobalOptions {
  json?: boolean;
  schema?: string[];
}

/** Never-analyzed tables up to this size get an exact count(*). */
const COUNT_BELOW_BYTES = 8 * 1024 * 1024;

export async function analyze(options: AnalyzeOptions, io: Io): Promise<number> {
  const project = await loadProject(options, io);
  return withSource(project, async ({ sql, url }) => {
    let analysis: Analysis;
    try {
      if (options.schema?.length) {
        const known = await userSchemas(sql);
        const unknown = options.schema.filter((name) => !known.includes(name));
        if (unknown.length) {
          throw new NudgeError(
            `no schema ${unknown.map((n) => `"${n}"${didYouMean(n, known)}`).join(', ')}`,
            `schemas in this database: ${known.join(', ')}`,
          );
        }
      }
      analysis = await analyzeDatabase(sql, {
        ...(options.schema?.length ? { schemas: options.schema } : {}),
        countBelowBytes: COUNT_BELOW_BYTES,
      });
    } catch (error) {
      throw sourceError(error, 'cannot analyze the database');
    }
    if (options.json) {
      const document = {
        version: 1,
        url: redactUrl(url),
        ...analysis,
        summary: summarize(analysis),
      };
      io.out(JSON.stringify(document, null, 2));
    } else {
      printAnalysis(io, analysis, redactUrl(url));
    }
    return 0;
  });
}

export function summarize(analysis: Analysis) {
  const tables = allTables(analysis).filter(
    (t) => t.kind === 'table' || t.kind === 'partitioned table',
  );
  const triggers = allTables(analysis).flatMap((t) => t.triggers);
  const realtime = analysis.publications.find((p) => p.name === 'supabase_realtime');
  return {
    schemas: analysis.schemas.length,
    tables: tables.length,
    views: allTables(analysis).length - tables.length,
    tablesWithoutRls: tables.filter((t) => !t.rls).length,
    tablesReferencingAuthUsers: tables.filter((t) => t.authUserReferences.length > 0).length,
    triggers: triggers.length,
    nudgeTriggers: triggers.filter((t) => t.nudge).length,
    disabledTriggers: triggers.filter((t) => !t.fires).length,
    pgNet: analysis.pgNet.installed,
    walLevel: analysis.database.walLevel,
    realtime: realtime ? (realtime.allTables ? 'all tables' : realtime.tables.length) : null,
  };
}

/** Pads every cell but the last of each row to its column's width. */
function align(rows: string[][]): string[][] {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows.map((row) =>
    row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i]!) : cell)),
  );
}

function printAnalysis(io: Io, analysis: Analysis, url: string): void {
  const c = io.colors;
  const db = analysis.database;
  const powers = [db.superuser && 'superuser', !db.superuser && db.bypassRls && 'bypasses RLS']
    .filter(Boolean)
    .join(', ');
  io.out(
    `${c.bold(`Database ${db.name}`)}  PostgreSQL ${db.serverVersion}, role ${db.role}` +
      `${powers ? ` (${powers})` : ''}  ${c.dim(url)}`,
  );
  for (const schema of analysis.schemas) {
    io.out('');
    if (!schema.tables.length) {
      io.out(`${c.bold(schema.name)}  ${c.dim('no tables')}`);
      continue;
    }
    io.out(`${c.bold(schema.name)}  ${c.dim(plural(schema.tables.length, 'table'))}`);
    for (const table of schema.tables) printTable(io, table, db.role);
  }

  io.out('');
  io.out(c.bold('Extensions'));
  const rows = analysis.extensions.map((e) => [e.name, e.version, `in ${e.schema}`]);
  if (!analysis.pgNet.installed) {
    const note = analysis.pgNet.available
      ? 'to enable: Database → Extensions → pg_net → Enable (needed only for capture: webhook)'
      : 'not available on this server (needed only for capture: webhook)';
    rows.push(['pg_net', '-', `not installed; ${note}`]);
  }
  for (const [name, version, where] of align(rows)) {
    io.out(
      `  ${name}  ${version}  ${where!.startsWith('not installed') ? c.yellow(where!) : where}`,
    );
  }

  io.out('');
  io.out(c.bold('Replication'));
  const logical = db.walLevel === 'logical';
  io.out(
    `  wal_level  ${logical ? db.walLevel : c.yellow(db.walLevel)}` +
      (logical ? '' : c.dim('  (logical replication needs wal_level = logical; triggers do not)')),
  );
  if (!analysis.publications.length) io.out(`  ${c.dim('no publications')}`);
  const pubs = align(
    analysis.publications.map((p) => [
      `publication ${p.name}`,
      p.operations.join(', ') || 'no operations',
      p.allTables
        ? 'FOR ALL TABLES'
        : p.tables.length
          ? `${plural(p.tables.length, 'table')}: ${p.tables.map(formatTableName).join(', ')}`
          : 'no tables',
    ]),
  );
  for (const row of pubs) io.out(`  ${row.join('  ')}`);

  const s = summarize(analysis);
  const parts = [
    plural(s.schemas, 'schema'),
    `${plural(s.tables, 'table')}${s.tablesWithoutRls ? ` (${s.tablesWithoutRls} without RLS)` : ''}`,
    ...(s.views ? [plural(s.views, 'view')] : []),
    `${plural(s.tablesReferencingAuthUsers, 'table')} referencing auth.users`,
    `${plural(s.triggers, 'trigger')}${s.nudgeTriggers ? ` (${s.nudgeTriggers} Nudge)` : ''}` +
      (s.disabledTriggers ? `, ${s.disabledTriggers} disabled` : ''),
    `pg_net ${s.pgNet ? 'installed' : 'not installed'}`,
    `wal_level ${s.walLevel}`,
    s.realtime === null
      ? 'no supabase_realtime publication'
      : `supabase_realtime: ${typeof s.realtime === 'number' ? plural(s.realtime, 'table') : 'all tables'}`,
  ];
  io.out('');
  io.out(`${c.bold('Summary')}  ${parts.join(' · ')}`);
}

function describeRows(table: TableReport): string {
  const { value, source } = table.rows;
  if (table.kind === 'view' || table.kind === 'foreign table') return '';
  if (source === 'unknown' || value === null) {
    return `rows unknown (never analyzed${table.access.select ? '' : ', not readable'})`;
  }
  const n = value.toLocaleString('en-US');
  return source === 'count' ? `${n} row${value === 1 ? '' : 's'} (counted)` : `~${n} rows`;
}

function printTable(io: Io, table: TableReport, role: string): void {
  const c = io.colors;
  const facts = [
    table.kind,
    table.kind === 'view' ? '' : table.rls ? 'RLS on' : c.yellow('RLS off'),
    describeRows(table),
    `owner ${table.owner}`,
    table.access.select ? '' : c.yellow(`not readable by ${role}`),
  ].filter(Boolean);
  io.out(`  ${c.cyan(formatTableName(table))}  ${c.dim(facts.join(' · '))}`);

  const references = new Map<string, string>();
  for (const ref of table.authUserReferences) {
    ref.columns.forEach((column, i) => {
      references.set(column, `→ auth.users(${ref.references[i] ?? '?'}) on delete ${ref.onDelete}`);
    });
  }
  const rows = align(
    table.columns.map((column) => [
      column.name,
      column.type,
      [
        table.primaryKey.includes(column.name) ? 'primary key' : '',
        column.notNull && !table.primaryKey.includes(column.name) ? 'not null' : '',
        column.generated ? 'generated' : '',
        references.get(column.name) ?? '',
      ]
        .filter(Boolean)
        .join(', '),
    ]),
  );
  for (const [name, type, flags] of rows) {
    io.out(
      `    ${name}  ${c.dim(type!)}  ${flags?.includes('→') ? c.magenta(flags) : flags}`.trimEnd(),
    );
  }
  if (table.triggers.length) {
    io.out(`    ${c.dim('triggers')}`);
    const triggerRows = align(table.triggers.map(describeTrigger));
    table.triggers.forEach((trigger, i) => {
      const cells = triggerRows[i]!.map((cell, column) => {
        if (column === 4 && !trigger.fires) return c.red(cell);
        return trigger.nudge ? c.cyan(cell) : cell;
      });
      io.out(`      ${cells.join('  ')}`.trimEnd());
    });
  }
  if (table.publications.length)
    io.out(`    ${c.dim('publications')} ${table.publications.join(', ')}`);
}

function describeTrigger(trigger: Trigger): string[] {
  return [
    trigger.name,
    `${trigger.timing} ${trigger.events.join(' OR ')}`,
    `FOR EACH ${trigger.level}`,
    `${formatTableName({ schema: trigger.function.schema, table: trigger.function.name })}()`,
    trigger.state,
    trigger.nudge ? 'Nudge' : '',
  ];
}
