// The ports a capture transport implements. Transport: what the rest of
// Nudge asks of one (index.ts maps each capture.transport value to its
// implementation): the objects deploy installs, what the engine process runs
// for it, its doctor lines. TransportObjects: the objects of its own a
// trigger-less transport deploys (replication: publications and a slot),
// which plan, deploy and teardown handle through this port alone.
// TriggerBody: the body of a trigger, for the trigger-based ones (the
// outbox's JSON and typed rows in outbox/, the webhook's); every body keeps
// the rule of fallback.ts: it never fails the user's write.
//
// Optional below means "not every transport": a trigger-less one needs, in
// practice, `engine.start` (it stores its changes itself), `doctor.tables`
// (else doctor checks the TRIGGER privilege it does not use), `unstored`
// (else `nudge dev`'s story does not wait for it) and, for the dashboard's
// overview, `overview` in a shape client/dashboard.ts reads under its name
// (only replication's is read today). docs/capture.md "Adding a transport".
//
// The names stay an enum of their own in config/schema.ts (TRANSPORTS):
// loading nudge.yaml must not import the implementations (the replication
// stream, its decoder, the consumer), and the registry's type
// (Record<name, Transport>, index.ts) makes the compiler refuse a name
// without an implementation, or one without a name.
import type postgres from 'postgres';
import type { LoadedConfig } from '../../config/load.js';
import type { Router } from '../../engine/intake/inbox.js';
import type { Feature } from '../../features/load.js';
import type { Analysis } from '../../source/introspect.js';
import type { TableName } from '../../source/names.js';
import type { Outcome } from '../../source/supabase-http.js';
import type { LossError } from '../loss-error.js';
import type { Plan, PlanItem } from '../plan.js';
import type { CaptureNeed, CaptureObject, Operation } from '../triggers.js';

/**
 * The capture objects features need. A trigger-less transport adds its own
 * part under its name (TransportDesired): its presence is what tells plan
 * and deploy that no trigger is wanted.
 */
export type DesiredCaptures = CaptureObject[] &
  Partial<TransportDesired> & {
    /**
     * Each feature file's fingerprint, by name (capture/features-deployed.ts):
     * recorded with the deployment, so a feature changed, added or removed
     * with no capture of its own to change is a change to deploy all the same.
     */
    features?: Record<string, string>;
  };

/** A number a transport reports on GET /metrics (server/engine-gauges.ts names it `nudge_<name>`). */
export interface TransportGauge {
  name: string;
  help: string;
  value: number;
  labels?: Record<string, string>;
}

/**
 * Each trigger-less transport's part of DesiredCaptures, keyed by its name
 * in the registry; it adds it from its own folder by declaration merging
 * (`declare module '../port.js' { interface TransportDesired { ... } }`).
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by each transport's declaration merging
export interface TransportDesired {}

/** Each trigger-less transport's deployed state (TransportObjects.read), keyed as TransportDesired. */
// biome-ignore lint/suspicious/noEmptyInterface: filled by each transport's declaration merging
export interface TransportState {}

/**
 * What a deployment records as having captured each object
 * (nudge.deployments objects[].captured_by): triggers, or a trigger-less
 * transport by its name. The engine compares it with its own transport's
 * (engine/wiring/deployed-transport.ts, which words each value from the
 * registry: a new transport needs no edit there).
 */
export type CapturedBy = 'trigger' | keyof TransportDesired;

