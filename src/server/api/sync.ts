// GET /v1/sync: every contact sync's state — the syncs nudge.yaml sets up
// and any sync_state row left — with a run whose process died said to be
// interrupted (contacts/sync/status.ts), whether live sync keeps it current
// (contacts/live.ts), and what its next run reads (the run's own choice,
// contacts/sync/checkpoint.ts planRun). POST /v1/sync { resources, mode,
// since, tables }: `nudge sync`'s run, started in this process in the
// background (contacts/sync/background.ts); 202 with the syncs it started,
// once the first holds its lock; 409 sync_running naming one that runs
// already (or whose lock a `nudge sync` took first), 503 server_stopping once
// the server stops (it stops its runs then, and waits for their ends). The
// server's nudge.yaml is the one it started with, as for everything else it
// serves.
import { Hono } from 'hono';
import type postgres from 'postgres';
import { z } from 'zod';
import type { SyncInfo, SyncOverview } from '../../client/sync.js';
import type { LoadedConfig } from '../../config/load.js';
import { timeOption } from '../../config/time-options.js';
import { AUTH_USERS, liveSyncTables, STORAGE_OBJECTS } from '../../contacts/live.js';
import {
  type BackgroundSyncs,
  type StartedState,
  SyncRunningError,
  SyncsStoppedError,
} from '../../contacts/sync/background.js';
import { planRun } from '../../contacts/sync/checkpoint.js';
import {
  configuredTableSyncs,
  requestedSyncs,
  type SyncRequest,
  usersConfigured,
} from '../../contacts/sync/request.js';
import { readSyncRows, type SyncRow } from '../../contacts/sync/status.js';
import { tableSyncName } from '../../contacts/sync/tables.js';
import { USERS_SYNC } from '../../contacts/sync/users.js';
import {
  ConfigError,
  ConfigErrors,
  messageWithHint,
  NudgeError,
  SourceError,
  UsageError,
} from '../../errors.js';
import { parseTableName, tableKey } from '../../source/names.js';
import { didYouMean } from '../../suggest.js';
import { HttpError } from '../http-error.js';
import type { ApiEnv } from './auth.js';
import { invalid, readJson, takes, validate } from './input.js';

export interface SyncApiOptions {
  /** The engine store. */
  sql: postgres.Sql;
  project: LoadedConfig;
  /** The syncs this server runs: one set per server, which stops them as it stops. */
  syncs: BackgroundSyncs;
  maxBodyBytes?: number;
}

const startSchema = z.strictObject({
  resources: z
    .array(z.enum(['users', 'tables'], { error: 'expected "users" or "tables"' }))
    .min(1, { error: 'expected at least one of "users", "tables"' })
    .optional(),
  mode: z.enum(['incremental', 'full'], { error: 'expected "incremental" or "full"' }).optional(),
  since: z.string().min(1).optional(),
  tables: z
    .array(z.string().min(1))
    .min(1, { error: 'expected at least one table_mapping entry' })
    .optional(),
});

export function syncRoutes(options: SyncApiOptions): Hono<ApiEnv> {
  const { project, syncs } = options;
  const api = new Hono<ApiEnv>();

  api.get('/', takes(), async (c) => c.json(await syncOverview(options)));

  api.post('/', async (c) => {
    // No body: what nudge.yaml sets up, as `nudge sync` (a body of `null` is a body, refused).
    const read = await readJson(c, options.maxBodyBytes ?? 1_048_576);
    const body = validate(startSchema, read === undefined ? {} : read);
    const request = startRequest(project, body);
    try {
      const started = await syncs.start(request);
      const shown = (await syncOverview(options)).syncs.filter((s) => started.includes(s.name));
      return c.json({ syncs: shown }, 202);
    } catch (error) {
      throw startRefusal(error);
    }
  });
  return api;
}

