// The port every email provider implements (Resend, SMTP, the dev mailbox):
// one message in, the provider's id for it out. A sender never sees the
// engine store's transaction: sending is an effect outside it, made at least
// once and deduplicated by the message's key (see task.ts).

/** A message ready to go: rendered, addressed, with its headers. */
export interface OutgoingEmail {
  /** The run's idempotency key: a retry of one run is not a second email. */
  key: string;
  /** Exactly one mailbox (`ada@x.com` or `"Doe, John" <j@x.com>`): read back, it names no one else. */
  to: string;
  /** Always set for Resend and SMTP; the dev mailbox accepts none. */
  from: string | null;
  subject: string;
  html: string;
  /** Extra headers (List-Unsubscribe and List-Unsubscribe-Post for non-transactional mail). */
  headers: Record<string, string>;
}

/** What a provider says about a message it accepted. */
export interface SentEmail {
  /** The provider's id of the message (Resend's email id, the SMTP Message-ID, the mailbox row). */
  messageId: string | null;
  /** Anything else worth keeping on the run's result (the SMTP server's reply). */
  detail?: Record<string, unknown>;
}

export interface EmailSender {
  /** Sends `message`; throws RetryableError or PermanentError (actions/types.ts) when it cannot. */
  send(message: OutgoingEmail): Promise<SentEmail>;
}
