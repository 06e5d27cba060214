// The checks of `nudge doctor` (src/cli/doctor.ts prints them) and of the
// dashboard's Overview (GET /v1/overview/checks): the connection test, each
// check an outcome (ok, warn, fail), a label, a message and a one-line fix.
// Every check stands alone: one that fails or throws never stops the others.

import { transportOf } from '../capture/transports/index.js';
import {
  type FeatureLoad,
  featureChecks,
  featureFileChecks,
  featureTables,
  loadFeatureFiles,
} from '../cli/doctor-features.js';
import { noDatabase, withSource } from '../cli/project.js';
import type { LoadedConfig } from '../config/load.js';
import { formatPath } from '../config/yaml.js';
import { liveSyncTables } from '../contacts/live.js';
import { segmentProblem } from '../contacts/query.js';
import { isInsufficientPrivilege, isQueryCanceled } from '../db/errors.js';
import { checkStoredSecrets, keySourceOf, SecretError } from '../db/secrets.js';
import { DEMO_DATABASE } from '../dev/demo.js';
import { emailCheck } from '../email/doctor.js';
import { NudgeError } from '../errors.js';
import { openSource, redactUrl, type Sql, sourceError } from '../source/connect.js';
import {
  type Analysis,
  allTables,
  analyzeDatabase,
  countRows,
  readDatabase,
  SUPABASE_SCHEMAS,
  seesAnyRow,
  type TableReport,
} from '../source/introspect.js';
import { formatTableName, parseTableName, type TableName, tableKey } from '../source/names.js';
import { detectPooling, type Pooling, transactionPoolingError } from '../source/pooler.js';
import { type Outcome, supabaseApiFindings } from '../source/supabase-http.js';
import { closest } from '../suggest.js';
import { plural } from '../words.js';
import { captureFailuresCheck } from './capture-failures.js';
import { devMailboxAddress } from './dev-links.js';
import { encryptionCheck } from './encryption.js';
import { sqlName } from './sql-name.js';

const CONNECTION_STRING = 'Dashboard → Settings → Database → Connection string';

/**
 * Reports one check: its outcome, label, message, and how to fix it; `items`
 * are the problems one at a time when the message counts several.
 */
export type Say = (
  outcome: Outcome,
  label: string,
  message: string,
  fix?: string,
  items?: readonly string[],
) => void;

/** Where the checks go: each check, a heading per part, a skipped part, a pause between parts. */
export interface Report {
  say: Say;
  section(title: string, detail?: string): void;
  skip(message: string): void;
  gap(): void;
}

/** Runs every check of `nudge doctor` for the project, reporting each as it completes. */
export async function runDoctor(project: LoadedConfig, report: Report): Promise<void> {
  const { say, section, skip, gap } = report;
  const supabase = project.supabase?.enabled ? project.supabase : undefined;

  let connected = false;
  let featuresChecked = false;
  if (project.databaseUrl) {
    section('Database', `${redactUrl(project.databaseUrl)} (from ${project.databaseUrlFrom})`);
    ({ connected, featuresChecked } = await databaseChecks(project, say, skip));
  } else if (supabase?.project_url) {
    section('Database');
    const fix = `set database_url or DATABASE_URL (${CONNECTION_STRING}); tables, RLS, capture triggers (nudge deploy), the realtime publication and Nudge's trigger state need it`;
    say('warn', 'Database', 'no database URL: only the Supabase API checks run', fix);
  } else {
    section('Database');
    // What a command that needs the database says: the unset variable at
    // its line, with the URL to export when a nudge dev runs here.
    const missing = await noDatabase(project);
    say('fail', 'Database', missing.message, missing.hint);
  }
  // Without the database's checks the files are still read, so that their
  // problems are not left for a second round.
  if (!featuresChecked) {
    section('Features');
    await featureFileChecks(project, say);
  }

  const store = project.config.engine?.database_url;
  if (store || project.databaseUrl) {
    section(
      'Engine store',
      store ? redactUrl(store) : 'schema nudge_engine in the source database',
    );
    if (store || connected) await engineStoreChecks(project, say);
    else skip('engine store checks skipped: no connection');
  }

  if (supabase?.project_url) {
    section('Supabase API', supabase.project_url);
    const findings = await supabaseApiFindings({
      projectUrl: supabase.project_url,
      key: supabase.key,
      anonKey: supabase.anon_key,
    });
    for (const f of findings) say(f.outcome, f.label, f.message, f.fix);
  } else {
    gap();
    skip(
      'Supabase API checks skipped: set connectors.supabase.project_url and api_key to run them',
    );
  }
}