/** The body as the run's request, each refusal naming its field. */
function startRequest(
  project: LoadedConfig,
  body: z.output<typeof startSchema>,
): SyncRequest & { full?: boolean; since?: Date } {
  if (body.mode === 'full' && body.since !== undefined) {
    throw invalid('since', 'not with mode "full" (a full sync reads every row); leave one out');
  }
  const resources = new Set(body.resources ?? (body.tables ? ['tables'] : []));
  if (body.tables && !resources.has('tables')) {
    throw invalid('tables', 'only with "tables" in resources');
  }
  const entries = configuredTableSyncs(project);
  for (const [i, name] of (body.tables ?? []).entries()) {
    const table = parseTableName(name);
    const known = table && entries.some((e) => e.name === tableSyncName(table));
    if (!known) {
      const keys = entries.map((e) => e.entry);
      throw invalid(
        `tables[${i}]`,
        `no table_mapping entry for ${JSON.stringify(name)}${didYouMean(name, keys) || (keys.length ? `; there are ${keys.join(', ')}` : '; nudge.yaml has no table_mapping')}`,
      );
    }
  }
  let since: Date | undefined;
  if (body.since !== undefined) {
    try {
      since = timeOption('since:', body.since, new Date());
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      throw new HttpError(422, 'invalid_body', messageWithHint(error));
    }
  }
  const request: SyncRequest = body.resources
    ? { users: resources.has('users'), tables: resources.has('tables') }
    : body.tables
      ? { users: false, tables: true }
      : { users: 'configured', tables: true };
  if (!body.resources && !body.tables && !setUp(project)) {
    throw new HttpError(409, 'sync_not_configured', notSetUp(project));
  }
  if (requestedSyncs(project, request).length === 0) {
    // resources: ["tables"] and no table_mapping.
    throw new HttpError(
      409,
      'sync_not_configured',
      'nothing to sync: nudge.yaml has no connectors.supabase.table_mapping (docs/connector.md); set one, then restart the server',
    );
  }
  return {
    ...request,
    ...(body.tables ? { only: body.tables } : {}),
    ...(body.mode === 'full' ? { full: true } : {}),
    ...(since ? { since } : {}),
  };
}

/** What a start that did not happen answers. */
function startRefusal(error: unknown): unknown {
  if (error instanceof SyncRunningError) {
    return new HttpError(
      409,
      'sync_running',
      `${error.message}: wait for ${error.syncs.length === 1 ? 'it' : 'them'} to end (GET /v1/sync); a sync that stopped continues where it left off`,
      {},
      { syncs: error.syncs },
    );
  }
  if (error instanceof SyncsStoppedError) {
    return new HttpError(
      503,
      'server_stopping',
      `${error.message}: start it again once the server is back; a sync that stopped continues where it left off`,
    );
  }
  if (error instanceof ConfigErrors || error instanceof ConfigError) {
    const problems = error instanceof ConfigErrors ? error.errors : [error];
    return new HttpError(422, 'sync_config', problems.map(messageWithHint).join('; '));
  }
  if (error instanceof SourceError) {
    return new HttpError(503, 'source_unavailable', messageWithHint(error));
  }
  if (error instanceof NudgeError)
    return new HttpError(409, 'sync_refused', messageWithHint(error));
  return error;
}

/** Whether nudge.yaml sets up a sync: connectors.supabase, enabled, with users or tables to sync. */
function setUp(project: LoadedConfig): boolean {
  const supabase = project.supabase;
  if (!supabase?.enabled) return false;
  return usersConfigured(project) || configuredTableSyncs(project).length > 0;
}

/** How to set one up, in one line. */
function notSetUp(project: LoadedConfig): string {
  if (project.supabase && !project.supabase.enabled) {
    return 'connectors.supabase.enabled is false in nudge.yaml: set it to true, then restart the server';
  }
  return 'nothing to sync: in nudge.yaml set connectors.supabase.sync.users: true (and table_mapping for tables; docs/connector.md), then restart the server';
}

