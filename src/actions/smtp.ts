// Email over SMTP (nodemailer, from email.smtp.url). The SMTP reply decides:
// 4xx is transient (greylisting, mailbox busy) and retried, 5xx is a
// rejection and final; a connection that fails or times out is retried.
import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { Config } from '../config/schema.js';
import type { EmailSender } from './email-sender.js';
import { PermanentError, RetryableError } from './types.js';

type Transport = ReturnType<typeof nodemailer.createTransport>;
const transports = new Map<string, Transport>();

function transportFor(url: string, timeoutMs: number): Transport {
  const cacheKey = `${timeoutMs} ${url}`;
  let transport = transports.get(cacheKey);
  if (!transport) {
    transport = nodemailer.createTransport({
      url,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      logger: false,
      debug: false,
    });
    transports.set(cacheKey, transport);
  }
  return transport;
}

/**
 * SMTP has no idempotency key. The Message-ID is derived from the run's key,
 * so every attempt of one run carries the same Message-ID and receivers (and
 * mail clients, which thread by it) can drop a duplicate when an attempt
 * timed out after the server had accepted the message.
 */
export function makeSmtpSender(smtp: Config['email']['smtp'], timeoutMs: number): EmailSender {
  return {
    async send(message) {
      if (!smtp) {
        throw new PermanentError(
          'email provider smtp is not configured: set email.smtp.url in nudge.yaml',
        );
      }
      const messageId = messageIdFor(message.key, message.from ?? '');
      try {
        const info = await transportFor(smtp.url, timeoutMs).sendMail({
          from: message.from ?? undefined,
          to: message.to,
          subject: message.subject,
          html: message.html,
          messageId,
          headers: message.headers,
        });
        return { messageId, detail: { response: String(info.response ?? '') } };
      } catch (error) {
        throw smtpFailure(error);
      }
    },
  };
}

/** `<sha256(key)@sender's domain>`: stable per key, unique across keys. */
export function messageIdFor(key: string, from: string): string {
  const domain = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from)?.[1] ?? 'nudge.invalid';
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 40);
  return `<${hash}.nudge@${domain}>`;
}

/**
 * nodemailer's error, reduced to the server's reply (no credentials: the URL
 * is never part of the message) and classified by its reply code.
 */
function smtpFailure(error: unknown): Error {
  const { responseCode, code, response, message } = error as {
    responseCode?: number;
    code?: string;
    response?: string;
    message?: string;
  };
  const reply = (response ?? message ?? String(error)).replace(/\s+/g, ' ').trim().slice(0, 300);
  if (typeof responseCode === 'number') {
    return responseCode >= 500
      ? new PermanentError(`SMTP server rejected the message: ${reply}`)
      : new RetryableError(`SMTP server deferred the message: ${reply}`);
  }
  if (code === 'EENVELOPE' || code === 'EMESSAGE' || code === 'ECONFIG') {
    return new PermanentError(`SMTP: ${reply}`);
  }
  return new RetryableError(`SMTP server could not be reached (${code ?? 'error'}): ${reply}`);
}
