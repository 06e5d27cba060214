// The contract between the engine and the actions: the engine decides that an
// action runs and enqueues it (in its own transaction) with an idempotency
// key; the actions module executes it, retries it, and marks it dead after the
// last attempt. One file per effect implements ActionProvider.
import type postgres from 'postgres';
import type { LoadedConfig } from '../config/load.js';
import type { RecipientReading } from '../email/recipient.js';
import type { Clock } from '../engine/wiring/clock.js';
import type { Action } from '../features/schema.js';

/** The variables templates (Liquid) and webhook bodies see. */
export interface TemplateContext {
  contact: Record<string, unknown> | null;
  new?: Record<string, unknown> | null;
  old?: Record<string, unknown> | null;
  enrichment?: unknown;
  event?: {
    name?: string;
    schema?: string;
    table?: string;
    operation?: string;
    occurred_at?: string;
  };
  journey?: { feature: string; stage: string | null; entered_at?: string };
}

export interface NewActionRun {
  /** Idempotency key: the effect happens once per key (e.g. feature:contact:entry:stage:index). */
  key: string;
  feature: string | null;
  contactId: string | null;
  stage: string | null;
  action: Action;
  context: TemplateContext;
}

export interface ActionRun {
  id: number;
  key: string;
  feature: string | null;
  contactId: string | null;
  stage: string | null;
  kind: Action['kind'];
  params: Action['params'];
  context: TemplateContext;
  /** Attempts made before this one. */
  attempts: number;
  /**
   * An email's recipient as its admission read it (email/recipient.ts): the
   * message goes to it and its links name its contact, so what was checked
   * is what is sent. Unset before admission.
   */
  recipient?: RecipientReading;
}

export interface ActionEnv {
  /** The engine store. */
  sql: postgres.Sql;
  project: LoadedConfig;
  clock: Clock;
  log: (
    level: 'debug' | 'info' | 'warn' | 'error',
    message: string,
    fields?: Record<string, unknown>,
  ) => void;
}

/** Retry later (5xx, timeouts, 429); `retryAfterMs` when the server said how long. */
export class RetryableError extends Error {
  override name = 'RetryableError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** Will never succeed as configured (4xx other than 429, a template error). */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

/**
 * Whether a run may go now, decided in the attempt's transaction before any
 * effect: go (with the run, possibly completed: a contact found by address),
 * skip for good with the reason, or wait until `until` (the reason says why).
 */
export type Admission = { go: ActionRun } | { skip: string } | { defer: Date; reason: string };

interface ProviderBase {
  kinds: Action['kind'][];
  /**
   * Checks made when the runs are attempted, before any of them executes
   * (reads on `db`, the attempt's transaction; one verdict per run, in
   * order). Without it every run goes.
   */
  admit?(runs: ActionRun[], env: ActionEnv, db: postgres.TransactionSql): Promise<Admission[]>;
}

/**
 * A provider whose effect is outside the attempt's transaction: a call to
 * another service (Resend, SMTP, webhooks, Edge Functions) or a write on a
 * connection of its own (the dev mailbox). Its runs execute concurrently and
 * are at least once; it sends run.key as the idempotency key (Resend
 * Idempotency-Key, webhook-id, ...). It is never given the transaction.
 */
export interface RemoteProvider extends ProviderBase {
  usesStore?: undefined;
  execute(run: ActionRun, env: ActionEnv): Promise<unknown>;
}

/**
 * A provider whose effect is a write to the engine store, made through `tx`
 * (a savepoint of the transaction that also marks the run succeeded): its
 * runs execute one at a time and exactly once. usesStore says so, for every
 * run; a kind that only sometimes writes to the store belongs to two
 * providers.
 */
export interface StoreProvider extends ProviderBase {
  usesStore(run: ActionRun, env: ActionEnv): true;
  execute(run: ActionRun, env: ActionEnv, tx: postgres.TransactionSql): Promise<unknown>;
}

/** What runs an action kind: one file per effect implements one of the two. */
export type ActionProvider = RemoteProvider | StoreProvider;
