// The client's /v1/sync calls: the state of each contact sync (Supabase Auth
// users, each table_mapping entry) and starting one, as `nudge sync` does.

/** Where a sync is. `idle`: no run recorded yet. */
export type SyncStatus = 'idle' | 'queued' | 'running' | 'done' | 'interrupted' | 'failed';

/** A sync run's counts (also what nudge_engine.sync_state.stats holds: contacts/sync/checkpoint.ts). */
export interface SyncCounts {
  /** Rows read from the source. */
  read: number;
  /** Rows written (contacts, attributes or events). */
  synced: number;
  /** Contacts (or events) new with this run. */
  created: number;
  /** Contacts changed (or events there already). */
  updated: number;
  skipped: number;
  /** Contacts marked deleted (users gone from Supabase Auth). */
  deleted: number;
  /** Skip reasons, generalised (values removed), with counts. */
  reasons: Record<string, number>;
  /**
   * Rows written all the same, without a part (a user whose email another
   * user's contact holds is written without it), by reason, with counts.
   */
  warnings?: Record<string, number>;
}

export interface SyncInfo {
  /** The sync's name: `users`, `table:public.orders`. */
  name: string;
  /** What it syncs: Supabase Auth users, or a table of table_mapping. */
  resource: 'users' | 'table';
  /** The table (`public.orders`), for a table. */
  table: string | null;
  /** Whether the server's nudge.yaml asks for it (a row may remain of one it no longer does). */
  configured: boolean;
  status: SyncStatus;
  /**
   * Stored as running: true while its process holds the sync (the status
   * says running); false when that process stopped without saving its end
   * (the status says interrupted; the next run continues). Otherwise null.
   */
  alive: boolean | null;
  /** The run's mode; null before the first run. */
  mode: 'full' | 'incremental' | null;
  /** Where it reads: the database, or the Supabase HTTP APIs (API mode). */
  source: 'database' | 'api' | null;
  /** An incremental run's start: rows changed at or after this time. */
  since: string | null;
  /** When the current (or last) run started. */
  started_at: string | null;
  /** When it last moved: a batch, its start or its end. */
  updated_at: string | null;
  /** The current (or last) run's counts, a continued run's included. */
  stats: SyncCounts | null;
  /** Why the last run failed (status failed). */
  error: string | null;
  /**
   * Whether live sync (connectors.supabase.sync.realtime) keeps it current:
   * the engine updates contacts from captured changes as they happen
   * (Supabase Auth users with sync.users; a table_mapping entry's rows). A
   * run then catches up on what happened before live sync started.
   */
  live: boolean;
  /**
   * What a run started now without a mode (Sync now, `nudge sync`) reads:
   * `full`, every row (the first run); `incremental`, the rows changed since
   * `since` (after a finished run: its start, minus a minute); `continue`,
   * the run that stopped, from where it stopped (`since`: its own, if it
   * was incremental).
   */
  next: { read: 'full' | 'incremental' | 'continue'; since: string | null };
}

export interface SyncOverview {
  /** Whether nudge.yaml sets up a sync (connectors.supabase with sync.users, user_mapping or table_mapping). */
  configured: boolean;
  /** When it does not: how to, in one line. */
  hint: string | null;
  syncs: SyncInfo[];
}

export interface SyncStart {
  /** What to sync (default: what nudge.yaml sets up, as `nudge sync`). */
  resources?: ('users' | 'tables')[];
  /**
   * `incremental` (the default): continue a run that stopped, else the rows
   * changed since the last run finished (the first run is full); `full`:
   * every row again, as `--full`.
   */
  mode?: 'incremental' | 'full';
  /** Incremental from this time: ISO (`2024-01-01T00:00:00Z`) or back from now (`7d`), as `--since`. */
  since?: string;
  /** Only these table_mapping entries, as `--table` (with `tables` in resources, or alone). */
  tables?: string[];
}

type Request = <T>(method: string, path: string, body?: unknown) => Promise<T>;

export function syncApi(request: Request) {
  return {
    /** Every sync's state: status, mode, times, counts, error. */
    state: () => request<SyncOverview>('GET', '/sync'),
    /**
     * Starts the syncs in the server, in the background (202): the first
     * running, the others queued behind it. A 409 `sync_running` names one
     * that runs already.
     */
    start: (what: SyncStart = {}) => request<{ syncs: SyncInfo[] }>('POST', '/sync', what),
  };
}
