// What the dashboard's /v1 routes answer, as the typed client returns it:
// the session, the overview, features with their machine and pause switch,
// and decisions. The server's routes are written to these types, so this file
// is the one contract between the two.

export interface Session {
  /** "dashboard", or "api key <name>" for a key's session. */
  name: string;
  scope: 'read' | 'dashboard' | 'write';
  /** What a cookie session sends in x-nudge-csrf with a change; null for bearer keys. */
  csrf: string | null;
}

/** A part of the overview Nudge could not read, and why. */
export interface Unreadable {
  error: string;
}

export interface Overview {
  access: string;
  /** outbox or webhook. */
  transport: string;
  /** Where the engine keeps its state, in words. */
  store: string;
  source:
    | {
        host: string;
        port: number;
        database: string;
        role: string;
        version: string;
        wal_level: string;
        pg_net: boolean;
      }
    | Unreadable;
  capture:
    | {
        schema: { exists: boolean; applied: number; missing: string[]; exposed: string[] };
        deployment: { id: number; at: string; summary: unknown } | null;
        /** Captured rows not consumed yet, and when the oldest was captured. */
        pending: number;
        oldest_at: string | null;
        /**
         * Rows a capture trigger could not capture (nudge.failed_events, stage
         * capture): no feature has seen them until `nudge capture retry`
         * delivers them (docs/capture.md). `since`: the oldest failure;
         * `latest`: the most recent one, where and its error.
         */
        not_captured: {
          rows: number;
          since: string | null;
          latest: NotCaptured | null;
        };
      }
    | Unreadable;
  /**
   * capture: replication only: the slot's WAL retention and lag in bytes
   * (docs/replication.md); over_limit when it retains more than
   * capture.replication.warn_retained_mb.
   */
  replication?:
    | {
        slot: string;
        exists: boolean;
        active: boolean;
        retained_bytes: number;
        lag_bytes: number;
        wal_status: string | null;
        over_limit: boolean;
      }
    | Unreadable;
  engine:
    | {
        inbox_pending: number;
        inbox_oldest_at: string | null;
        actions: { retrying: number; dead: number };
        features: { active: number; paused: number; draft: number };
        clock: { now: string; offset_ms: number };
        /** Engine processes (nudge start, nudge worker) by their last heartbeat. */
        processes: {
          host: string;
          pid: number;
          pools: number;
          started_at: string;
          heartbeat_at: string;
        }[];
        /** Each lane (engine.partitions; beyond them, lanes still holding events) and its backlog. */
        lanes: { lane: number; running: boolean; pending: number; oldest_at: string | null }[];
      }
    | Unreadable;
  /**
   * Per minute over the last hour, oldest first, on two clocks: `events`
   * received, from `from` (real time); `actions` (attempts that succeeded)
   * and `failures` (attempts that failed, a replayed run's too), from
   * `engine_from` (the engine clock, which the demo moves ahead).
   */
  activity:
    | {
        from: string;
        events: number[];
        engine_from: string;
        actions: number[];
        failures: number[];
      }
    | Unreadable;
}

/** The most recent row a capture trigger could not capture: where, when, and its error. */
export interface NotCaptured {
  at: string;
  /** `public.orders`, as doctor names it. */
  table: string;
  operation: string;
  sqlstate: string | null;
  message: string | null;
}

/** One check of `nudge doctor`, as GET /v1/overview/checks answers it. */
export interface DoctorCheck {
  /** The part it belongs to: Database, Engine store, Supabase API. */
  section: string;
  /** skipped: a part that did not run, and why (in `message`). */
  outcome: 'ok' | 'warn' | 'fail' | 'skipped';
  label: string;
  message: string;
  /** The problems one at a time, when the message counts several. */
  items?: string[];
  /** What to do about a warn or fail. */
  fix: string | null;
}

export interface DoctorChecks {
  checks: DoctorCheck[];
  at: string;
}

export interface FeatureSummary {
  name: string;
  description: string | null;
  /** draft (not run), paused (in its file or live), or active. */
  status: 'draft' | 'active' | 'paused';
  /** Paused with `nudge pause` or the dashboard: since when and by whom. */
  paused_live: { at: string; by: string } | null;
  /** `status: paused` in the file: only the file can resume it. */
  paused_in_file: boolean;
  trigger: string;
  counts: {
    /** Journeys entered in the window (all time without one). */
    entered: number;
    completed: number;
    exited: number;
    /** Journeys in each stage now. */
    stages: Record<string, number>;
  };
  /** Its action runs dead or being retried now (a journey completes whatever became of its actions). */
  failing: { dead: number; retrying: number };
  /** false: no contact mapping, so each event runs its actions without a journey (its counts stay 0). */
  journeys: boolean;
  /** Whether the capture it needs is deployed in the source database, as the plan sees it. */
  deploy: FeatureDeploy;
}

/**
 * A feature's deploy state (capture/feature-deploys.ts), from the server's
 * latest plan (made again when a feature file or the latest deployment
 * changed, else at most 30 s old, and by every GET /v1/plan).
 */
