// What a slot holds that no engine has stored yet, so that plan, deploy,
// export and teardown never drop it silently. The server only knows bytes:
// WAL written since the slot's confirmed position, which counts every table's
// writes (and other databases'). The changes of Nudge's tables waiting in it
// are counted by peeking (decoding without consuming) when that is cheap: no
// session streams the slot and it retains little WAL. Otherwise the honest
// answer is "up to N of WAL not yet read, which may hold changes".
//
// Measured once per decision: deploy's check inside its lock is given what
// the command measured before asking (`accepted`), and peeks again only when
// the WAL window measured moved — the slot's confirmed position or the end of
// WAL. A window that did not move holds what it held; one that did may hold
// changes nobody accepted to lose. A slot the caller already accepted to
// discard (--discard-unread) is not measured twice: it is dropped either way.
import type postgres from 'postgres';
import type { UnreadSlot } from '../../../client/dashboard.js';
import { literal } from '../../../db/quote.js';
import { LossError } from '../../loss-error.js';
import type { Plan } from '../../plan.js';
import type { Loss } from '../port.js';
import { publicationName } from './publication.js';
import { formatBytes } from './slot.js';

declare module '../../plan.js' {
  interface PlanItem {
    /** A slot the plan drops: what it holds unread (noteUnread). */
    unread?: SlotUnread;
  }
}

/**
 * Peek only when the slot retains at most this much WAL. What it retains is
 * the server's WAL since the slot's restart point, every database's: on a
 * shared server most of it is other databases' records, which decoding
 * skips cheaply, so the time a peek may take is what bounds it (PEEK_MS).
 */
const PEEK_LIMIT_BYTES = 1024 * 1024 * 1024;

/** How long a peek may decode before it gives up (statement_timeout). */
const PEEK_MS = 3000;

export interface SlotUnread {
  slot: string;
  /** A session streams the slot (an engine, usually): it cannot be peeked. */
  active: boolean;
  /** WAL written since the slot's confirmed position, in bytes (all tables, all databases). */
  bytes: number;
  /** Changes of the published tables waiting in the slot; null when not counted. */
  changes: number | null;
  /** Why the changes were not counted, when no session streams the slot ("its WAL was not flushed …"). */
  uncounted?: string;
  /** The WAL measured: from the slot's confirmed position to the end of WAL then (LSNs). */
  window?: { from: string; to: string };
}

/** pgoutput message types that carry a change: Insert, Update, Delete, Truncate. */
const CHANGE_TYPES = ['I', 'U', 'D', 'T'].map((c) => c.charCodeAt(0));

/**
 * What the slot holds unread. `before`: a measure of it taken earlier, which
 * stands (no peek) when the window it measured has not moved.
 */
export async function slotUnread(
  sql: postgres.Sql,
  slot: string,
  before?: SlotUnread,
  peekMs = PEEK_MS,
): Promise<SlotUnread | undefined> {
  const [row] = await sql<
    {
      active: boolean;
      unread: number | null;
      retained: number | null;
      from: string | null;
      to: string;
    }[]
  >`
    select active,
           pg_wal_lsn_diff(pg_current_wal_insert_lsn(), confirmed_flush_lsn)::float8 as unread,
           pg_wal_lsn_diff(pg_current_wal_insert_lsn(), restart_lsn)::float8 as retained,
           confirmed_flush_lsn::text as from, pg_current_wal_insert_lsn()::text as to
      from pg_replication_slots
     where slot_name = ${slot} and database = current_database() and slot_type = 'logical'`;
  if (!row) return undefined;
  const bytes = Math.max(0, row.unread ?? 0);
  const unread: SlotUnread = {
    slot,
    active: row.active,
    bytes,
    changes: null,
    ...(row.from === null ? {} : { window: { from: row.from, to: row.to } }),
  };
  if (before && stillMeasured(before, unread)) return before;
  if (row.active || bytes === 0) return unread;
  if (row.retained === null)
    return {
      ...unread,
      uncounted: 'the slot has no restart position (the server dropped its WAL)',
    };
  if (row.retained > PEEK_LIMIT_BYTES)
    return {
      ...unread,
      uncounted: `it retains ${formatBytes(row.retained)} of WAL, more than the ${formatBytes(PEEK_LIMIT_BYTES)} Nudge decodes to count`,
    };
  const names = ['insert', 'update', 'delete'].map((op) =>
    publicationName(slot, op as 'insert' | 'update' | 'delete'),
  );
  const published = await sql<{ name: string }[]>`
    select pubname as name from pg_publication where pubname = any(${names}) order by pubname`;
  if (published.length === 0)
    return { ...unread, uncounted: 'no publication of Nudge is left to decode it with' };
  if (!(await flushedSoon(sql)))
    return {
      ...unread,
      uncounted: `its WAL was not flushed to disk within ${FLUSH_WAIT_MS / 1000} s`,
    };
  try {
    const peek = async (tx: postgres.TransactionSql) => {
      await tx`select set_config('statement_timeout', ${String(peekMs)}, true)`;
      return tx.unsafe<{ changes: number }[]>(
        `select count(*) filter (where get_byte(data, 0) in (${CHANGE_TYPES.join(', ')}))::int as changes
           from pg_logical_slot_peek_binary_changes(${literal(slot)}, null, null,
                'proto_version', '1', 'publication_names', ${literal(published.map((p) => p.name).join(','))})`,
      );
    };
    // Its own transaction, or a savepoint of the caller's, for the timeout.
    const [peeked] = await ('begin' in sql
      ? sql.begin(peek)
      : (sql as unknown as postgres.TransactionSql).savepoint(peek));
    return { ...unread, changes: peeked!.changes };
  } catch (error) {
    if ((error as { code?: string }).code === '57014')
      return { ...unread, uncounted: `decoding it took more than ${peekMs / 1000} s` };
    // Taken by a session meanwhile, or not decodable here: bytes are all we know.
    return { ...unread, uncounted: `decoding it failed: ${(error as Error).message}` };
  }
}

