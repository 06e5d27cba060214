// The typed client of Nudge's HTTP API (`import { Nudge } from 'nudge/client'`):
// contacts, events and lists, and what the dashboard reads and does, over
// fetch, nothing else. Every error answer is thrown as a NudgeApiError with
// the status, the stable code and the detail. The dashboard (web/) uses it
// too, with its session cookie instead of a key.
import { parseJsonDigits } from '../db/json.js';
import {
  type ActionPage,
  type CapturePlan,
  type ClockState,
  type DecisionPage,
  type DecisionQuery,
  type DeployResult,
  type DoctorChecks,
  type FeatureDetail,
  type FeatureSummary,
  type IngestPage,
  type IngestQuery,
  type Mail,
  type MailboxPage,
  type Overview,
  queryParams,
  type Session,
  type UnreadSlot,
} from './dashboard.js';
import { emailApi } from './preferences.js';
import { reportApi } from './report.js';
import { syncApi } from './sync.js';

export type { FeatureReport, GroupReport } from './report.js';

import {
  type Attributes,
  type Contact,
  ContactQuery,
  type Page,
  type QueryRunner,
} from './query.js';

export type {
  ActionPage,
  ActionRun,
  CapturePlan,
  ClockState,
  DecisionItem,
  DecisionPage,
  DecisionQuery,
  DeployResult,
  DeployUnreadRefusal,
  DoctorCheck,
  DoctorChecks,
  FeatureCapture,
  FeatureDeploy,
  FeatureDetail,
  FeatureSummary,
  IngestPage,
  IngestQuery,
  IngestRecord,
  LivePause,
  Mail,
  MailboxPage,
  MailItem,
  NotCaptured,
  Overview,
  Session,
  StageView,
  Unreadable,
  UnreadSlot,
} from './dashboard.js';
export { ACTION_STATUSES, captureText, INGEST_SOURCES, OUTCOMES } from './dashboard.js';
export type * from './preferences.js';
export type {
  Attributes,
  Contact,
  Field,
  FilterValue,
  IdentityFields,
  Page,
  SelectRow,
} from './query.js';
export { ContactQuery } from './query.js';
export type * from './sync.js';

export interface NudgeOptions {
  /** Where Nudge listens, e.g. http://127.0.0.1:8787 (the /v1 is added). */
  url: string;
  /** A key from `nudge keys create`: nudge_... Without one, the browser's dashboard session cookie is sent. */
  apiKey?: string;
  /** With a session cookie: the CSRF value of GET /v1/session, sent with every change. */
  csrf?: () => string | null | undefined;
  /** Another fetch (tests, proxies, older runtimes). */
  fetch?: typeof fetch;
}

export class NudgeApiError extends Error {
  override name = 'NudgeApiError';
  constructor(
    readonly status: number,
    /** Stable code, e.g. `bad_query`, `invalid_body`, `list_not_found`. */
    readonly code: string,
    /** One sentence naming what was wrong, e.g. `mrr: expected a number ...`. */
    readonly detail: string,
    /**
     * The error answer as sent, with the fields some errors add for a client
     * to act on: `differs` and `first_event_id` on `idempotency_key_reused`,
     * `syncs` on `sync_running`, `slots` on `unread_slot`. Empty when the
     * answer was not JSON.
     */
    readonly body: Record<string, unknown> = {},
  ) {
    super(`${status} ${code}: ${detail}`);
  }
}

/**
 * No answer at all: the server could not be reached (stopped, restarting,
 * the wrong URL) — not an answer saying no. `cause` is fetch's own error.
 */