/** Runs the database checks; whether it could connect, and whether they came to the feature files. */
async function databaseChecks(
  project: LoadedConfig,
  say: Say,
  skip: (m: string) => void,
): Promise<{ connected: boolean; featuresChecked: boolean }> {
  let connected = false;
  let featuresChecked = false;
  try {
    await withSource(project, async ({ sql, readOnly, url }) => {
      connected = true;
      // First, on connections of its own: what follows may not work through a transaction pooler.
      const pooling = await detectPooling({ url, readOnly }).catch(poolingUnknown);
      const db = await readDatabase(sql);
      const powers = db.superuser ? 'superuser' : db.bypassRls ? 'bypasses RLS' : 'RLS applies';
      const access = readOnly ? ', access read-only' : '';
      say(
        'ok',
        'Connection',
        `PostgreSQL ${db.serverVersion}, role ${db.role} (${powers})${access}`,
      );
      await encryptionCheck(sql, url, say);
      if (!poolingCheck(url, pooling, say))
        return skip('auth, tables, storage, capture and realtime checks skipped: no session');
      let analysis: Analysis;
      try {
        analysis = await analyzeDatabase(sql);
      } catch (error) {
        const e = sourceError(error, 'cannot read the catalog');
        say('fail', 'Catalog', e.message, e.hint);
        return skip('auth, tables, storage, capture and realtime checks skipped');
      }
      const byKey = new Map(allTables(analysis).map((t) => [tableKey(t), t]));
      const features = await loadFeatureFiles(project);
      const checks = { sql, project, say, readOnly, analysis, role: db.role, byKey, features };
      featuresChecked = true;
      await runChecks({ ...checks, configured: configuredTables(project) });
    });
  } catch (error) {
    const e = sourceError(error, connected ? 'database check failed' : 'cannot connect');
    say('fail', connected ? 'Database' : 'Connection', e.message, e.hint);
    if (!connected)
      skip('auth, tables, storage, capture and realtime checks skipped: no connection');
  }
  return { connected, featuresChecked };
}

const poolingUnknown = (error: unknown) =>
  sourceError(error, 'cannot tell whether the server keeps sessions');

/** One line on pooling: ✗ with the URL to use instead when the pooler lends sessions per transaction. */
function poolingCheck(url: string, pooling: Pooling | NudgeError, say: Say): boolean {
  if (pooling instanceof NudgeError) {
    say('fail', 'Pooler', pooling.message, pooling.hint);
    return false;
  }
  if (pooling.kind === 'transaction') {
    const e = transactionPoolingError(url, pooling.why);
    say('fail', 'Pooler', e.message, e.hint);
    return false;
  }
  const what = pooling.supabasePooler
    ? "Supabase's session pooler"
    : 'a direct connection or a session pooler';
  say('ok', 'Pooler', `sessions kept (${what})`);
  return true;
}

/**
 * The engine store: a separate one must keep sessions too, every stored
 * secret must decrypt with this project's master key (what nudge start checks
 * before it takes any work), and every saved segment must compile.
 */
async function engineStoreChecks(project: LoadedConfig, say: Say) {
  const separate = project.config.engine?.database_url;
  const url = separate ?? project.databaseUrl!;
  const readOnly = !separate && project.config.access === 'read-only';
  if (separate) {
    const pooling = await detectPooling({ url, readOnly }).catch(poolingUnknown);
    poolingCheck(url, pooling, say);
  }
  try {
    const sql = await openSource({ url, readOnly, max: 1 });
    try {
      const [store] = await sql<{ secrets: boolean; lists: boolean; demo: boolean }[]>`
        select to_regclass('nudge_engine.secrets') is not null as secrets,
               to_regclass('nudge_engine.lists') is not null as lists,
               current_database() = ${DEMO_DATABASE} as demo`;
      await secretsCheck(sql, project, say, { stored: !!store?.secrets, demo: !!store?.demo });
      // On its own: a key that does not open the secrets says nothing of the segments.
      if (store?.lists)
        await segmentsCheck(sql, project, say).catch((error: unknown) => {
          const e = sourceError(error, 'cannot read the saved segments');
          say('fail', 'Segments', e.message, e.hint);
        });
    } finally {
      await sql.end({ timeout: 5 });
    }
  } catch (error) {
    const e = sourceError(error, 'cannot read the secrets');
    say('fail', 'Secrets', e.message, e.hint);
  }
}

