// Live sync: with connectors.supabase.sync.realtime (and .storage), the
// contact book follows the database as it changes — no re-sync. This file
// says which capture triggers that needs (deployed by the same plan/deploy
// as features): auth.users for sign-ups, sign-ins, updates and deletions,
// every mapped table, and storage.objects for uploads and removals.
import type { CaptureNeed, Operation } from '../capture/triggers.js';
import type { LoadedConfig } from '../config/load.js';
import { didYouMean } from '../config/suggest.js';
import { ConfigError, throwIfAny } from '../errors.js';
import type { Catalog } from '../source/catalog.js';
import { formatTableName, parseTableName, type TableName } from '../source/names.js';

export const AUTH_USERS: TableName = { schema: 'auth', table: 'users' };
export const STORAGE_OBJECTS: TableName = { schema: 'storage', table: 'objects' };

interface Watched {
  table: TableName;
  operations: Operation[];
  by: string;
  /** Where nudge.yaml names it, for errors. */
  path: (string | number)[];
}

/** The tables live sync watches, with why. */
export function liveSyncTables(project: LoadedConfig): Watched[] {
  const supabase = project.supabase;
  if (!supabase?.enabled) return [];
  const base = ['connectors', 'supabase'];
  const watched: Watched[] = [];
  if (supabase.sync.realtime && supabase.sync.users) {
    watched.push({
      table: AUTH_USERS,
      operations: ['insert', 'update', 'delete'],
      by: 'sync: users',
      path: [...base, 'sync', 'users'],
    });
  }
  if (supabase.sync.realtime) {
    const seen = new Set<string>();
    const add = (name: string, path: (string | number)[]) => {
      const table = parseTableName(name);
      if (!table || seen.has(JSON.stringify(table))) return;
      seen.add(JSON.stringify(table));
      const asEvents = supabase.table_mapping?.[name]?.sync_as === 'events';
      watched.push({
        table,
        operations: asEvents ? ['insert'] : ['insert', 'update', 'delete'],
        by: `sync: ${name}`,
        path,
      });
    };
    for (const [i, name] of supabase.sync.tables.entries())
      add(name, [...base, 'sync', 'tables', i]);
    for (const name of Object.keys(supabase.table_mapping ?? {}))
      add(name, [...base, 'table_mapping', name]);
  }
  if (supabase.sync.storage) {
    watched.push({
      table: STORAGE_OBJECTS,
      operations: ['insert', 'delete'],
      by: 'sync: storage',
      path: [...base, 'sync', 'storage'],
    });
  }
  return watched;
}

/** Capture needs for live sync. A watched table that does not exist is an error at its place in nudge.yaml. */
export function liveSyncNeeds(project: LoadedConfig, catalog: Catalog): CaptureNeed[] {
  const errors: ConfigError[] = [];
  const needs: CaptureNeed[] = [];
  for (const { table, operations, by, path } of liveSyncTables(project)) {
    if (!catalog.get(table)) {
      const names = catalog.tables.map(formatTableName);
      const problem = `table ${formatTableName(table)} does not exist${didYouMean(formatTableName(table), names)}`;
      errors.push(
        project.source
          ? project.source.error(path, problem, { key: path.at(-2) === 'table_mapping' })
          : new ConfigError({ file: 'nudge.yaml' }, path.join('.'), problem),
      );
      continue;
    }
    needs.push(...operations.map((operation) => ({ table, operation, by })));
  }
  throwIfAny(errors);
  return needs;
}