export class NudgeUnreachableError extends Error {
  override name = 'NudgeUnreachableError';
  constructor(
    /** The URL asked for. */
    readonly url: string,
    cause: unknown,
  ) {
    super(`cannot reach Nudge at ${url}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/**
 * A deploy refused (409 unread_slot) because it would drop replication slots
 * holding changes no engine has read: `slots` says what each holds. Deploy
 * again with `{ discardUnread: true }` only to lose them.
 */
export class UnreadSlotApiError extends NudgeApiError {
  override name = 'UnreadSlotApiError';
  constructor(
    status: number,
    detail: string,
    readonly slots: UnreadSlot[],
  ) {
    super(status, 'unread_slot', detail);
  }
}

/** Who an event or an upsert is about: at least one of these. */
export interface Identity {
  email?: string;
  auth_user_id?: string;
  phone?: string;
  external_id?: string;
}

export interface TimelineItem {
  kind: 'event' | 'journey' | 'decision' | 'action';
  at: string;
  [field: string]: unknown;
}

export interface TrackedEvent {
  id: number;
  event: string;
  contact_id: string;
  occurred_at: string;
  idempotency_key: string | null;
  duplicate: boolean;
}

export interface ContactList {
  id: string;
  name: string;
  kind: 'static' | 'segment';
  query: string | null;
  created_at: string;
  /** In `lists.all()`: members of a static list (null for segments). */
  members?: number | null;
  /**
   * In `lists.create` only (reading a list does not compute them again): what a segment's condition warns of,
   * e.g. `no contact has the attribute "plann" yet (did you mean "plan"?)`.
   */
  warnings?: string[];
}

/** Contacts to add or remove: a query (its filters), or ids, emails, or rows holding them. */
export type Members<A extends Attributes> =
  | ContactQuery<A, unknown>
  | readonly (string | { id?: string | null; email?: string | null })[];

export class Nudge<A extends Attributes = Attributes> {
  private readonly base: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: NudgeOptions) {
    this.base = `${options.url.replace(/\/+$/, '').replace(/\/v1$/, '')}/v1`;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  readonly contacts = {
    /** Creates or updates the contact an identity names; attributes merge. */
    upsert: (input: Identity & { attributes?: Partial<A> }) =>
      this.request<Contact<A>>('POST', '/contacts', input),
    /** A contact by id, email or external id, with its timeline (newest first). */
    get: (ref: string, options: { limit?: number; before?: string } = {}) => {
      const params = new URLSearchParams();
      if (options.limit !== undefined) params.set('limit', String(options.limit));
      if (options.before) params.set('before', options.before);
      const query = params.toString() ? `?${params}` : '';
      return this.request<{
        contact: Contact<A>;
        timeline: { items: TimelineItem[]; next: string | null };
      }>('GET', `/contacts/${encodeURIComponent(ref)}${query}`);
    },
    /** A query builder; await it for the rows. */
    query: () => new ContactQuery<A>(this.runQuery, '/contacts'),
    /** The lists a contact is in: static lists, and segments it meets now. */
    lists: (ref: string) =>
      this.request<ContactList[]>('GET', `/contacts/${encodeURIComponent(ref)}/lists`),
    delete: (ref: string) =>
      this.request<{ id: string; deleted_at: string }>(
        'DELETE',
        `/contacts/${encodeURIComponent(ref)}`,
      ),
  };

  readonly events = {
    /** Tracks an event; with an idempotency key, a retry returns the first event. */
    track: (
      input: (Identity | { contact_id: string }) & {
        event: string;
        properties?: Record<string, unknown>;
        occurred_at?: string | Date;
        idempotency_key?: string;
      },
    ) =>
      this.request<TrackedEvent>('POST', '/events', {
        ...input,
        ...(input.occurred_at instanceof Date
          ? { occurred_at: input.occurred_at.toISOString() }
          : {}),
      }),
  };

  /** Email preferences and stats (client/preferences.ts). */
  readonly email = emailApi(<T>(method: string, path: string, body?: unknown) =>
    this.request<T>(method, path, body),
  );

  /** Whether a feature worked: per variant and holdout, with 95% intervals (client/report.ts). */
  readonly report = reportApi(<T>(method: string, path: string, body?: unknown) =>
    this.request<T>(method, path, body),
  );

  /** The contact sync: each sync's state, and `nudge sync` started in the server (client/sync.ts). */
  readonly sync = syncApi(<T>(method: string, path: string, body?: unknown) =>
    this.request<T>(method, path, body),
  );

  readonly lists = {
    /** A static list, or a segment when `query` is given (a query builder or a query string). */
    create: (name: string, options: { query?: ContactQuery<A, unknown> | string } = {}) =>
      this.request<ContactList>('POST', '/lists', {
        name,
        ...(options.query === undefined
          ? {}
          : {
              query:
                typeof options.query === 'string'
                  ? options.query
                  : options.query.conditionParams().toString(),
            }),
      }),
    all: () => this.request<ContactList[]>('GET', '/lists'),
    /** One list (no `warnings`: those come with `create`). */
    get: (name: string) => this.request<ContactList>('GET', `/lists/${encodeURIComponent(name)}`),
    delete: (name: string) =>
      this.request<{ name: string; deleted: true }>('DELETE', `/lists/${encodeURIComponent(name)}`),
    add: (name: string, who: Members<A>) => this.changeMembers('POST', name, who, { added: 0 }),
    /** The reference's `lists.addContacts(list, rows)`; also takes a query. */
    addContacts: (name: string, who: Members<A>) =>
      this.changeMembers('POST', name, who, { added: 0 }),
    remove: (name: string, who: Members<A>) =>
      this.changeMembers('DELETE', name, who, { removed: 0 }),
    /** Members as a query builder (segments are evaluated when read). */
    members: (name: string) =>
      new ContactQuery<A>(this.runQuery, `/lists/${encodeURIComponent(name)}/contacts`),
  };

  /** Who is signed in (and, for a dashboard session, its CSRF value). */
  readonly session = () => this.request<Session>('GET', '/session');

  /** The source database, capture, lag and engine state the dashboard's first page shows. */
  readonly overview = () => this.request<Overview>('GET', '/overview');

  /**
   * The checks of `nudge doctor`, each with its fix: the server's last run
   * (at most about 30 s old while someone reads them), or one run now when `fresh`.
   */
  readonly checks = (options: { fresh?: boolean } = {}) =>
    this.request<DoctorChecks>(
      'GET',
      options.fresh ? '/overview/checks?fresh' : '/overview/checks',
    );

  readonly features = {
    /** Every feature with its status and journey counts (entered etc. within `window`, e.g. 7d). */
    all: (options: { window?: string } = {}) =>
      this.request<FeatureSummary[]>(
        'GET',
        `/features${options.window ? `?window=${encodeURIComponent(options.window)}` : ''}`,
      ),
    /** One feature with its stages, transitions and YAML. */
    get: (name: string, options: { window?: string } = {}) =>
      this.request<FeatureDetail>(
        'GET',
        `/features/${encodeURIComponent(name)}${options.window ? `?window=${encodeURIComponent(options.window)}` : ''}`,
      ),
    /** Pauses a feature in every running engine within about a second (`nudge pause`). */
    pause: (name: string) =>
      this.request<FeatureSummary>('POST', `/features/${encodeURIComponent(name)}/pause`),
    resume: (name: string) =>
      this.request<FeatureSummary>('POST', `/features/${encodeURIComponent(name)}/resume`),
  };

  /** What `nudge plan` would show now. */
  readonly plan = () => this.request<CapturePlan>('GET', '/plan');

  /**
   * Applies the plan `plan` names (CapturePlan.plan), as `nudge deploy --yes`;
   * refused in read-only mode. A plan dropping a replication slot that holds
   * unread changes throws UnreadSlotApiError unless `discardUnread` (as
   * `--discard-unread`: they are lost).
   */
  readonly deploy = (plan: string, options: { discardUnread?: boolean } = {}) =>
    this.request<DeployResult>('POST', '/deploy', {
      plan,
      ...(options.discardUnread ? { discardUnread: true } : {}),
    });

  readonly decisions = {
    /** The newest decisions matching `query`, older pages by passing `next` as `before`. */
    list: (query: DecisionQuery & { before?: string; limit?: number } = {}) => {
      const params = queryParams(query).toString();
      return this.request<DecisionPage>('GET', `/decisions${params ? `?${params}` : ''}`);
    },
    /** The live tail's URL (server-sent events named `decision`), for EventSource. */
    streamUrl: (query: DecisionQuery & { after?: number } = {}) => {
      const params = queryParams(query).toString();
      return `${this.base}/decisions/stream${params ? `?${params}` : ''}`;
    },
  };

  /** The raw ingest log: every captured change and event as it reached the inbox, newest first. */
  readonly ingest = {
    list: (query: IngestQuery & { before?: string; limit?: number } = {}) => {
      const params = queryParams(query).toString();
      return this.request<IngestPage>('GET', `/ingest${params ? `?${params}` : ''}`);
    },
  };

  readonly actions = {
    /** Action runs newest first: `status: 'dead'` for the ones that gave up. */
    list: (
      query: {
        status?: string;
        feature?: string;
        /** Created within this long: `24h`, `7d`. */
        since?: string;
        before?: string;
        limit?: number;
      } = {},
    ) => {
      const params = queryParams(query).toString();
      return this.request<ActionPage>('GET', `/actions${params ? `?${params}` : ''}`);
    },
    /**
     * Runs dead actions again — one by key (any status), or every dead one
     * matching a feature and/or a time (`since: '24h'`) — as `nudge replay`.
     */
    replay: (what: { key: string } | { feature?: string; since?: string }) =>
      this.request<{ queued: number }>('POST', '/actions/replay', what),
  };

  readonly mailbox = {
    /** The dev mailbox's emails, newest first. */
    list: (query: { before?: string } = {}) => {
      const params = queryParams(query).toString();
      return this.request<MailboxPage>('GET', `/mailbox${params ? `?${params}` : ''}`);
    },
    get: (id: number) => this.request<Mail>('GET', `/mailbox/${id}`),
    /** The email's HTML as its own document (CSP sandbox), for an iframe's src. */
    htmlUrl: (id: number) => `${this.base}/mailbox/${id}/html`,
  };

  readonly clock = {
    /** The engine's time, and whether the dashboard may move it. */
    get: () => this.request<ClockState>('GET', '/clock'),
    /** Moves the engine's time forward (dev only), as `nudge clock advance 2d`. */
    advance: (by: string) => this.request<ClockState>('POST', '/clock/advance', { by }),
    /** Back to real time (dev only), as `nudge clock reset`; what was sent stays sent. */
    reset: () => this.request<ClockState>('POST', '/clock/reset'),
  };

  /**
   * Members by a query (its filters), or by ids and emails. No rows at all
   * (a query's answer that was empty) change nothing, and are answered so
   * without a request: the server refuses a call that names no one, as a
   * body forgotten.
   */
  private changeMembers<T>(method: string, name: string, who: Members<A>, none: T): Promise<T> {
    const path = `/lists/${encodeURIComponent(name)}/contacts`;
    if (who instanceof ContactQuery) {
      return this.request<T>(method, `${path}?${who.conditionParams()}`);
    }
    if (who.length === 0) return Promise.resolve(none);
    const ids: string[] = [];
    const emails: string[] = [];
    for (const item of who) {
      if (typeof item === 'string') (item.includes('@') ? emails : ids).push(item);
      else if (item.id) ids.push(item.id);
      else if (item.email) emails.push(item.email);
    }
    return this.request<T>(method, path, { ids, emails });
  }

  private readonly runQuery: QueryRunner = async (path, params, count) => {
    const query = params.toString() ? `?${params}` : '';
    const response = await this.send('GET', `${path}${query}`, undefined, {
      ...(count ? { prefer: 'count=exact' } : {}),
    });
    const rows = parseJsonDigits(await response.text()) as unknown[];
    const match = /^(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/.exec(
      response.headers.get('content-range') ?? '',
    );
    return {
      rows,
      range: match?.[1] ? { from: Number(match[1]), to: Number(match[2]) } : null,
      total: match?.[3] && match[3] !== '*' ? Number(match[3]) : null,
      warnings: warningsOf(response.headers.get('x-nudge-warnings')),
      next: response.headers.get('x-nudge-next'),
    } satisfies Page<unknown>;
  };

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body);
    return parseJsonDigits(await response.text()) as T;
  }

  private async send(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const csrf = method === 'GET' || method === 'HEAD' ? undefined : this.options.csrf?.();
    const url = `${this.base}${path}`;
    const response = await this.fetch(url, {
      method,
      headers: {
        ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
        ...(csrf ? { 'x-nudge-csrf': csrf } : {}),
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }).catch((error: unknown) => {
      // A request given up on purpose stays what it is.
      if ((error as Error)?.name === 'AbortError') throw error;
      throw new NudgeUnreachableError(url, error);
    });
    if (response.ok) return response;
    const text = await response.text();
    let error: { error?: unknown; detail?: unknown; slots?: unknown } = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) error = parsed;
    } catch {
      // not JSON: a proxy's page, say
    }
    const detail =
      typeof error.detail === 'string' ? error.detail : text.slice(0, 200) || response.statusText;
    if (error.error === 'unread_slot' && Array.isArray(error.slots)) {
      throw new UnreadSlotApiError(response.status, detail, error.slots as UnreadSlot[]);
    }
    throw new NudgeApiError(
      response.status,
      typeof error.error === 'string' ? error.error : 'http_error',
      detail,
      error,
    );
  }
}

/** A counted contacts answer's x-nudge-warnings (a JSON array of strings); none when absent or not that. */
function warningsOf(header: string | null): string[] {
  if (!header) return [];
  try {
    const said: unknown = JSON.parse(header);
    return Array.isArray(said) ? said.filter((w): w is string => typeof w === 'string') : [];
  } catch {
    return [];
  }
}