/** The configured syncs first (users, then table_mapping's order), then rows of any others. */
async function syncOverview(options: SyncApiOptions): Promise<SyncOverview> {
  const { project, syncs } = options;
  // One copy, taken before the rows are read: a run that had saved its start
  // by then (running) is in the row read.
  const started = new Map(syncs.started());
  const rows = new Map((await readSyncRows(options.sql)).map((row) => [row.name, row]));
  const enabled = project.supabase?.enabled !== false;
  const configured = enabled
    ? [
        ...(usersConfigured(project) ? [USERS_SYNC] : []),
        ...configuredTableSyncs(project).map((t) => t.name),
      ]
    : [];
  const names = [...new Set([...configured, ...rows.keys(), ...started.keys()])];
  const configuredSet = new Set(configured);
  const ready = setUp(project);
  const live = liveSyncs(project);
  // Where a run reads, as the run's session picks it (session.ts): the database when a URL is set.
  const source = project.databaseUrl ? 'database' : 'api';
  return {
    configured: ready,
    hint: ready ? null : notSetUp(project),
    syncs: names.map((name) =>
      describe(name, rows.get(name), {
        configured: configuredSet.has(name),
        here: started.get(name),
        live: live.has(name),
        source,
      }),
    ),
  };
}

/**
 * The syncs live sync keeps current (connectors.supabase.sync.realtime):
 * `users` with sync.users, and each table_mapping entry's sync.
 */
function liveSyncs(project: LoadedConfig): Set<string> {
  const names = new Set<string>();
  for (const { table } of liveSyncTables(project)) {
    if (tableKey(table) === tableKey(STORAGE_OBJECTS)) continue;
    names.add(tableKey(table) === tableKey(AUTH_USERS) ? USERS_SYNC : tableSyncName(table));
  }
  return names;
}

function describe(
  name: string,
  row: SyncRow | undefined,
  {
    configured,
    here,
    live,
    source,
  }: {
    configured: boolean;
    /** Started here: where it was before the row was read. */
    here: StartedState | undefined;
    live: boolean;
    source: 'database' | 'api';
  },
): SyncInfo {
  const cursor = row?.cursor ?? null;
  const stored = row?.status ?? 'idle';
  // Stored running, and nobody holds the sync: its process stopped before saving its end.
  const lost = stored === 'running' && row?.alive === false;
  // Started here: queued until its turn and its lock, then running (also before its run saves its start).
  // An error recorded since the row's run ended (one before a run's first page) is its state now.
  const failed = stored !== 'running' && !!row?.error;
  const status: SyncInfo['status'] =
    (here === 'locked' ? 'running' : here) ?? (lost ? 'interrupted' : failed ? 'failed' : stored);
  // Started here and its run has not saved its start yet: the row still
  // holds the run before it — one that ended, or one a dead process left
  // `running` (while this run waits its turn, or holds the lock and reads
  // the row). What that run was, read, and when it began is not this one's
  // (a mode or since starts a new run), so none of it is shown until the
  // run saves its own. A run that continues an interrupted one saves that
  // run's mode, since, started_at and counts as its own start: they are
  // shown from then on, as a `nudge sync` continuing it reports them.
  const previous = here === 'queued' || here === 'locked';
  return {
    name,
    resource: name === USERS_SYNC ? 'users' : 'table',
    table: name.startsWith('table:') ? name.slice('table:'.length) : null,
    configured,
    status,
    alive: status === 'running' ? true : lost ? false : null,
    mode: previous ? null : (cursor?.mode ?? null),
    source: previous ? null : (cursor?.source ?? null),
    since: previous ? null : (cursor?.since ?? null),
    started_at: previous ? null : (cursor?.run_started_at ?? null),
    updated_at: row ? row.updatedAt.toISOString() : null,
    stats: previous ? null : (row?.stats ?? null),
    error: status === 'failed' ? (row?.error ?? null) : null,
    live,
    next: nextRun(row, source),
  };
}

/**
 * What a run started now without a mode reads, as the run decides it
 * (planRun): a stopped run continues; after a finished one, the rows
 * changed since it (a table with neither updated_at nor created_at saves no
 * such time, and is read whole); else every row.
 */
function nextRun(row: SyncRow | undefined, source: 'database' | 'api'): SyncInfo['next'] {
  const plan = planRun(row ?? null, { source, incremental: true, now: new Date() });
  if (plan.resumed) return { read: 'continue', since: plan.cursor.since };
  return { read: plan.cursor.mode, since: plan.cursor.since };
}
