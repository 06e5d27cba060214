// What happened to an email after it was sent, as Resend reports it: each
// event becomes an event on the contact's timeline (email.delivered,
// email.opened, ...) linked to the action run that sent the message by the
// provider's message id; a permanent bounce suppresses the address for
// non-transactional email, as does Resend's own refusal (email.suppressed);
// a complaint unsubscribes the recipient (the contact with the address, who
// need not be the run's contact) from every topic. Applied in the caller's
// transaction, with the delivery's id, once.
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
  const [run] = event.messageId
    ? await tx<
        {
          key: string;
          contact_id: string | null;
          feature: string | null;
          template: string | null;
          topic: string | null;
        }[]
      >`
        select key, contact_id, feature, params ->> 'template' as template, params ->> 'topic' as topic
          from nudge_engine.action_runs
         where provider_message_id = ${event.messageId} and kind = 'email'
         limit 1`
    : [];
  const address = event.to[0] ? normalizeAddress(event.to[0]) : null;
  const complained = event.type === 'email.complained';
  // The contact with the address: the one who received the message.
  let recipientId: string | null = null;
  if (address && (complained || !run?.contact_id)) {
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
  // Who complained is the recipient; the run's contact only when the event names no address.
  const complainant = address ? recipientId : contactId;
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
