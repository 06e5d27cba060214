// Whether an email run may be sent now, decided when it runs (not when the
// journey queued it, which may be days earlier): a recipient who opted out of
// the email's topic since, or an address that bounced since, is not mailed.
// The opt-out checked is the recipient's (recipient.ts), not the run
// contact's when `to` names someone else. Transactional email is exempt.
// Reads only; task.ts records the outcome.
import type { ActionEnv, ActionRun, Admission } from '../actions/types.js';
import { optedOut } from '../contacts/preferences.js';
import type { Db } from '../contacts/store.js';
import { type DailyWindow, deferral, isTimeZone } from './quiet-hours.js';
import { type Recipient, type RecipientReading, readRecipients } from './recipient.js';
import { suppressionsOf } from './suppression.js';
import { TRANSACTIONAL, topicOfAction } from './topics.js';

/**
 * One verdict per run: skip (with the decision's reason) or go, with its
 * recipient as read here (readRecipients), which the message then goes to,
 * and the run's contact found by its address when the run names none. Runs
 * whose topic or recipient is wrong, or whose recipient is no contact, go on
 * and fail in execute with the message.
 */
export async function admitEmails(runs: ActionRun[], env: ActionEnv, db: Db): Promise<Admission[]> {
  const recipients = await readRecipients(db, runs);
  const checked = runs.map((run, i): Checked => {
    const topic = topicOfAction(env.project.config.email, run.params as { topic?: string });
    const recipient = recipients[i]!;
    return {
      run: { ...run, recipient },
      topic: 'topic' in topic ? topic.topic : undefined,
      recipient,
    };
  });
  const refusable = checked.filter(
    (c): c is Refusable =>
      c.topic !== undefined && c.topic !== TRANSACTIONAL && 'address' in c.recipient,
  );
  if (refusable.length === 0) return checked.map((c) => ({ go: c.run }));

  const suppressed = await suppressionsOf(
    db,
    refusable.map((c) => c.recipient.address),
  );
  const withContact = refusable.filter((c) => c.recipient.contactId !== null);
  const out = await optedOut(
    db,
    withContact.map((c) => ({ contactId: c.recipient.contactId!, topic: c.topic })),
  );
  // Time zones matter only with quiet hours or a send window.
  const timed = withContact.filter(
    (c) =>
      env.project.config.email.quiet_hours ||
      (c.run.params as { send_window?: unknown }).send_window,
  );
  const zones = await zonesOf(
    db,
    timed.map((c) => c.recipient.contactId!),
    env,
  );
  const now = env.clock.now();
  const verdicts = new Map<ActionRun, Admission>();
  withContact.forEach((c, i) => {
    const { contactId } = c.recipient;
    const run = c.run.contactId === null ? { ...c.run, contactId } : c.run;
    if (out[i]) {
      verdicts.set(c.run, { skip: `unsubscribed (topic ${c.topic})` });
      return;
    }
    const zone = zones.get(contactId!) ?? env.project.config.email.time_zone;
    const later = deferral(now, zone, {
      quietHours: env.project.config.email.quiet_hours,
      sendWindow: (c.run.params as { send_window?: DailyWindow }).send_window,
    });
    verdicts.set(c.run, later ? { defer: later.until, reason: later.reason } : { go: run });
  });
  for (const c of refusable) {
    const { address } = c.recipient;
    const reason = suppressed.get(address);
    if (reason) verdicts.set(c.run, { skip: `suppressed (${address} ${reason})` });
  }
  return checked.map((c) => verdicts.get(c.run) ?? { go: c.run });
}

/** A run with its topic and its recipient as admission read it. */
interface Checked {
  run: ActionRun;
  topic: string | undefined;
  recipient: RecipientReading;
}

/** A run admission may refuse: a topic that is not transactional, and an address. */
interface Refusable extends Checked {
  topic: string;
  recipient: Recipient;
}

/**
 * Each contact's time zone: its attribute (email.time_zone_attribute) when
 * that names a zone this runtime knows, else email.time_zone.
 */
async function zonesOf(db: Db, contactIds: string[], env: ActionEnv): Promise<Map<string, string>> {
  const { time_zone, time_zone_attribute } = env.project.config.email;
  const zones = new Map(contactIds.map((id) => [id, time_zone]));
  if (contactIds.length === 0) return zones;
  const rows = await db<{ id: string; zone: string | null }[]>`
    select id, attributes ->> ${time_zone_attribute} as zone from nudge_engine.contacts
     where id = any(${contactIds}::uuid[])`;
  for (const row of rows) if (row.zone && isTimeZone(row.zone)) zones.set(row.id, row.zone);
  return zones;
}
