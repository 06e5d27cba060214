// Email through Resend's HTTP API (POST {base_url}/emails). Plain fetch rather
// than the `resend` SDK: the SDK takes its base URL only from a process-wide
// environment variable and folds status codes and Retry-After into one error
// object, and both matter here.
import type { Config } from '../config/schema.js';
import type { EmailSender } from './email-sender.js';
import { briefBody, failureOf, idempotencyKey, send } from './http.js';
import { PermanentError, RetryableError } from './types.js';

/**
 * Resend keeps an Idempotency-Key for 24 hours and answers a repeat with the
 * first response, so a retry after a timeout (the email may have gone out)
 * does not send it twice. Past 24 hours a replay sends again. The rendered
 * message is the same on every attempt (templates see the context as it was
 * when the action was decided), which Resend requires of a repeated key.
 */
export function makeResendSender(
  resend: Config['email']['resend'],
  timeoutMs: number,
): EmailSender {
  return {
    async send(message) {
      if (!resend) {
        throw new PermanentError(
          'email provider resend is not configured: set email.resend.api_key in nudge.yaml',
        );
      }
      return sendResend(resend, timeoutMs, message);
    },
  };
}

async function sendResend(
  resend: NonNullable<Config['email']['resend']>,
  timeoutMs: number,
  message: Parameters<EmailSender['send']>[0],
) {
  const answer = await send({
    url: `${resend.base_url.replace(/\/+$/, '')}/emails`,
    method: 'POST',
    headers: {
      authorization: `Bearer ${resend.api_key}`,
      'content-type': 'application/json',
      'idempotency-key': idempotencyKey(message.key),
    },
    body: JSON.stringify({
      from: message.from,
      to: [message.to],
      subject: message.subject,
      html: message.html,
      ...(Object.keys(message.headers).length > 0 ? { headers: message.headers } : {}),
    }),
    timeoutMs,
    name: 'Resend',
  });
  const error = answer.json as { name?: unknown } | undefined;
  // 409: concurrent_idempotent_requests is "the first request with this key is
  // still in flight" (retry); invalid_idempotent_request is a key reused with
  // another payload (never accepted, so permanent, as other 4xx are).
  if (answer.status === 409 && error?.name === 'concurrent_idempotent_requests') {
    throw new RetryableError(`Resend answered 409: ${briefBody(answer)}`);
  }
  const failure = failureOf(answer, 'Resend');
  if (failure) throw failure;
  const id = (answer.json as { id?: unknown } | undefined)?.id;
  return { messageId: typeof id === 'string' ? id : null };
}