export interface FeatureDeploy {
  /**
   * deployed: what it needs is in place, as recorded by a deployment;
   * changed: deployed, but the next deploy changes something for it
   * (`changes` says what: its file, a capture it now needs or no longer
   * does, one dropped by hand); not_deployed: no deployment records it yet
   * (its capture is missing, or there for other features only);
   * not_needed: it needs no capture (a scheduled feature, an API event, a
   * draft; `reason` says which); unknown: no plan could be made (`reason`:
   * a feature file that does not check, the source database not answering,
   * or not within 5 s), or the feature files read for it no longer name
   * this feature.
   */
  state: 'deployed' | 'changed' | 'not_deployed' | 'not_needed' | 'unknown';
  /**
   * The deployment it has run as it is since (the first of the deployments
   * up to the latest that recorded its file as the latest did): its number
   * and time; null when none records it.
   */
  deployment: { id: number; at: string } | null;
  /** Its file differs from the one `deployment` recorded (`changes` says so too, in words). */
  file_changed: boolean;
  /** The captures it relies on, deployed or to deploy. */
  captures: FeatureCapture[];
  /** What the next deploy changes for it, a line each, as the plan says it. */
  changes: string[];
  /** not_needed and unknown: why, in words; else null. */
  reason: string | null;
}

/** A (table, operation) a feature's events are captured on. */
export interface FeatureCapture {
  /** `public.orders` */
  table: string;
  operation: 'insert' | 'update' | 'delete';
  /** The trigger on the table (capture: outbox or webhook); null under capture: replication. */
  trigger: string | null;
  /** The publication that streams it (capture: replication); null under the trigger transports. */
  publication: string | null;
  /** What the next deploy does to it (the plan's action): create (missing), replace, or unchanged. */
  plan: 'create' | 'replace' | 'unchanged';
  /** What was changed by hand, which the next deploy repairs. */
  drift: string[];
}

/** `trigger nudge_capture_insert on public.orders (insert)`, or `publication nudge_insert (public.orders insert)`. */
export function captureText(capture: FeatureCapture): string {
  return capture.trigger !== null
    ? `trigger ${capture.trigger} on ${capture.table} (${capture.operation})`
    : `publication ${capture.publication ?? '(none)'} (${capture.table} ${capture.operation})`;
}

export interface StageView {
  name: string;
  /** if / unless, as written. */
  guard: string | null;
  /** The kinds of its actions: email, webhook, set, ... */
  actions: string[];
  transitions: {
    /** null: the journey ends. */
    to: string | null;
    when: string | null;
    after: string | null;
    until: string | null;
    within: string | null;
  }[];
}

export interface FeatureDetail extends FeatureSummary {
  initial: string;
  stages: StageView[];
  exit: string | null;
  /** The feature file, values of secret-looking keys hidden. */
  yaml: string | null;
  file: string;
  /** Why Deploy is refused from the dashboard (read-only mode), as GET /v1/plan's `refused`; else null. */
  deploy_refused: string | null;
}

export interface DecisionItem {
  /** `<decision id>`, or `<decision id>:<feature>` for one feature of a row of skips. */
  key: string;
  id: number;
  at: string;
  feature: string | null;
  contact_id: string | null;
  /** The contact's email, else its auth user id, else its id. */
  contact: string | null;
  outcome: string;
  reason: string;
  /** The event decided on: `insert on auth.users`, `event order_placed`. */
  event: string | null;
  /** An action decision's run: its status, attempts and last error. */
  action: { status: string; attempts: number; last_error: string | null } | null;
  /**
   * An `attempt` decision: which attempt of which run, its result, its time
   * in the provider, and which replay of the run it was made after (0: none).
   */
  attempt: {
    key: string;
    number: number;
    status: string;
    ms: number | null;
    replay: number;
  } | null;
}

export interface DecisionPage {
  items: DecisionItem[];
  /** Pass as `before` for the next (older) page; null on the last. */
  next: string | null;
  /**
   * The features paused live now (`nudge pause`, the dashboard, the API),
   * only the filtered one's with `feature`: since when (real time) and by
   * whom — what `nudge logs` says above its lines. The live tail sends the
   * same as a `paused` event when it changes.
   */
  paused: LivePause[];
}

/** A feature paused live: since when (real time, ISO) and by whom ("cli", "dashboard", "api key ci"). */
export interface LivePause {
  feature: string;
  at: string;
  by: string;
}

export interface DecisionQuery {
  feature?: string;
  /** An email, contact id or auth user id. */
  contact?: string;
  outcome?: string;
  /** Decided at or after this ISO 8601 time. */
  from?: string;
  /** Decided before this ISO 8601 time. */
  to?: string;
}

export const OUTCOMES = [
  'matched',
  'skipped',
  'entered',
  'advanced',
  'completed',
  'exited',
  'action',
  'attempt',
  'deferred',
  'synced',
  'error',
  // A feature paused or resumed live (nudge pause, the dashboard, the API): no contact, no event.
  'paused',
  'resumed',
] as const;

/** The query string of a filter, empty fields left out. */
export function queryParams(query: object): URLSearchParams {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query) as [string, unknown][]) {
    if (value !== undefined && value !== '') params.set(name, String(value));
  }
  return params;
}