/** Every stored secret decrypts with this project's master key. */
async function secretsCheck(
  sql: Sql,
  project: LoadedConfig,
  say: Say,
  store: { stored: boolean; demo: boolean },
): Promise<void> {
  try {
    const names = store.stored ? await checkStoredSecrets(sql, keySourceOf(project)) : [];
    say(
      'ok',
      'Secrets',
      names.length
        ? `${plural(names.length, 'stored secret')} ${names.length === 1 ? 'decrypts' : 'decrypt'} with this project's master key`
        : 'none stored yet',
    );
  } catch (error) {
    const e = sourceError(error, 'cannot read the secrets');
    say('fail', 'Secrets', e.message, demoKeyHint(error, store.demo) ?? e.hint);
  }
}

/**
 * Saved segments whose query no longer compiles with nudge.yaml's attribute
 * types (saved before a rule refused it, or an attribute's type changed):
 * each answers 400 on its own page and holds no contact. Said only when
 * there are some.
 */
async function segmentsCheck(sql: Sql, project: LoadedConfig, say: Say): Promise<void> {
  const segments = await sql<{ name: string; query: string }[]>`
    select name, query from nudge_engine.lists where query is not null order by name`;
  const broken = segments.flatMap(({ name, query }) => {
    const problem = segmentProblem(query, project.config.contacts.attributes);
    return problem ? [`${name} (${problem})`] : [];
  });
  if (broken.length === 0) return;
  say(
    'warn',
    'Segments',
    `${plural(broken.length, 'saved segment')} no longer ${broken.length === 1 ? 'compiles' : 'compile'}: ${broken.join('; ')}`,
    'declare the type it names in nudge.yaml, or delete the segment (DELETE /v1/lists/<name>) and save it again; until then its page answers 400 and no contact is in it',
  );
}

/**
 * nudge dev's demo database read with a key that is not the one nudge dev
 * keeps beside it (run from another folder): its secrets open in the folder
 * nudge dev runs in. Said instead of the general hint, which ends in
 * `nudge secret reset`: nothing is lost here.
 */
export function demoKeyHint(error: unknown, demo: boolean): string | undefined {
  if (!demo || !(error instanceof SecretError)) return undefined;
  return `this is nudge dev's demo database, whose secrets are under the key nudge dev keeps beside it (.nudge/secret.key in the folder it runs in): run this in that folder, with the commands nudge dev printed for another terminal`;
}

/** What the database checks share. */
interface Checks {
  sql: Sql;
  project: LoadedConfig;
  say: Say;
  readOnly: boolean;
  analysis: Analysis;
  role: string;
  byKey: Map<string, TableReport>;
  configured: ConfiguredTable[];
  features: FeatureLoad;
}

/** Each check on its own: an unexpected error becomes a ✗ line, and the next check runs. */
async function runChecks(checks: Checks) {
  const sync = checks.project.supabase?.enabled ? checks.project.supabase.sync : undefined;
  const section = transportOf(checks.project).doctor?.section;
  const steps: [string, () => unknown][] = [
    ['Auth', () => countCheck(checks, { schema: 'auth', table: 'users' }, 'user', !!sync?.users)],
    ['Tables', () => tableChecks(checks)],
    [
      'Storage',
      () => countCheck(checks, { schema: 'storage', table: 'buckets' }, 'bucket', !!sync?.storage),
    ],
    ['Capture', () => captureChecks(checks)],
    ['Realtime', () => realtimeChecks(checks)],
    ['Nudge capture', () => nudgeChecks(checks)],
    ['Capture failures', () => captureFailuresCheck(checks)],
    // The transport's own section, e.g. capture: replication's slot.
    ...(section ? [[section[0], () => section[1](checks)] as [string, () => unknown]] : []),
    [
      'Features',
      () => featureChecks(checks.sql, checks.project, checks.features, checks.say, checks.readOnly),
    ],
    [
      'Email',
      async () =>
        'features' in checks.features &&
        emailCheck(
          checks.project,
          checks.features.features,
          checks.say,
          await devMailboxAddress(checks.sql, checks.project, checks.features.features),
        ),
    ],
  ];
  for (const [label, step] of steps) {
    try {
      await step();
    } catch (error) {
      const e = sourceError(error, 'check failed');
      const fix = e.hint ?? 'run nudge doctor --debug and report the output';
      checks.say('fail', label, e.message, fix);
    }
  }
}

