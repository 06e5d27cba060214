// Reading a request body, counting bytes as they arrive: a sender that
// declares no length (chunked) or lies about it is cut off at the limit, so
// memory never holds more than the limit plus one chunk. One limit,
// ingest.max_body_bytes, for every route: a declared length over it is
// refused before anything else (authentication included) is looked at.
import type { MiddlewareHandler } from 'hono';
import { HttpError } from './http-error.js';

/** 413 naming the setting that sets the limit. */
export function tooLarge(limit: number): HttpError {
  return new HttpError(
    413,
    'payload_too_large',
    `body is larger than ingest.max_body_bytes (${limit} bytes)`,
  );
}

/** Every route: a Content-Length over `limit` is a 413 before the route runs. */
export function limitDeclaredBody(limit: number): MiddlewareHandler {
  return async (c, next) => {
    const declared = c.req.header('content-length');
    if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
    await next();
  };
}

/** The body as text; a 413 once it passes `limit` bytes. */
export async function readCapped(request: Request, limit: number): Promise<string> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
