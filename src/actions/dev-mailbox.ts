// The dev mailbox (email provider `dev`): mail is kept in
// nudge_engine.mailbox instead of being sent, for `nudge dev` and tests.
import type postgres from 'postgres';
import type { EmailSender } from './email-sender.js';

/**
 * Written by its own statement on the engine store, not in the transaction
 * that records the run: like any provider, the mailbox is outside it. The
 * row is keyed by the run's key, as Resend's Idempotency-Key is, so a retry
 * after a commit that failed finds the message already there and answers
 * with the same id: one message per key. The statement takes a second
 * connection of the pool while the attempt's transaction holds one (see
 * task.ts on sizing the pool).
 */
export function makeDevMailbox(sql: postgres.Sql): EmailSender {
  return {
    async send(message) {
      const [row] = await sql<{ id: string }[]>`
        insert into nudge_engine.mailbox (key, to_address, from_address, subject, html, headers)
        values (${message.key}, ${message.to}, ${message.from}, ${message.subject},
                ${message.html}, ${sql.json(message.headers)})
        on conflict (key) do update set key = excluded.key
        returning id`;
      return { messageId: `mailbox:${row!.id}` };
    },
  };
}