/**
 * Whether a measure taken before still says what the slot holds: the same
 * slot, streamed (or not) as then, and the same WAL window — from its
 * confirmed position to the end of WAL. Bytes alone would not do: an engine
 * may have read as much as was written since.
 */
export function stillMeasured(before: SlotUnread, now: SlotUnread): boolean {
  return (
    before.slot === now.slot &&
    before.active === now.active &&
    now.window !== undefined &&
    before.window?.from === now.window.from &&
    before.window.to === now.window.to
  );
}

/** How long a count waits for the WAL to be flushed. */
const FLUSH_WAIT_MS = 2000;

/**
 * Decoding reads only WAL flushed to disk; a commit made with
 * synchronous_commit off is flushed by the WAL writer within moments. Waits
 * (up to FLUSH_WAIT_MS) until everything written before now is flushed.
 */
async function flushedSoon(sql: postgres.Sql): Promise<boolean> {
  const [now] = await sql<{ lsn: string }[]>`select pg_current_wal_insert_lsn()::text as lsn`;
  for (let waited = 0; waited <= FLUSH_WAIT_MS; waited += 50) {
    const [row] = await sql<{ flushed: boolean }[]>`
      select pg_current_wal_flush_lsn() >= ${now!.lsn}::pg_lsn as flushed`;
    if (row!.flushed) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

/** Whether dropping the slot may lose changes: some were counted, or bytes are unread and were not counted. */
export function holdsUnread(unread: SlotUnread | undefined): boolean {
  if (!unread) return false;
  return unread.changes === null ? unread.bytes > 0 : unread.changes > 0;
}

/** "3 changes waiting", or the honest "up to 2.0 MB of WAL not yet read, which may hold changes". */
export function waitingText(unread: SlotUnread): string {
  if (unread.bytes === 0) return 'nothing unread';
  if (unread.changes === null)
    return `up to ${formatBytes(unread.bytes)} of WAL not yet read, which may hold changes${
      unread.uncounted ? ` (not counted: ${unread.uncounted})` : ''
    }`;
  if (unread.changes === 0) return 'no changes waiting';
  return `${unread.changes} change${unread.changes === 1 ? '' : 's'} waiting`;
}

/** "3 changes not yet read by an engine (12.0 kB of WAL not confirmed)", or the honest "up to …" when not counted. */
export function describeUnread(unread: SlotUnread): string {
  const wal = formatBytes(unread.bytes);
  if (unread.bytes === 0) return 'nothing unread';
  if (unread.changes === null) {
    const who = unread.active ? '; an engine is streaming it now' : '';
    return `${waitingText(unread)}${who}`;
  }
  if (unread.changes === 0) return `no changes waiting (${wal} of other WAL not confirmed)`;
  return `${unread.changes} change${unread.changes === 1 ? '' : 's'} not yet read by an engine (${wal} of WAL not confirmed)`;
}

/** What the plan shows under a slot it drops that holds unread changes. */
const UNREAD_WARNING = {
  label: 'unread',
  text: 'dropping the slot loses them; deploy drops it only with --discard-unread',
};

/**
 * Measures the slots the plan drops and notes it on their items (detail,
 * `unread` and the warning), so `nudge plan` shows what the drop would lose.
 * `accepted`: a plan measured before; its measure of a slot stands when the
 * slot's window has not moved, or when `discarding` (it is dropped either way).
 */
export async function noteUnread(
  sql: postgres.Sql,
  plan: Plan,
  options: { accepted?: Plan | undefined; discarding?: boolean } = {},
): Promise<SlotUnread[]> {
  const found: SlotUnread[] = [];
  for (const item of plan.items) {
    if (item.kind !== 'slot' || item.action !== 'drop') continue;
    const before = options.accepted?.items.find(
      (shown) => shown.kind === 'slot' && shown.action === 'drop' && shown.subject === item.subject,
    )?.unread;
    const unread =
      before && options.discarding ? before : await slotUnread(sql, item.subject, before);
    if (!unread) continue;
    item.unread = unread;
    item.detail = `${item.detail ?? ''} · ${describeUnread(unread)}`;
    if (holdsUnread(unread)) {
      item.warning = UNREAD_WARNING;
      item.scriptNote = `slot ${item.subject} holds ${describeUnread(unread)}; the drop below loses ${unread.changes === 1 ? 'it' : 'them'}`;
      item.loss = unreadSlot(unread);
      found.push(unread);
    }
  }
  return found;
}

/** A slot and what it holds, as the dashboard reads it (client/dashboard.ts UnreadSlot). */
export function unreadSlot(unread: SlotUnread): UnreadSlot {
  const { slot, bytes, changes, active } = unread;
  return { slot, bytes, changes, active, holds: describeUnread(unread) };
}

/** What dropping these slots would lose: the refusal and the notice (port.ts Loss). */
export function unreadLoss(slots: SlotUnread[]): Loss | undefined {
  if (!slots.length) return undefined;
  return {
    refusal: (verb, options) => new UnreadSlotError(verb, slots, options?.sql === true),
    notice: discardNotice(slots),
    discarded: slots.map((u) => `slot ${u.slot} held ${describeUnread(u)}`).join('; '),
  };
}

/** The flag that lets deploy, export and teardown drop a slot holding unread changes. */
const DISCARD_UNREAD_FLAG = '--discard-unread';

/** What --discard-unread costs, said before it is done. */
export function discardNotice(slots: SlotUnread[]): string {
  return `! ${DISCARD_UNREAD_FLAG}: what ${slots.map((u) => `slot ${u.slot}`).join(', ')} holds unread will be lost`;
}

/** What `nudge start` logs once it has stored every change the slot held when it began (consumer.ts). */
export const BACKLOG_READ = "read the replication slot's backlog";

/**
 * How to drain the slots before the command, step by step as the user can
 * follow them. Deploy and export were refused because nudge.yaml now says
 * another capture (edited in place: there is no previous file), so it says
 * replication again while an engine reads the slot, then the new capture
 * again for the check. `nudge plan` counts what waits only on a slot it
 * drops (under replication its line is `= slot …`); `nudge start` says when
 * it has read the backlog. Teardown does not depend on the capture setting
 * and refuses while anything is unread, so running it again is the check.
 */
function drainSteps(verb: 'deploy' | 'teardown' | 'export', slots: SlotUnread[]): string {
  const names = slots.map((u) => u.slot);
  const capture =
    names.length > 1
      ? `\`capture: replication\` with \`replication: { slot: … }\` naming each of ${names.join(', ')} in turn`
      : names[0] === 'nudge'
        ? '`capture: replication`'
        : `\`capture: { transport: replication, replication: { slot: ${names[0]} } }\``;
  const engine = `run \`nudge start\` until its log says \`${BACKLOG_READ}\`, and stop it with Ctrl-C`;
  if (verb === 'teardown')
    return `with ${capture} in nudge.yaml, ${engine}; then run \`nudge teardown\` again (it refuses while the slot holds unread changes)`;
  return `set ${capture} again in nudge.yaml, ${engine}; set your new capture back and run \`nudge plan\`: the slot's line says \`no changes waiting\` (or \`nothing unread\`); then ${verb === 'export' ? 'export' : 'deploy'} again`;
}

/**
 * Deploy's, export's and teardown's refusal to drop slots holding unread
 * changes: what would be lost, and the ways forward. A LossError, so a
 * caller with other ways forward (`nudge dev`, the dashboard) can say its
 * own from what it carries (`loss`; the slots are in `loss.fields`). Export
 * writes the slot's drop for the user to run after the migration: its second
 * way is to drop the slot before exporting again, or to write the migration
 * anyway.
 */
export class UnreadSlotError extends LossError {
  override name = 'UnreadSlotError';
  constructor(
    verb: 'deploy' | 'teardown' | 'export',
    slots: SlotUnread[],
    /** `nudge deploy --sql`: named in the hint, which asks no confirmation. */
    sql = false,
  ) {
    const what = slots.map((u) => `slot ${u.slot} holds ${describeUnread(u)}`).join('; ');
    const loss = {
      transport: 'replication',
      what,
      where: 'the slot',
      code: 'unread_slot',
      fields: { slots: slots.map(unreadSlot) },
    };
    const lose =
      verb === 'export'
        ? `drop ${slots.length === 1 ? 'it' : 'them'} yourself and lose them (${slots.map((u) => `SELECT pg_drop_replication_slot(${literal(u.slot)});`).join(' ')}), then export again; or run \`nudge export --supabase ${DISCARD_UNREAD_FLAG}\` to write the migration anyway (running it and the slot drop it lists after it loses them)`
        : sql
          ? `run \`nudge deploy --sql ${DISCARD_UNREAD_FLAG}\` to drop the slot and lose them`
          : `run \`nudge ${verb} ${DISCARD_UNREAD_FLAG}\` (with --yes where there is no terminal) to drop the slot and lose them`;
    super(
      `${verb} would drop ${slots.length === 1 ? 'a replication slot' : 'replication slots'} that no engine has read to the end; what it holds would be lost: ${what}`,
      `either keep them: ${drainSteps(verb, slots)}; or ${lose}`,
      loss,
    );
  }
}