export interface Transport {
  /**
   * Captures with triggers on the user's tables (plan, deploy and doctor
   * handle those); false: it brings its own objects (desired says which).
   */
  triggers: boolean;
  /** What deploy records as having captured the objects, and what the engine expects to find there. */
  capturedBy: CapturedBy;
  /** A trigger-less transport's own objects in the source, planned, deployed and torn down through this port. */
  objects?: TransportObjects;
  /** What Nudge captures changes with, in doctor's words: `its own triggers`. */
  capturesWith: string;
  /** The capture objects deploy installs for what the features need. */
  desired(context: DesiredContext): Promise<DesiredCaptures>;
  /** What `nudge start` and `nudge worker` run for it besides the engine's own loops. */
  engine?: {
    /** Work run on each round of the engine's housekeeping, with its log label (the project's transport only). */
    housekeeping?(context: EngineContext): [string, () => Promise<unknown>][];
    /**
     * A process started once the engine runs, stopped before it (the
     * project's transport only). How a trigger-less transport's events reach
     * the engine: it writes them with insertInbox (engine/intake/inbox.ts),
     * routed by `route`, announced with `announcement` as `announceAs`, then
     * calls `onStored` with the lanes; each under its name as source (a key
     * of TransportDesired) and a source_key that is the same every time the
     * change is read again (replication: `<commit LSN>:<n>`), so a re-read
     * after a crash stores nothing twice. replication/consumer.ts does it.
     * `follow` takes the captures of a deploy made while it runs (the
     * features read again, engine/wiring/follow-deploys.ts).
     */
    start?(
      context: EngineContext & StartContext,
    ): { stop(): Promise<void>; follow?(desired: DesiredCaptures): void } | undefined;
    /**
     * Moves what its triggers left in the source into the inbox, one batch
     * per step (the outbox's pump). The engine drives it with a loop of its
     * own (engine/wiring/runtime.ts), not through `start`, for two reasons.
     * The loop is the engine's: its lanes' bells rung with the lanes each
     * step fed, the look before an idle poll (`waiting`), the pacing, the
     * backoff after a failure and the `pumped` count of the engine's stats,
     * all inside startEngine, where a process begun after it (`start`) has
     * none of them. And it runs whenever a source database is configured,
     * for every registered transport that has one, whichever the project
     * uses (index.ts enginePumps): rows its triggers wrote before a switch to
     * another transport are still moved (under replication the outbox pump
     * polls an empty outbox, docs/replication.md).
     */
    pump?(context: PumpContext): Pump;
    /**
     * How many changes its triggers left in the source that no pump has
     * moved yet (the outbox's pending rows), summed over every transport by
     * index.ts pendingInSource: `/v1/overview`'s backlog, teardown's refusal
     * and `nudge dev`'s wait count them.
     */
    pending?(source: postgres.Sql): Promise<number>;
    /** When the oldest of those changes was captured (null: none), for `/v1/overview`'s lag. */
    oldestPending?(source: postgres.Sql): Promise<Date | null>;
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
  /**
   * Its part of GET /v1/overview, which the dashboard reads under the
   * transport's name (replication: the slot's health); undefined for none.
   * The dashboard knows replication's shape only (client/dashboard.ts
   * Overview.replication): another transport's part needs a field there,
   * and its page, too.
   */
  overview?(context: { source: postgres.Sql; project: LoadedConfig }): Promise<object | undefined>;
  /**
   * Its gauges on GET /metrics (replication: the slot's retained WAL and
   * lag, for an alert before the disk fills), read at each scrape; none
   * when the project does not use it.
   */
  gauges?(context: { source: postgres.Sql; project: LoadedConfig }): Promise<TransportGauge[]>;
  /**
   * Marks what is written now; the function it returns answers how many of
   * the changes written before the mark are not stored in the inbox yet (0
   * once they all are). `nudge dev`'s story waits on it. None: the transport
   * stores nothing on its own (a trigger writes the outbox in the user's
   * transaction). A trigger-less transport needs it: without it the story
   * shows a step before its changes are stored.
   */
  unstored?(context: {
    source: postgres.Sql;
    project: LoadedConfig;
  }): Promise<() => Promise<number>>;
  /** Its lines in `nudge doctor` (and the dashboard's checks). */
  doctor?: {
    /**
     * Instead of the TRIGGER privilege check: what it needs on the captured
     * tables. A trigger-less transport needs it: without it doctor checks
     * the TRIGGER privilege, which it does not use.
     */
    tables?(context: DoctorContext, tables: TableName[], needed: Needed): Promise<void>;
    /** After the tables' privileges: the extensions it needs (default: pg_net is not needed). */
    extensions?(context: DoctorContext): void;
    /** A section of its own, after Nudge's triggers: its label and its checks. */
    section?: [string, (context: DoctorContext) => Promise<void>];
  };
}

/**
 * A transport's own objects in the source database (publications, a slot).
 * Plan, deploy and teardown ask every registered transport that has them,
 * whichever transport the project uses now: switching away from one drops
 * what it deployed. Its part of the desired captures (`desired`) is
 * undefined then.
 */
export interface TransportObjects<Desired = unknown, State = unknown> {
  /** Reads what it has deployed (read-only), for the plan. */
  read(sql: postgres.Sql): Promise<State>;
  /** Its plan items for what is wanted and what is there; pure. Its kinds are its own. */
  plan(desired: Desired | undefined, state: State): PlanItem[];
  /** Its item kinds deploy runs in the deploy transaction, in this order (after the schema, before the triggers). */
  kinds: readonly string[];
  /**
   * Its item kinds that cannot run in a transaction (a slot): run one at a
   * time with `runOutside` after a commit. A `--sql` script puts created
   * objects right after the first commit and the rest at the end; a
   * migration file (export) lists them as comments to run after it.
   */
  outside: readonly string[];
  /**
   * When it is the transport deployed (its part is desired): its `kinds`
   * commit first in a transaction of their own, then `outside` runs, then
   * the rest of the plan (a slot is never older than its publications, and
   * triggers go only once it streams).
   */
  commitFirst: boolean;
  /** Said in a migration file (export) above the `outside` statements it lists as comments, to run after it. */
  outsideNote: string;
  /**
   * A statement that tells its engine process of the deploy, in the order
   * of what it captures (capture: replication: a logical decoding message
   * in the stream, so the consumer reads the feature files again before it
   * stores any change committed after it). Run last in the transaction that
   * changes its `kinds` when it changes some (`deployment` null: not
   * recorded yet), and after the deployment's record (`deployment`: SQL of
   * the new id, so what follows is stored under it).
   */
  announce?(deployment: string | null): string;
  /** Runs statements of the `outside` kinds, one at a time, outside any transaction. */
  runOutside(sql: postgres.Sql, statements: string[]): Promise<void>;
  /**
   * What applying the plan would lose (a slot's unread changes), measured
   * and noted on its items (detail, `warning`): by plan, by deploy and export
   * before asking, and by deploy inside its lock (where it refuses). `accepted`:
   * a plan measured before (the one shown to the user), whose measures stand
   * where nothing changed since, or where `discarding` drops it either way.
   */
  losses?(
    sql: postgres.Sql,
    plan: Plan,
    options?: { accepted?: Plan | undefined; discarding?: boolean },
  ): Promise<Loss | undefined>;
  /** `nudge teardown`: what it would remove, and removing it (after the nudge schema is dropped). */
  teardown: {
    find(sql: postgres.Sql): Promise<TeardownFound>;
    /**
     * Removes them: what was removed as phrases (`3 publications`, `slot
     * nudge`), a sentence said after them, and the objects by kind.
     */
    remove(
      sql: postgres.Sql,
    ): Promise<{ removed: string[]; note?: string; objects: Record<string, unknown> }>;
  };
  /** How it captures the tables, after `by`: `replication slot nudge`. */
  describe(desired: Desired): string;
}

/** Objects of a transport that teardown would remove. */
export interface TeardownFound {
  /** One line each: `publication nudge_insert`. */
  lines: string[];
  /** What removing them would lose. */
  loss?: Loss;
}

/** What dropping a transport's objects would lose; deploy, export and teardown refuse it unless told to discard it. */
export interface Loss {
  /**
   * The refusal, with the ways forward for the command: a LossError, which
   * `nudge dev` and the dashboard's deploy catch to say their own. `sql`:
   * the command was `nudge deploy --sql`, whose hint names that flag too and
   * asks no confirmation.
   */
  refusal(verb: 'deploy' | 'teardown' | 'export', options?: { sql?: boolean }): LossError;
  /** Said before it is discarded: `! --discard-unread: what slot nudge holds unread will be lost`. */
  notice: string;
  /** Said once it is gone (teardown): `slot nudge held 2 changes not yet read by an engine (…)`. */
  discarded: string;
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

/** What a pump is given: the engine's databases and router, and the name its announcements go under. */
export interface PumpContext {
  project: LoadedConfig;
  source: postgres.Sql;
  engine: postgres.Sql;
  route: Router;
  /** Announce the moved rows on the inbox channel as this process (its own lanes are rung by the engine). */
  announceAs: string;
  /**
   * The deployment this process's features were read at: rows captured
   * under a newer one are moved only once they are read again.
   */
  features?: FeaturesAt;
}

/** The deployment an engine's features were read at, and reading them again up to a newer one (engine/wiring/follow-deploys.ts). */
export interface FeaturesAt {
  deployment(): number;
  /** While the files are being read, what resolves once they are; undefined the rest of the time. */
  reading(): Promise<void> | undefined;
  /** Resolves once the features are read as of `deployment` or a later one (or found not to check: then kept as they were). */
  catchUp(deployment: number): Promise<void>;
  /** catchUp to the latest deployment in the source, looked up now. */
  catchUpLatest(): Promise<void>;
  /** Reads the feature files again whatever the deployment: what is captured changed at this point of a stream. */
  readAgain(): Promise<void>;
}

export interface Pump {
  /** Its name in the engine's log: `outbox pump`. */
  name: string;
  /** Moves one batch: the captured rows moved, the lanes they went to, and whether a full batch says more wait. */
  step(): Promise<{ moved: number; lanes: Set<number>; more: boolean }>;
  /** Whether anything waits, in one query outside any transaction: the look an idle poll takes before `step`. */
  waiting(): Promise<boolean>;
}

/** What `engine.start` is given besides EngineContext (whose `route` picks each event's lane). */
export interface StartContext {
  /** What the deployed plan captures (its part under its name: what to read). */
  desired: DesiredCaptures;
  /** Announce stored rows on the inbox channel as this process (inbox.ts announcement). */
  announceAs: string;
  /** Called after each inbox write with the lanes its rows went to, and whether more wait. */
  onStored: (lanes: Set<number>, more: boolean) => void;
  /** The deployment the process's features were read at, and reading them again (engine/wiring/follow-deploys.ts). */
  features?: FeaturesAt;
}

export interface DoctorContext {
  sql: postgres.Sql;
  project: LoadedConfig;
  say: (outcome: Outcome, label: string, message: string, fix?: string) => void;
  role: string;
  analysis: Analysis;
  /** The feature files, loaded or not (cli/doctor-features.ts): what deploy would capture. */
  features?: { features: Feature[] } | { error: unknown };
}

/** Says a missing privilege as a failure, or a warning when access is read-only. */
export type Needed = (label: string, message: string, fix: string) => void;

/** The body of a capture trigger's function: the outbox's (JSON or typed rows) or the webhook's. */
export interface TriggerBody {
  /** Shown in the plan after the trigger's level, e.g. `webhook via pg_net`; none for the outbox's. */
  label?: string;
  body(spec: TriggerBodySpec): string;
}

/** What a trigger body is told about the capture it is written for. */
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
