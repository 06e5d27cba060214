// Random and malformed input at /ingest and /v1 (fast-check): JSON that is
// broken, deep, huge in number or holding NUL and lone surrogates; headers,
// query strings and PostgREST-style filters, signed and unsigned. Every answer
// is a deliberate one — never a 500, never an error in the server's log — and
// every request is answered (a hung one fails the test's timeout).
import fc from 'fast-check';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import { signed } from '../server/helpers.js';
import { type SecurityServer, startSecurityServer } from './helpers.js';

const db = useDatabase();
const RUNS = 120;
const errors: string[] = [];
let nudge: SecurityServer;

beforeAll(async () => {
  const log = pino(
    { level: 'warn' },
    {
      write(line: string) {
        const entry = JSON.parse(line) as {
          level: number;
          msg: string;
          err?: { message?: string };
        };
        if (entry.level >= 50) errors.push(`${entry.msg}: ${entry.err?.message ?? ''}`);
      },
    },
  );
  nudge = await startSecurityServer(
    db,
    (config) => {
      config.ingest.max_body_bytes = 64 * 1024;
      config.server.rate_limit.per_minute = 1_000_000;
    },
    log,
  );
});

/** Strings with what breaks naive code: NUL, lone surrogates, quotes, PostgREST syntax. */
const nasty = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom(
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udfffy',
    '"',
    "'",
    '\\',
    '(',
    ')',
    ',',
    '.',
    '*',
    '%',
    '%00',
    '%zz',
    'null',
    'true',
    'NaN',
    '-0',
    '1e309',
    '1e-400',
    '99999999999999999999999999999999999999',
    '2024-02-30',
    'now()-7d',
    'now()-99999999d',
    'infinity',
    '{}',
    '[]',
    'eq.',
    'not.',
    'in.(',
    ' ',
    'é',
    '🦊',
  ),
);
const field = fc.oneof(
  fc.constantFrom(
    'id',
    'email',
    'phone',
    'created_at',
    'deleted_at',
    'attributes',
    'plan',
    'mrr',
    'vip',
    'meta->tier',
    'meta->>tier',
    'meta->0',
    'tags->>0->x',
    'unknown_attr',
  ),
  nasty,
);
const op = fc.oneof(
  fc.constantFrom(
    'eq',
    'neq',
    'gt',
    'gte',
    'lt',
    'lte',
    'like',
    'ilike',
    'in',
    'is',
    'fts',
    'plfts',
    'phfts',
    'wfts',
    'fts(english)',
    'fts(nope)',
    'cs',
    'match',
    'not.eq',
    'not.in',
    'not.is',
  ),
  nasty,
);
const value = fc.oneof(
  nasty,
  fc.integer().map(String),
  fc.double().map(String),
  fc.array(nasty, { maxLength: 3 }).map((items) => `(${items.join(',')})`),
);
const filter = fc.tuple(field, op, value).map(([f, o, v]) => `${f}.${o}.${v}`);
const group: fc.Arbitrary<string> = fc.letrec<{ group: string }>((tie) => ({
  group: fc
    .tuple(
      fc.constantFrom('or', 'and', 'not.or', 'not.and'),
      fc.array(fc.oneof({ depthSize: 'small' }, filter, tie('group')), { maxLength: 3 }),
    )
    .map(([kind, items]) => `${kind}(${items.join(',')})`),
})).group;
const param: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(
    field,
    fc.tuple(op, value).map(([o, v]) => `${o}.${v}`),
  ),
  fc.tuple(
    fc.constantFrom('or', 'and', 'not.or', 'not.and'),
    group.map((g) => g.replace(/^[a-z.]+/, '')),
  ),
  fc.tuple(
    fc.constantFrom('order', 'select', 'limit', 'offset'),
    fc.oneof(
      nasty,
      fc
        .array(fc.tuple(field, fc.constantFrom('', '.asc', '.desc.nullslast', '.x')), {
          maxLength: 3,
        })
        .map((items) => items.map(([f, d]) => f + d).join(',')),
      fc.integer().map(String),
    ),
  ),
  fc.tuple(nasty, nasty),
);
/** Percent-encodes the UTF-8 of a string (a lone surrogate becomes U+FFFD, as a client sends it). */
const encode = (text: string) =>
  [...Buffer.from(text, 'utf8')]
    .map((byte) =>
      /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).padStart(2, '0')}`,
    )
    .join('');
const queryString = fc
  .tuple(
    fc.array(param, { maxLength: 5 }),
    fc.constantFrom('', '&%zz=1', '&a=%ED%A0%80', '&=', '&&', '&x'),
  )
  .map(([params, raw]) => params.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&') + raw);
/** Header values a client can send (visible ASCII and spaces). */
const headerValue = fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, ''));
const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v).slice(0, -1)),
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', ' ', '{', '[', '"\\u0000"', '{"a":"\\ud800"}', '1e999', '{"a":1}{', 'null'),
  fc.integer({ min: 1, max: 4000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
  fc
    .integer({ min: 200, max: 20_000 })
    .map((n) => `{"event":"deep","email":"a@b.co","p":${'['.repeat(n)}${']'.repeat(n)}}`),
);
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  nasty,
  fc.dictionary(nasty, fc.oneof(nasty, fc.double(), fc.boolean(), fc.constant(null)), {
    maxKeys: 3,
  }),
);

function assertAnswered(what: string, response: Response, text: string) {
  if (response.status >= 500) {
    throw new Error(`${what} → ${response.status} ${text}`);
  }
  if (response.status >= 400) {
    const body = JSON.parse(text) as { error?: unknown; detail?: unknown };
    if (typeof body.error !== 'string' || typeof body.detail !== 'string') {
      throw new Error(`${what} → ${response.status} without { error, detail }: ${text}`);
    }
  }
}

/** Answers by route family and status class, to show the runs reached past validation. */
const seen = new Map<string, Set<string>>();

async function send(path: string, init: RequestInit) {
  const response = await nudge.request(path, init);
  const family = path.startsWith('/ingest') ? 'ingest' : `${init.method ?? 'GET'} v1`;
  if (!seen.has(family)) seen.set(family, new Set());
  seen.get(family)!.add(`${String(response.status)[0]}xx`);
  const text = await response.text();
  assertAnswered(
    `${init.method ?? 'GET'} ${path} ${String(init.body ?? '').slice(0, 300)}`,
    response,
    text,
  );
  return response.status;
}

describe('POST /ingest', () => {
  const supabaseBody = fc
    .record(
      {
        type: fc.oneof(fc.constantFrom('INSERT', 'UPDATE', 'DELETE'), nasty),
        table: nasty,
        schema: nasty,
        record: fc.oneof(
          fc.constant(null),
          fc.dictionary(nasty, anyValue, { maxKeys: 4 }),
          anyValue,
        ),
        old_record: fc.oneof(fc.constant(null), fc.dictionary(nasty, anyValue, { maxKeys: 3 })),
      },
      { requiredKeys: [] },
    )
    .map((b) => JSON.stringify(b));
  const eventBody = fc
    .record(
      {
        event: fc.oneof(nasty, fc.string({ maxLength: 300 })),
        occurred_at: fc.oneof(
          nasty,
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        ),
        email: nasty,
        total: anyValue,
      },
      { requiredKeys: ['event'] },
    )
    .map((b) => JSON.stringify(b));
  const captureBody = fc
    .record(
      {
        schema: nasty,
        table: nasty,
        operation: fc.oneof(fc.constantFrom('insert', 'update', 'delete'), nasty),
        new_rows: fc.oneof(
          fc.array(fc.dictionary(nasty, anyValue, { maxKeys: 3 }), { maxLength: 3 }),
          anyValue,
        ),
        old_rows: fc.oneof(fc.constant(null), fc.array(anyValue, { maxLength: 2 })),
        captured_at: fc.oneof(nasty, fc.constant(new Date().toISOString())),
      },
      { requiredKeys: [] },
    )
    .map((b) => JSON.stringify(b));
  const body = fc.oneof(jsonish, supabaseBody, eventBody, captureBody);

  it('answers bodies sent with the shared secret deliberately', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.option(headerValue), async (text, idempotencyKey) => {
        const headers: Record<string, string> = {
          'x-nudge-secret': nudge.ingestSecret,
          'content-type': 'application/json',
        };
        if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
        await send('/ingest', { method: 'POST', headers, body: text });
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('answers signed bodies, and forged, partial or stale signatures, deliberately', async () => {
    const secret = nudge.server.secrets.signing[0]!;
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.record(
          {
            'webhook-id': headerValue,
            'webhook-timestamp': fc.oneof(headerValue, fc.integer().map(String)),
            'webhook-signature': fc.oneof(headerValue, fc.constant('v1,AAAA'), fc.constant('v1,')),
            authorization: headerValue,
            'x-nudge-secret': headerValue,
            'content-type': headerValue,
          },
          { requiredKeys: [] },
        ),
        fc.boolean(),
        async (text, forged, sign) => {
          const headers = sign ? signed(secret, text) : forged;
          const status = await send('/ingest', { method: 'POST', headers, body: text });
          if (!sign) expect(status).toBe(401);
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });
});

describe('/v1', () => {
  const auth = () => ({ authorization: `Bearer ${nudge.writeKey}` });

  it('answers random queries and PostgREST-style filters deliberately', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/v1/contacts', '/v1/lists/fuzz/contacts'),
        // Well-formed queries too, often enough that a run always has reads that pass.
        fc.oneof(
          queryString,
          fc.constantFrom('', 'limit=5', 'select=id,email&order=created_at.desc'),
        ),
        fc.record(
          {
            range: fc.oneof(headerValue, fc.constant('0-24'), fc.constant('5-1')),
            prefer: fc.oneof(headerValue, fc.constant('count=exact')),
            accept: headerValue,
          },
          { requiredKeys: [] },
        ),
        async (path, query, headers) => {
          await send(`${path}?${query}`, { headers: { ...headers, ...auth() } });
        },
      ),
      { numRuns: RUNS * 3 },
    );
  });

  it('answers random bodies, refs and filters on every write deliberately', async () => {
    const contactBody = fc
      .record(
        {
          email: nasty,
          phone: nasty,
          external_id: nasty,
          auth_user_id: nasty,
          attributes: fc.oneof(fc.dictionary(field, anyValue, { maxKeys: 4 }), anyValue),
        },
        { requiredKeys: [] },
      )
      .map((b) => JSON.stringify(b));
    const eventBody = fc
      .record(
        {
          email: nasty,
          contact_id: nasty,
          event: nasty,
          properties: anyValue,
          occurred_at: nasty,
          idempotency_key: nasty,
        },
        { requiredKeys: [] },
      )
      .map((b) => JSON.stringify(b));
    const listBody = fc
      .record(
        {
          name: nasty,
          query: queryString,
          ids: fc.array(nasty, { maxLength: 3 }),
          emails: fc.array(nasty, { maxLength: 3 }),
        },
        { requiredKeys: [] },
      )
      .map((b) => JSON.stringify(b));
    const request = fc.oneof(
      fc.tuple(fc.constant('POST'), fc.constant('/v1/contacts'), fc.oneof(contactBody, jsonish)),
      fc.tuple(fc.constant('POST'), fc.constant('/v1/events'), fc.oneof(eventBody, jsonish)),
      fc.tuple(fc.constant('POST'), fc.constant('/v1/lists'), fc.oneof(listBody, jsonish)),
      fc.tuple(
        fc.constantFrom('POST', 'DELETE'),
        queryString.map((q) => `/v1/lists/fuzz/contacts?${q}`),
        fc.oneof(listBody, jsonish, fc.constant('')),
      ),
      fc.tuple(
        fc.constantFrom('GET', 'DELETE'),
        nasty.map((ref) => `/v1/contacts/${encode(ref)}`),
        fc.constant(''),
      ),
      fc.tuple(
        fc.constant('GET'),
        fc
          .tuple(nasty, headerValue)
          .map(
            ([ref, before]) =>
              `/v1/contacts/${encode(ref)}?limit=${encode(before)}&before=${encode(before)}`,
          ),
        fc.constant(''),
      ),
      fc.tuple(
        fc.constantFrom('GET', 'DELETE'),
        nasty.map((name) => `/v1/lists/${encode(name)}`),
        fc.constant(''),
      ),
    );
    await send('/v1/lists', {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'fuzz' }),
    });
    await fc.assert(
      fc.asyncProperty(request, async ([method, path, text]) => {
        const body = method === 'GET' ? undefined : text;
        await send(path, {
          method,
          headers: { ...auth(), 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body }),
        });
      }),
      { numRuns: RUNS * 4 },
    );
  });

  it('reached past validation: reads, writes and ingest each had requests accepted and refused', () => {
    const classes = Object.fromEntries([...seen].map(([family, set]) => [family, [...set].sort()]));
    for (const family of ['ingest', 'GET v1', 'POST v1']) {
      expect(classes[family], family).toEqual(['2xx', '4xx']);
    }
  });

  it('logged no request failure', () => {
    expect([...new Set(errors)]).toEqual([]);
  });
});
