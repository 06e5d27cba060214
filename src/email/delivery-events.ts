// What happened to an email after it was sent, as Resend reports it: each
// event becomes an event on the contact's timeline (email.delivered,
// email.opened, ...) linked to the action run that sent the message by the
// provider's message id; a permanent bounce suppresses the address for
// non-transactional email, as does Resend's own refusal (email.suppressed);
// a complaint unsubscribes the recipient from every topic: the contact the
// send went to, as the run keeps it (result.recipient_contact_id), who need
// not be the run's contact nor whoever holds the address by the time the
// complaint comes. A send made before that was kept (no key) falls back to
// the contact with the address now. Applied in the caller's transaction,
// with the delivery's id, once.
import type postgres from 'postgres';
import { setPreferences } from '../contacts/preferences.js';
import { normalizeAddress, suppress } from './suppression.js';
import { ALL_TOPICS } from './topics.js';

/** Resend's event types Nudge acts on; others are acknowledged and ignored. */
export const DELIVERY_EVENTS = [
  'email.sent',
  'email.delivered',
  'email.delivery_delayed',
  'email.bounced',
  'email.complained',
  'email.opened',
  'email.clicked',
  'email.failed',
  'email.suppressed',
] as const;
export type DeliveryEventType = (typeof DELIVERY_EVENTS)[number];

export interface DeliveryEvent {
  /** The delivery's id (svix-id): the timeline event's idempotency key. */
  deliveryId: string;
  type: DeliveryEventType;
  occurredAt: Date;
  /** The provider's id of the message (Resend's data.email_id). */
  messageId: string | null;
  to: string[];
  /** The rest of the event's data worth keeping (bounce, click). */
  data: Record<string, unknown>;
}

export interface Applied {
  contactId: string | null;
  runKey: string | null;
  suppressed: boolean;
  unsubscribed: boolean;
}

export async function applyDeliveryEvent(
  tx: postgres.TransactionSql,
  event: DeliveryEvent,
): Promise<Applied> {
  // recorded: the send kept its recipient's contact (recipient_id, null when
  // no contact had the address, or that contact is gone).
  const [run] = event.messageId
    ? await tx<
        {
          key: string;
          contact_id: string | null;
          feature: string | null;
          template: string | null;
          topic: string | null;
          recorded: boolean | null;
          recipient_id: string | null;
        }[]
      >`
        select r.key, r.contact_id, r.feature, r.params ->> 'template' as template,
               r.params ->> 'topic' as topic, r.result ? 'recipient_contact_id' as recorded,
               c.id as recipient_id
          from nudge_engine.action_runs r
          left join nudge_engine.contacts c
            on c.id = (r.result ->> 'recipient_contact_id')::uuid
         where r.provider_message_id = ${event.messageId} and r.kind = 'email'
         limit 1`
    : [];
  const address = event.to[0] ? normalizeAddress(event.to[0]) : null;
  const complained = event.type === 'email.complained';
  const recorded = run?.recorded === true;
  // The one who received the message: as the send recorded it, else the
  // contact with the address now.
  let recipientId: string | null = recorded ? run.recipient_id : null;
  if (address && !recorded && (complained || !run?.contact_id)) {
    const [contact] = await tx<{ id: string }[]>`
      select id from nudge_engine.contacts where email = ${address} and deleted_at is null`;
    recipientId = contact?.id ?? null;
  }
  const contactId = run?.contact_id ?? recipientId;
  await tx`
    insert into nudge_engine.events (contact_id, name, properties, source, occurred_at, idempotency_key)
    values (${contactId}, ${event.type},
            ${tx.json({
              message_id: event.messageId,
              ...(run
                ? {
                    run_key: run.key,
                    feature: run.feature,
                    template: run.template,
                    topic: run.topic,
                  }
                : {}),
              ...(address ? { to: address } : {}),
              ...event.data,
            } as postgres.JSONValue)},
            'resend', ${event.occurredAt}, ${`resend:${event.deliveryId}`})
    on conflict (idempotency_key) do nothing`;

  let suppressed = false;
  let unsubscribed = false;
  if (event.type === 'email.bounced' && address && isPermanent(event.data.bounce)) {
    suppressed = await suppress(tx, address, 'bounced', {
      message_id: event.messageId,
      bounce: event.data.bounce ?? null,
    });
  }
  if (event.type === 'email.suppressed' && address) {
    // Resend refused to send: the address is on its own list (an earlier bounce or complaint).
    suppressed = await suppress(tx, address, "on Resend's suppression list", {
      message_id: event.messageId,
    });
  }
  // Who complained is the recipient; the run's contact only when neither the
  // send nor the event names one.
  const complainant = recorded || address ? recipientId : contactId;
  if (complained && complainant) {
    unsubscribed = await setPreferences(tx, complainant, { [ALL_TOPICS]: false }, 'complaint');
  }
  return { contactId, runKey: run?.key ?? null, suppressed, unsubscribed };
}

/** Resend's email.bounced is a permanent rejection unless its bounce says otherwise. */
function isPermanent(bounce: unknown): boolean {
  const type = (bounce as { type?: unknown } | undefined)?.type;
  return typeof type !== 'string' || type.toLowerCase() === 'permanent';
}
