// The dev mailbox (email provider `dev`): mail is kept in
// nudge_engine.mailbox instead of being sent, for `nudge dev` and tests.
import type { EmailSender } from './email.js';

/**
 * Written in the transaction that marks the run succeeded, and keyed by the
 * run's key: a message is in the mailbox exactly once per key.
 */
export const sendDev: EmailSender = async (message, _env, tx) => {
  const [row] = await tx<{ id: string }[]>`
    insert into nudge_engine.mailbox (key, to_address, from_address, subject, html)
    values (${message.key}, ${message.to}, ${message.from}, ${message.subject}, ${message.html})
    on conflict (key) do nothing
    returning id`;
  return { mailbox_id: row ? Number(row.id) : null };
};