/** skipped: not sent on purpose (the contact unsubscribed, the address bounced: docs/email.md). */
export const ACTION_STATUSES = ['pending', 'retrying', 'succeeded', 'dead', 'skipped'] as const;

/** One action run: an effect under its idempotency key, with its attempts. */
export interface ActionRun {
  id: number;
  key: string;
  feature: string | null;
  stage: string | null;
  /** email, webhook, set, ... */
  kind: string;
  status: (typeof ACTION_STATUSES)[number];
  /** Attempts since the last replay (a replay starts the count again). */
  attempts: number;
  /** Times the run was replayed, and the attempts made before those replays. */
  replays: number;
  attempts_before_replay: number;
  last_error: string | null;
  contact: string | null;
  created_at: string;
  updated_at: string;
}

export interface ActionPage {
  items: ActionRun[];
  next: string | null;
}

export interface ClockState {
  /** The engine's time. */
  now: string;
  offset_ms: number;
  /** Whether the dashboard may move it (nudge dev, or an embedded engine store). */
  movable: boolean;
}

/** An email in the dev mailbox (email.provider: dev). */
export interface MailItem {
  id: number;
  to: string;
  from: string | null;
  subject: string | null;
  sent_at: string;
}

export interface MailboxPage {
  items: MailItem[];
  next: string | null;
}

export interface Mail extends MailItem {
  text: string | null;
  /** Whether it has HTML: shown from mailbox.htmlUrl(id) in a sandboxed frame. */
  has_html: boolean;
  /** The headers it was sent with (List-Unsubscribe, Message-ID, …). */
  headers: Record<string, string>;
  /** The feature, stage and contact of the action run that sent it (null for mail sent otherwise). */
  feature: string | null;
  stage: string | null;
  contact_id: string | null;
}

/** What `nudge plan` would show: GET /v1/plan. */
export interface CapturePlan {
  /** read-write or read-only. */
  access: string;
  changes: boolean;
  counts: { create: number; replace: number; drop: number; unchanged: number };
  drift: number;
  items: {
    action: 'create' | 'replace' | 'drop' | 'unchanged';
    kind: string;
    subject: string;
    detail: string | null;
    drift: string[];
    /** What a capture copies and leaves out, in two lines. */
    columns: string[];
    /** A slot the plan drops that holds changes no engine has read: Deploy is refused (409 unread_slot) unless told to discard them. */
    unread: UnreadSlot | null;
  }[];
  /** The plan as `nudge plan` prints it (no colours). */
  text: string;
  /** Identifies this plan: send it with POST /v1/deploy. */
  plan: string;
  /** Whether Deploy would change something; null in read-only mode. */
  deployable: boolean | null;
  /** Why Deploy is refused (read-only mode), or null. */
  refused: string | null;
}

/**
 * A replication slot a deploy would drop (capture switched away from
 * replication) while it holds changes no engine has read: dropping it loses them.
 */
export interface UnreadSlot {
  slot: string;
  /** WAL written since the slot's confirmed position, in bytes (every table's writes). */
  bytes: number;
  /** Changes of the captured tables waiting in it; null when they could not be counted. */
  changes: number | null;
  /** An engine streams the slot now (then its changes are not counted). */
  active: boolean;
  /** What it holds, in words: `3 changes not yet read by an engine (12.0 kB of WAL not confirmed)`. */
  holds: string;
}

/** POST /v1/deploy's 409 unread_slot: the slots it would drop, and why it refused. */
export interface DeployUnreadRefusal {
  error: 'unread_slot';
  detail: string;
  slots: UnreadSlot[];
}

/** POST /v1/deploy: the deployment made (null when nothing needed to change). */
export interface DeployResult {
  deployment: number | null;
  counts: { create: number; replace: number; drop: number; unchanged: number };
}

/**
 * Where an ingest record came in, as the Ingest page's filter lists them:
 * a capture transport (outbox, webhook, replication), the API's events,
 * a backfill, or a scheduled feature's run. Each is one of the engine's
 * InboxSource (engine/intake/inbox.ts; the compiler checks), and every
 * source is listed (test/api/dashboard-logs.test.ts).
 */
export const INGEST_SOURCES = [
  'outbox',
  'webhook',
  'replication',
  'api',
  'backfill',
  'schedule',
] as const;

export type IngestSource = (typeof INGEST_SOURCES)[number];

/** One record of the raw ingest log (the engine's inbox). */
export interface IngestRecord {
  id: number;
  source: IngestSource;
  source_key: string;
  schema_name: string | null;
  table_name: string | null;
  operation: string | null;
  event_name: string | null;
  new_row: Record<string, unknown> | null;
  old_row: Record<string, unknown> | null;
  occurred_at: string;
  received_at: string;
  /** null while it waits in its lane. */
  processed_at: string | null;
  lane: number;
}

export interface IngestPage {
  items: IngestRecord[];
  next: string | null;
}

export interface IngestQuery {
  source?: string;
  /** A table (`public.orders`) or an event name. */
  subject?: string;
  from?: string;
  to?: string;
}