/** auth.users / storage.buckets: present, readable, and not emptied by RLS. */
async function countCheck(
  { sql, say, byKey, role }: Checks,
  table: TableName,
  noun: string,
  required: boolean,
) {
  const label = table.schema === 'auth' ? 'Auth' : 'Storage';
  const name = formatTableName(table);
  const report = byKey.get(tableKey(table));
  if (!report) {
    const missing =
      table.schema === 'auth'
        ? 'no auth.users: not a Supabase project; auth features unavailable'
        : 'no storage.buckets: not a Supabase project; storage events unavailable';
    const fix = `point database_url at the Supabase project (${CONNECTION_STRING})`;
    say(required ? 'fail' : 'warn', label, missing, fix);
    return;
  }
  let count: number;
  try {
    count = await countRows(sql, table, 5000);
  } catch (error) {
    if (isQueryCanceled(error) && report.rowEstimate >= 0) {
      const estimate = `~${Math.round(report.rowEstimate)} ${noun}s, estimate`;
      return say('ok', label, `${name} readable (${estimate}; counting timed out)`);
    }
    if (!isInsufficientPrivilege(error)) throw error;
    const fix = `connect as postgres (${CONNECTION_STRING}), or GRANT USAGE ON SCHEMA ${table.schema} and SELECT ON ${name} TO ${role}`;
    const outcome = required || table.schema === 'auth' ? 'fail' : 'warn';
    return say(outcome, label, `permission denied reading ${name} as role ${role}`, fix);
  }
  if (count === 0 && report.access.rlsApplies && report.rowEstimate > 0) {
    say('warn', label, rlsHides(report, role), rlsFix(role));
  } else {
    say('ok', label, `${name} readable (${plural(count, noun)})`);
  }
}

const rlsHides = (table: TableReport, role: string) =>
  `empty results under RLS: ${formatTableName(table)} has ~${Math.round(table.rowEstimate)} rows, role ${role} sees none`;
const rlsFix = (role: string) =>
  `connect as postgres (or a BYPASSRLS role like service_role), or add a policy that lets ${role} read the rows`;

interface ConfiguredTable {
  name: TableName;
  /** Listed in sync.tables (not only as a table_mapping key). */
  synced: boolean;
  /** Has a table_mapping entry. */
  mapped: boolean;
  /** As nudge.yaml writes it. */
  written: string;
  /** e.g. `connectors.supabase.sync.tables[0] at nudge.yaml:9` */
  where: string;
  report?: TableReport;
}

/** The tables the connector config names (sync.tables, table_mapping keys), each once. */
function configuredTables(project: LoadedConfig): ConfiguredTable[] {
  const supabase = project.supabase;
  if (!supabase?.enabled) return [];
  const found = new Map<string, ConfiguredTable>();
  const mapped = new Set(
    Object.keys(supabase.table_mapping ?? {})
      .map((key) => parseTableName(key))
      .filter((name) => name !== undefined)
      .map(tableKey),
  );
  const add = (text: string, path: (string | number)[], isKey: boolean) => {
    const name = parseTableName(text);
    if (!name || found.has(tableKey(name))) return;
    const place = project.source?.placeOf(path, { key: isKey });
    const at = place ? ` at ${place.file}:${place.line}` : '';
    const where = `${formatPath(path)}${at}`;
    found.set(tableKey(name), {
      name,
      synced: !isKey,
      mapped: mapped.has(tableKey(name)),
      written: text,
      where,
    });
  };
  supabase.sync.tables.forEach((text, i) => {
    add(text, ['connectors', 'supabase', 'sync', 'tables', i], false);
  });
  for (const text of Object.keys(supabase.table_mapping ?? {})) {
    add(text, ['connectors', 'supabase', 'table_mapping', text], true);
  }
  return [...found.values()];
}

