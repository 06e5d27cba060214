// `nudge sync users`: Supabase Auth users → contacts, from the database
// (keyset by id, or by (updated_at, id) for changes) or the Auth admin API.
// Users deleted in Supabase are marked deleted on their contact: soft deletes
// through deleted_at, hard deletes by a full sync noticing the user is gone.
// A user whose address another contact holds is written without it
// (addresses.ts) and read again by the next incremental run.
import type postgres from 'postgres';
import { isBadData } from '../../db/errors.js';
import type { SupabaseApi } from '../../source/supabase-api.js';
import { type UserMapping, userColumns, userToContact } from '../mapping.js';
import type { SyncedUser } from '../store.js';
import { noteConflicts, planRun, readState, type SyncStats, withSyncLock } from './checkpoint.js';
import { readUsers, upsertUsersInDatabase, userMappingSql } from './in-database.js';
import type { SyncReporter } from './report.js';
import { type PageReader, runSync, type SyncResult } from './runner.js';
import { INCREMENTAL_OVERLAP_MS, nextSince, runStart } from './since.js';
import { apiUserReader, dbUserReader, type UserCursor } from './sources.js';
import { markDeleted, markDeletedBetween, touchUsers, writeUsers } from './write.js';

export type SyncSource =
  | {
      kind: 'database';
      sql: postgres.Sql;
      /** The engine store is this database (schema nudge_engine): a full sync can run in it. */
      holdsEngine?: boolean;
    }
  | { kind: 'api'; api: SupabaseApi };

export interface SyncRunOptions {
  engine: postgres.Sql;
  /** The engine store's URL: the sync's lock is held on a connection of its own. */
  engineUrl: string;
  source: SyncSource;
  batchSize: number;
  full?: boolean;
  since?: Date;
  /** Batches written at once (default 2). */
  concurrency?: number;
  signal?: AbortSignal;
  onBatch?: (committed: number, stats: SyncStats) => void;
  /**
   * Once the sync holds its lock (withSyncLock), before its run reads
   * anything: from then on no other process can take it.
   */
  onLocked?: () => void;
  report: SyncReporter;
  /** Taken off the next incremental run's start (since.ts INCREMENTAL_OVERLAP_MS; tests shorten it). */
  overlapMs?: number;
}

export const USERS_SYNC = 'users';

