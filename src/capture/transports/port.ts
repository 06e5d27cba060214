// The ports a capture transport implements. Transport: what the rest of
// Nudge asks of one (index.ts maps each capture.transport value to its
// implementation): the objects deploy installs, what the engine process runs
// for it, its doctor lines. CaptureTransport: the body of a trigger, for the
// trigger-based ones (outbox.ts, typed-rows.ts, webhook); every body keeps the
// rule of plpgsql.ts: it never fails the user's write.
import type postgres from 'postgres';
import type { LoadedConfig } from '../../config/load.js';
import type { Router } from '../../engine/intake/inbox.js';
import type { Feature } from '../../features/load.js';
import type { Analysis } from '../../source/introspect.js';
import type { TableName } from '../../source/names.js';
import type { Outcome } from '../../source/supabase-http.js';
import type { CaptureNeed, Operation } from '../triggers.js';
import type { DesiredCaptures } from './replication/publication.js';

export interface Transport {
  /**
   * Captures with triggers on the user's tables (plan, deploy and doctor
   * handle those); false: it brings its own objects (desired says which).
   */
  triggers: boolean;
  /** What Nudge captures changes with, in doctor's words: `its own triggers`. */
  capturesWith: string;
  /** The capture objects deploy installs for what the features need. */
  desired(context: DesiredContext): Promise<DesiredCaptures>;
  /** What `nudge start` and `nudge worker` run for it besides the engine; none for the outbox. */
  engine?: {
    /** Work run on each round of the engine's housekeeping, with its log label. */
    housekeeping?(context: EngineContext): [string, () => Promise<unknown>][];
    /** A process started once the engine runs, stopped before it. */
    start?(context: EngineContext & StartContext): { stop(): Promise<void> } | undefined;
  };
  /**
   * A transport that signs what it sends (capture: webhook): deploy installs
   * the key in the source after the plan, as a parameter, never in plan SQL.
   */
  signing?: {
    /** Writes the key derived from `secret`; whether it changed anything. */
    install(source: postgres.Sql, secret: string): Promise<boolean>;
    /** Said when install changed the key. */
    installed: string;
    /** Said after `nudge deploy --sql`, whose script does not hold the key. */
    notInScript: string;
  };
  /** Its lines in `nudge doctor` (and the dashboard's checks). */
  doctor?: {
    /** Instead of the TRIGGER privilege check: what it needs on the captured tables. */
    tables?(context: DoctorContext, tables: TableName[], needed: Needed): Promise<void>;
    /** After the tables' privileges: the extensions it needs (default: pg_net is not needed). */
    extensions?(context: DoctorContext): void;
    /** A section of its own, after Nudge's triggers: its label and its checks. */
    section?: [string, (context: DoctorContext) => Promise<void>];
  };
}

export interface DesiredContext {
  project: LoadedConfig;
  sql: postgres.Sql;
  features: Feature[];
  needs: CaptureNeed[];
}

export interface EngineContext {
  project: LoadedConfig;
  /** The source database, and its URL (a replication stream opens its own connection). */
  source: postgres.Sql;
  sourceUrl: string;
  /** The engine store. */
  engine: postgres.Sql;
  route: Router;
  log: { info(fields: object, message: string): void; warn(fields: object, message: string): void };
  /** Wake the engine: new rows are in the inbox. */
  wake: () => void;
}

export interface StartContext {
  /** What the deployed plan captures. */
  desired: DesiredCaptures;
  /** Announce stored rows on the inbox channel as this process. */
  announceAs: string;
  /** Called after each inbox write with the lanes its rows went to, and whether more wait. */
  onStored: (lanes: Set<number>, more: boolean) => void;
}

export interface DoctorContext {
  sql: postgres.Sql;
  project: LoadedConfig;
  say: (outcome: Outcome, label: string, message: string, fix?: string) => void;
  role: string;
  analysis: Analysis;
}

/** Says a missing privilege as a failure, or a warning when access is read-only. */
export type Needed = (label: string, message: string, fix: string) => void;

export interface CaptureTransport {
  /** Shown in the plan after the trigger's level, e.g. `webhook via pg_net`; none for the outbox. */
  label?: string;
  body(spec: TriggerBodySpec): string;
}

/** What a transport is told about the capture it writes a body for. */
export interface TriggerBodySpec {
  table: TableName;
  operation: Operation;
  level: 'statement' | 'row';
  /** The transition table a statement-level body reads (alias it `n`: filters refer to n.*). */
  rows: string;
  /** A SQL predicate over NEW/OLD (row level) or n (statement level); undefined keeps every row. */
  filter: string | undefined;
  enrich: boolean;
  /**
   * The captured row as JSON (jsonb when asked), from a row alias: `n`, `NEW`
   * or `OLD`: only the columns the capture copies (columns.ts). `present`:
   * read them by name from the row as it is now, so a column dropped since
   * the deploy cannot make it fail (for fallbacks).
   */
  json(alias: string, options?: { jsonb?: boolean; present?: boolean }): string;
}