async function tableChecks({ sql, say, analysis, role, byKey, configured }: Checks) {
  const isTable = (t: TableReport) => t.kind === 'table' || t.kind === 'partitioned table';
  const mine = allTables(analysis).filter((t) => !SUPABASE_SCHEMAS.has(t.schema) && isTable(t));
  const unreadable = mine.filter((t) => !t.access.select);
  const schemas = [...new Set(mine.map((t) => t.schema))].join(', ');
  if (unreadable.length) {
    const message = `${unreadable.length} of ${mine.length} tables not readable by role ${role}: ${list(unreadable.map(formatTableName))}`;
    const fix = `connect as postgres, or GRANT SELECT ON ${formatTableName(unreadable[0]!)} (and the others) TO ${role}`;
    say('warn', 'Tables', message, fix);
  } else {
    say(
      'ok',
      'Tables',
      `readable (${plural(mine.length, 'table')}${schemas ? ` in ${schemas}` : ''})`,
    );
  }

  const names = [...byKey.values()].map(formatTableName);
  for (const table of configured) {
    const name = formatTableName(table.name);
    table.report = byKey.get(tableKey(table.name));
    if (!table.report) {
      const guess = closest(name, names);
      const message = `${name} does not exist${guess ? ` (did you mean ${guess}?)` : ''} — ${table.where}`;
      const fix = guess ? `write ${guess} in nudge.yaml` : 'correct the name in nudge.yaml';
      say('fail', 'Tables', message, `${fix}, or create the table`);
    } else if (!table.report.access.select) {
      const fix = `GRANT SELECT ON ${name} TO ${role}, or connect as postgres`;
      say('fail', 'Tables', `${name} is not readable by role ${role} — ${table.where}`, fix);
    } else if (table.synced && !table.mapped) {
      const message = `${name} is in sync.tables but has no table_mapping entry, so nothing syncs from it and nothing is captured for it — ${table.where}`;
      const fix = `add connectors.supabase.table_mapping.${table.written} (its columns as attributes, or sync_as: events), or take it out of sync.tables`;
      say('warn', 'Tables', message, fix);
    }
  }

  // "Empty query results: RLS filtering all rows": the estimate says there are rows, the role sees none.
  const suspects = new Set(
    [...mine, ...configured.map((t) => t.report)].filter(
      (t): t is TableReport =>
        !!t && t.schema !== 'auth' && t.access.select && t.access.rlsApplies && t.rowEstimate > 0,
    ),
  );
  for (const table of [...suspects].slice(0, 50)) {
    if (!(await seesAnyRow(sql, table))) say('warn', 'RLS', rlsHides(table, role), rlsFix(role));
  }
}

async function captureChecks(checks: Checks) {
  const { say, analysis, role, project, configured, byKey, readOnly } = checks;
  const { name: database, canCreateSchema, walLevel } = analysis.database;
  // Read-only access never deploys: what deploy would need is a warning, not a failure.
  const needed = (label: string, message: string, fix: string) =>
    readOnly
      ? say('warn', label, `${message} (needed by nudge deploy; access is read-only)`, fix)
      : say('fail', label, message, fix);

  const { exists, usable, owner } = analysis.nudgeSchema;
  if (exists && usable) {
    say('ok', 'Nudge schema', `exists (owner ${owner}); role ${role} can use it`);
  } else if (exists) {
    const fix = `connect as ${owner}, or GRANT USAGE, CREATE ON SCHEMA nudge TO ${role}`;
    needed('Nudge schema', `schema nudge (owner ${owner}) is not usable by role ${role}`, fix);
  } else if (canCreateSchema) {
    say('ok', 'Nudge schema', `not deployed yet; role ${role} can create it`);
  } else {
    const message = `role ${role} cannot create schema nudge (no CREATE on database ${database})`;
    needed(
      'Nudge schema',
      message,
      `connect as postgres, or GRANT CREATE ON DATABASE ${database} TO ${role}`,
    );
  }

  // The tables deploy puts triggers on: what live sync watches (contacts/live.ts), and the features'.
  const targets = new Set<TableReport>();
  for (const { table } of liveSyncTables(project)) {
    const report = byKey.get(tableKey(table));
    if (report) targets.add(report);
  }
  for (const name of featureTables(checks.features)) {
    const report = byKey.get(tableKey(name));
    if (report) targets.add(report);
  }
  const denied = [...targets].filter((t) => !t.access.trigger);
  const transport = transportOf(project);
  if (transport.doctor?.tables) {
    await transport.doctor.tables(checks, [...targets], needed);
  } else if (!targets.size) {
    const none = configured.length
      ? 'nothing to check until the configured tables exist'
      : 'error' in checks.features
        ? 'no tables to check: the feature files could not be read (see Features)'
        : 'no tables named by features or connectors.supabase yet';
    say('ok', 'Trigger privilege', none);
  } else if (denied.length) {
    const message = `role ${role} cannot create triggers on ${list(denied.map(formatTableName))}`;
    const fix = `GRANT TRIGGER ON ${formatTableName(denied[0]!)} TO ${role}, or connect as its owner (${denied[0]!.owner})`;
    needed('Trigger privilege', message, fix);
  } else {
    const names = list([...targets].map(formatTableName));
    say('ok', 'Trigger privilege', `can create triggers on ${names}`);
  }

  if (transport.doctor?.extensions) transport.doctor.extensions(checks);
  else if (analysis.pgNet.installed) say('ok', 'pg_net', `${analysis.pgNet.version} installed`);
  else
    say(
      'ok',
      'pg_net',
      `not installed; not needed with capture: ${project.config.capture.transport}`,
    );
  const walNote =
    walLevel === 'logical' || !transport.triggers ? '' : ' (fine: Nudge captures with triggers)';
  say('ok', 'wal_level', `${walLevel}${walNote}`);
}