export async function syncUsers(
  options: SyncRunOptions & {
    mapping: UserMapping;
    /** The columns auth.users has (older Supabase versions lack some, e.g. deleted_at). */
    available?: string[];
  },
): Promise<SyncResult> {
  const { engine, source, mapping, report } = options;
  const columns = userColumns(mapping).filter(
    (c) => !options.available || options.available.includes(c),
  );
  return withSyncLock(options.engineUrl, USERS_SYNC, async () => {
    options.onLocked?.();
    const overlapMs = options.overlapMs ?? INCREMENTAL_OVERLAP_MS;
    const start = await runStart(source, engine, {
      label: 'users',
      incremental: true,
      overlapMs,
      log: report.log,
    });
    const plan = planRun(await readState(engine, USERS_SYNC), {
      ...(options.full ? { full: true } : {}),
      ...(options.since ? { since: options.since } : {}),
      source: source.kind,
      incremental: true,
      ...start,
    });
    const run = {
      mode: plan.cursor.mode,
      since: plan.cursor.since,
      ...(plan.cursor.reread?.length ? { reread: plan.cursor.reread } : {}),
    };
    const full = run.mode === 'full';
    const perPage = Math.min(options.batchSize, 1000);
    // In the database, pages are id ranges: the reader reads only the ids.
    const inDatabase =
      full && source.kind === 'database' && source.holdsEngine
        ? userMappingSql(mapping, options.available)
        : null;
    // A full run from the database marks the contacts of ids it did not find
    // deleted, only those already there when it read (markDeletedBetween):
    // each page carries the engine store's time before its read, and the
    // read that found the end leaves its own for finish().
    let endReadAt: string | null = null;
    const reader: PageReader<UserCursor> | PageReader<{ page: number }> =
      source.kind === 'api'
        ? apiUserReader(source.api, run, perPage)
        : stampReads(
            full ? engine : null,
            dbUserReader(source.sql, inDatabase ? ['id'] : columns, run, options.batchSize),
            (readAt) => {
              endReadAt = readAt;
            },
          );
    if (run.reread) {
      report.log.verbose(
        `users: ${run.reread.length} users the last run could not write whole are read again`,
      );
    }
    if (source.kind === 'api' && !full) {
      report.log.info(
        'users: the Auth admin API cannot filter by updated_at; every page is read and users changed since are kept',
      );
    }
    report.log.debug(
      `users: reading ${source.kind === 'database' ? `columns ${columns.join(', ')} of auth.users` : 'GET /auth/v1/admin/users'}; mapping ${mapping.fields.map((f) => `${f.source} → ${f.target}`).join(', ')}`,
    );
    if (inDatabase) {
      report.log.debug(
        'users: the engine store is the source database: each page is upserted by one INSERT … SELECT from auth.users',
      );
    }
    const runStartedAt = plan.cursor.run_started_at;
    return runSync({
      engine,
      name: USERS_SYNC,
      label: 'users',
      plan,
      reader: reader as PageReader<unknown>,
      concurrency: options.concurrency ?? 2,
      report,
      nextSince: nextSince(plan.cursor, overlapMs),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onBatch ? { onBatch: options.onBatch } : {}),
      async write(tx, page) {
        const skipped: { id: string; reason: string }[] = [];
        const warnings: { id: string; reason: string }[] = [];
        const skippedIds: string[] = [];
        /** Users for the next run to read again: written without an address, or refused. */
        const again: string[] = [];
        const counts = { synced: 0, created: 0, updated: 0, deleted: 0 };
        /** userToContact and upsertUsers, for rows read into this process. */
        const writeRows = async (rows: Record<string, unknown>[]) => {
          const users: SyncedUser[] = [];
          for (const row of rows) {
            const converted = userToContact(row, mapping);
            if (converted.ok) users.push(converted.value);
            else {
              const id = typeof row.id === 'string' ? row.id : '?';
              skipped.push({ id: `user ${id}`, reason: converted.reason });
              if (/^[0-9a-f-]{36}$/i.test(id)) skippedIds.push(id);
            }
          }
          const written = await writeUsers(tx, users);
          for (const { user, reason } of written.failed) {
            skipped.push({ id: `user ${user.authUserId}`, reason });
            skippedIds.push(user.authUserId);
            again.push(user.authUserId);
          }
          for (const { authUserId, reason } of written.conflicts) {
            warnings.push({ id: `user ${authUserId}`, reason });
            again.push(authUserId);
          }
          if (written.released > 0 || written.merged > 0) {
            report.log.verbose(
              `users: ${written.released} addresses taken from deleted contacts, ${written.merged} contacts known only by email merged into their user's`,
            );
          }
          counts.synced += written.written;
          counts.created += written.created;
          counts.updated += written.updated;
          counts.deleted += written.deleted;
        };
        const from = (page.from as { id: string } | null)?.id ?? null;
        const to = (page.to as { id: string }).id;
        const seen = page.rows.map((r) => String(r.id));
        if (full && source.kind === 'database') {
          // Every id in (from, to] that auth.users has is on this page. (Before
          // the upsert: on a first sync the range is still empty then.)
          counts.deleted += await markDeletedBetween(tx, from, to, seen, page.readAt!);
        }
        if (inDatabase) {
          const done = await tx
            .savepoint((sp) => upsertUsersInDatabase(sp, inDatabase, from, to))
            .catch((error: { code?: string; message?: string }) => {
              if (!isBadData(error)) throw error;
              report.log.verbose(
                `users: a row after ${from ?? 'the start'} was refused (${error.message}); this page goes through JavaScript to find it`,
              );
              return null;
            });
          if (done) {
            counts.synced += done.ids.length;
            counts.created += done.created;
            counts.updated += done.updated;
            counts.deleted += done.deleted;
          }
          // The page's users the SQL left out, or the whole page after a conflict.
          const written = new Set(done?.ids);
          const left = done ? seen.filter((id) => !written.has(id)) : [];
          if (!done) await writeRows(await readUsers(tx, columns, { from, to }));
          else if (left.length > 0) await writeRows(await readUsers(tx, columns, { ids: left }));
        } else await writeRows(page.rows);
        // An API-mode full sync finds deleted users by what it did not touch.
        if (full && source.kind === 'api') await touchUsers(tx, skippedIds);
        if (!(await noteConflicts(tx, USERS_SYNC, again))) {
          report.log.warn(
            'users: too many users to read again by id; run nudge sync users --full once the conflicts are settled',
          );
        }
        return { ...counts, skipped, warnings };
      },
      async finish(last) {
        if (!full) return {};
        if (source.kind === 'database') {
          const after = (last as { id: string } | null)?.id ?? null;
          return { deleted: await markDeletedBetween(engine, after, null, [], endReadAt!) };
        }
        return { deleted: await verifyUntouched(engine, source.api, runStartedAt, report) };
      },
    });
  });
}

/**
 * API mode: contacts of auth users this full run did not touch are checked
 * one by one (GET /auth/v1/admin/users/{id}); only a 404 marks one deleted,
 * so a user the paging missed (the list shifted while we read it) is never
 * marked by mistake.
 */
async function verifyUntouched(
  engine: postgres.Sql,
  api: SupabaseApi,
  runStartedAt: string,
  report: SyncReporter,
): Promise<number> {
  let deleted = 0;
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const rows = await engine<{ id: string }[]>`
      select auth_user_id::text as id from nudge_engine.contacts
       where auth_user_id > ${after}::uuid and deleted_at is null
         and updated_at < ${runStartedAt}::text::timestamptz
       order by auth_user_id limit 500`;
    if (rows.length === 0) return deleted;
    after = rows.at(-1)!.id;
    const gone: string[] = [];
    for (const { id } of rows) {
      if ((await api.getUser(id)) === null) gone.push(id);
    }
    if (gone.length) report.log.verbose(`users: ${gone.length} no longer in Supabase Auth`);
    deleted += await markDeleted(engine, gone);
  }
}

/**
 * A reader whose pages carry the engine store's time just before each read
 * (Page.readAt); `onEnd` gets the time of the read that found the end.
 * Without an engine, the reader as it is.
 */
function stampReads(
  engine: postgres.Sql | null,
  reader: PageReader<UserCursor>,
  onEnd: (readAt: string) => void,
): PageReader<UserCursor> {
  if (!engine) return reader;
  return {
    async read(after) {
      const [clock] = await engine<{ now: string }[]>`select clock_timestamp()::text as now`;
      const page = await reader.read(after);
      if (page.next === null) onEnd(clock!.now);
      return { ...page, readAt: clock!.now };
    },
    ...(reader.total ? { total: reader.total.bind(reader) } : {}),
  };
}
