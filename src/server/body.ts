// Reading a request body, counting bytes as they arrive: a sender that
// declares no length (chunked) or lies about it is cut off at the limit, so
// memory never holds more than the limit plus one chunk. One limit,
// ingest.max_body_bytes, for every route: a declared length over it is
// refused before anything else (authentication included) is looked at.

import type { MiddlewareHandler } from 'hono';
import { parseJson as parseExactJson } from '../db/json.js';
import { isStorableText } from '../db/storable-text.js';
import { type Issue, plainMessage, valueAtPath } from '../zod-words.js';
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

/** How deep a JSON body may nest: deeper values cannot be serialised back (V8's stack). */
export const MAX_JSON_DEPTH = 256;

/** How many steps of a too deep value's path its error names. */
const DEEP_PATH_SHOWN = 6;

/**
 * The body as JSON: 400 when it is not JSON; 422 naming the place when it
 * nests deeper than MAX_JSON_DEPTH or holds text PostgreSQL cannot store —
 * refused here rather than failing in the database as a 500. The
 * Content-Type is not checked (JSON sent as text/plain, fetch's default for
 * a string, is read as JSON); it is named in the 400 when it says the body is
 * something else, a form most likely.
 */
export function parseJson(text: string, contentType?: string): unknown {
  let root: unknown;
  try {
    // Exact: a bigint over 2^53 in a row stays its digits (db/json.ts).
    root = parseExactJson(text);
  } catch (error) {
    throw notJson((error as Error).message, contentType);
  }
  // Iterative, with parent links: a path is built only for the answer.
  type Node = { value: unknown; key?: string | number; parent?: Node; depth: number };
  const pathOf = (node: Node) => {
    const path: (string | number)[] = [];
    for (let at: Node | undefined = node; at?.parent; at = at.parent) path.unshift(at.key!);
    return path;
  };
  const stack: Node[] = [{ value: root, depth: 0 }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const { value } = node;
    if (typeof value === 'string') {
      if (!isStorableText(value)) throw unstorable(fieldOf(pathOf(node)));
    } else if (typeof value === 'object' && value !== null) {
      if (node.depth >= MAX_JSON_DEPTH) {
        // Where the nesting starts, not all of its 256 steps.
        const path = pathOf(node);
        const start = path.slice(0, DEEP_PATH_SHOWN);
        throw new HttpError(
          422,
          'too_deep',
          `${start.length < path.length ? `${fieldOf(start)}…` : fieldOf(path)}: JSON nested more than ${MAX_JSON_DEPTH} levels deep`,
        );
      }
      const depth = node.depth + 1;
      if (Array.isArray(value)) {
        for (const [key, item] of value.entries())
          stack.push({ value: item, key, parent: node, depth });
      } else {
        for (const [key, item] of Object.entries(value)) {
          if (!isStorableText(key)) throw unstorable(`${fieldOf(pathOf(node))} (a key)`);
          stack.push({ value: item, key, parent: node, depth });
        }
      }
    }
  }
  return root;
}

/** The 400 of a body JSON.parse refused, with its Content-Type when that is not JSON's. */
function notJson(reason: string, contentType: string | undefined): HttpError {
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  // text/plain is how fetch sends a string: taken as JSON, so the JSON is what to fix.
  if (media === '' || media === 'text/plain' || /^[^/]+\/([^+]*\+)?json$/.test(media)) {
    return new HttpError(400, 'malformed_json', `body is not JSON: ${reason}`);
  }
  const shown = media.length > 80 ? `${media.slice(0, 79)}…` : media;
  return new HttpError(
    400,
    'malformed_json',
    `body is not JSON (Content-Type: ${shown}): ${reason}; send JSON with Content-Type: application/json`,
  );
}

function unstorable(field: string): HttpError {
  return new HttpError(
    422,
    'invalid_text',
    `${field}: text holding U+0000 (NUL) or an unpaired surrogate cannot be stored`,
  );
}

/**
 * A validation issue's message for the API (zod-words.ts): a wrong type says
 * what came ("expected a JSON object, got an array"), a missing field that
 * it is required, a bound the bound; a schema's own words stay as they are.
 * `quote: false` leaves out the value given (an app's rows, which are logged).
 */
export function issueMessage(issue: Issue, body: unknown, options?: { quote?: boolean }): string {
  return plainMessage(issue, valueAtPath(body, issue.path), 'a JSON object', options);
}

/** `new_rows[2].id`, `attributes.plan` from a path; `(body)` for the whole body. */
export function fieldOf(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(body)';
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i ? '.' : ''}${String(part)}`))
    .join('');
}