function realtimeChecks({ say, analysis, project, configured }: Checks) {
  const wanted = !!project.supabase?.enabled && project.supabase.sync.realtime;
  const own = transportOf(project).capturesWith;
  const publication = analysis.publications.find((p) => p.name === 'supabase_realtime');
  if (!publication && !wanted) {
    return say('ok', 'Realtime', 'no supabase_realtime publication (Nudge does not need it)');
  } else if (!publication) {
    const fix = `CREATE PUBLICATION supabase_realtime; Nudge itself captures changes with ${own}`;
    return say(
      'warn',
      'Realtime',
      'publication supabase_realtime does not exist (sync.realtime is on)',
      fix,
    );
  }
  const size = publication.allTables
    ? 'FOR ALL TABLES'
    : plural(publication.tables.length, 'table');
  say('ok', 'Realtime', `publication supabase_realtime (${size})`);
  if (!wanted) return;
  const missing = configured
    .filter((t) => t.synced && t.report && !t.report.publications.includes('supabase_realtime'))
    .map((t) => formatTableName(t.name));
  if (missing.length) {
    const message = `Realtime not enabled for ${missing.join(', ')}; Nudge captures changes with ${own}, Realtime clients get nothing`;
    const fix = `ALTER PUBLICATION supabase_realtime ADD TABLE ${missing.join(', ')}; (or Dashboard → Database → Replication)`;
    say('warn', 'Realtime', message, fix);
  }
}

function nudgeChecks({ say, analysis, readOnly, project }: Checks) {
  const label = 'Nudge capture';
  // A transport without triggers (capture: replication) has its own section.
  if (!transportOf(project).triggers) return;
  const deploy = `${readOnly ? 'set access: read-write, then ' : ''}run nudge plan, then nudge deploy`;
  if (!analysis.nudgeSchema.exists) return say('warn', label, 'nothing deployed yet', deploy);
  const deployed = allTables(analysis).flatMap((table) =>
    table.triggers.filter((t) => t.nudge).map((trigger) => ({ table, trigger })),
  );
  if (!deployed.length)
    return say('warn', label, 'schema nudge exists but has no triggers', deploy);
  const silent = deployed.filter((d) => !d.trigger.fires);
  if (silent.length) {
    const { table, trigger } = silent[0]!;
    const names = silent.map(
      (d) => `${d.trigger.name} on ${formatTableName(d.table)} (${d.trigger.state})`,
    );
    const fix = `run nudge deploy (it re-enables them), or ALTER TABLE ${formatTableName(table)} ENABLE TRIGGER ${sqlName(trigger.name)}`;
    return say('fail', label, `triggers not firing: ${list(names)}`, fix);
  }
  const tables = new Set(deployed.map((d) => d.table)).size;
  say(
    'ok',
    label,
    `${plural(deployed.length, 'trigger')} on ${plural(tables, 'table')}, all enabled`,
  );
}

function list(items: string[], max = 5): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}
