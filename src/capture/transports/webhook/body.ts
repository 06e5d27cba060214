// The webhook transport's trigger bodies (capture: webhook): each captured
// batch is signed (Standard Webhooks, HMAC with pgcrypto) and queued with
// pg_net's net.http_post to Nudge's POST /ingest, and recorded in
// nudge.webhook_deliveries in the same transaction; delivery.ts has the
// wire format and the reconciler that settles those records.
import { ident, literal } from '../../../db/quote.js';
import { NudgeError } from '../../../errors.js';
import {
  ERROR_VARIABLES,
  GET_ERROR,
  recordFailure,
  recordRowFailure,
  rowSides,
} from '../fallback.js';
import type { TriggerBody, TriggerBodySpec } from '../port.js';

/** Rows per request: smaller than the outbox's 1000 so a batch fits ingest.max_body_bytes. */
export const WEBHOOK_CHUNK_ROWS = 100;

export interface WebhookTarget {
  /** Nudge's POST /ingest, as the database server can reach it. */
  url: string;
  timeoutMs: number;
  /** Schema of the pgcrypto extension (hmac), found at plan time: `extensions` on Supabase. */
  pgcryptoSchema: string;
}

/** The trigger bodies of capture: webhook. Everything inlined is part of the marker hash. */
export function webhookBody(target: WebhookTarget): TriggerBody {
  if (!/^https?:\/\/./i.test(target.url)) {
    throw new NudgeError(
      `capture.webhook.url must be an http(s) URL (got ${JSON.stringify(target.url)})`,
    );
  }
  if (!Number.isInteger(target.timeoutMs) || target.timeoutMs <= 0) {
    throw new NudgeError('capture.webhook.timeout_ms must be a positive integer');
  }
  return {
    label: 'webhook via pg_net',
    body: (spec) => (spec.level === 'row' ? rowBody(spec, target) : statementBody(spec, target)),
  };
}

const DECLARATIONS = `${ERROR_VARIABLES}
  nudge_key bytea;
  nudge_payload jsonb;
  nudge_webhook_id text;
  nudge_timestamp text;
  nudge_request_id bigint;`;

/**
 * Signs nudge_payload per Standard Webhooks (HMAC-SHA256 over
 * `id.timestamp.body`, base64) and queues it. pg_net sends
 * convert_to(body::text, 'UTF8'), and jsonb's text form is deterministic, so
 * the signed bytes are the sent bytes. The timestamp is taken at call time;
 * a request that waits in pg_net's queue past the receiver's 5-minute window
 * gets a 401 and comes back through reconcile.
 */
function send(target: WebhookTarget): string {
  const url = literal(target.url);
  const hmac = `${ident(target.pgcryptoSchema)}.hmac`;
  return `IF nudge_key IS NULL THEN
      SELECT s.signing_key INTO nudge_key FROM nudge.webhook_signing AS s;
      IF nudge_key IS NULL THEN
        RAISE EXCEPTION 'nudge: no webhook signing key in nudge.webhook_signing'
          USING HINT = 'nudge deploy installs it';
      END IF;
    END IF;
    nudge_webhook_id := 'msg_' || replace(gen_random_uuid()::text, '-', '');
    nudge_timestamp := floor(extract(epoch FROM clock_timestamp()))::bigint::text;
    nudge_request_id := net.http_post(
      url := ${url},
      body := nudge_payload,
      params := '{}'::jsonb,
      headers := jsonb_build_object(
        'Content-Type', 'application/json',
        'webhook-id', nudge_webhook_id,
        'webhook-timestamp', nudge_timestamp,
        'webhook-signature', 'v1,' || encode(${hmac}(
          convert_to(nudge_webhook_id || '.' || nudge_timestamp || '.' || nudge_payload::text, 'UTF8'),
          nudge_key, 'sha256'), 'base64')),
      timeout_milliseconds := ${target.timeoutMs});
    INSERT INTO nudge.webhook_deliveries (request_id, webhook_id, url, payload)
    VALUES (nudge_request_id, nudge_webhook_id, ${url}, nudge_payload);`;
}

function header(spec: TriggerBodySpec) {
  const fields = `'schema', ${literal(spec.table.schema)}::text, 'table', ${literal(spec.table.table)}::text, 'operation', ${literal(spec.operation)}::text`;
  const enrich = (row: string) =>
    `nudge.enrich(${literal(spec.table.schema)}, ${literal(spec.table.table)}, ${row})::jsonb`;
  return { fields, enrich };
}

/** INSERT / DELETE: one request per chunk of the statement's rows, in order. */
function statementBody(spec: TriggerBodySpec, target: WebhookTarget): string {
  const { fields, enrich } = header(spec);
  const isInsert = spec.operation === 'insert';
  const rows = `jsonb_agg(c.r ORDER BY c.i)`;
  return `
${DECLARATIONS}
BEGIN
  FOR nudge_payload IN
    SELECT jsonb_build_object(${fields},
             'new_rows', ${isInsert ? rows : 'NULL::jsonb'},
             'old_rows', ${isInsert ? 'NULL::jsonb' : rows},
             'enrichment', ${spec.enrich ? 'jsonb_agg(c.e ORDER BY c.i)' : 'NULL::jsonb'},
             'captured_at', now())
      FROM (SELECT ${spec.json('n', { jsonb: true, present: true })} AS r, ${spec.enrich ? enrich(spec.json('n', { present: true })) : 'NULL::jsonb'} AS e,
                   row_number() OVER () - 1 AS i
              FROM ${spec.rows} AS n${spec.filter ? `\n             WHERE ${spec.filter}` : ''}) AS c
     GROUP BY c.i / ${WEBHOOK_CHUNK_ROWS}
     ORDER BY c.i / ${WEBHOOK_CHUNK_ROWS}
  LOOP
    ${send(target)}
  END LOOP;
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  ${GET_ERROR}
  ${recordFailure(spec)}
  RETURN NULL;
END
`;
}

/**
 * UPDATE (and INSERT, DELETE on a partitioned table): one request per row,
 * pairing an update's row before and after exactly.
 */
function rowBody(spec: TriggerBodySpec, target: WebhookTarget): string {
  const { fields, enrich } = header(spec);
  const sides = rowSides(spec.operation);
  const rows = (alias: 'NEW' | 'OLD') =>
    sides[alias]
      ? `jsonb_build_array(${spec.json(alias, { jsonb: true, present: true })})`
      : 'NULL::jsonb';
  const enriched = spec.operation === 'delete' ? 'OLD' : 'NEW';
  const build = `nudge_payload := jsonb_build_object(${fields},
      'new_rows', ${rows('NEW')},
      'old_rows', ${rows('OLD')},
      'enrichment', ${spec.enrich ? `jsonb_build_array(${enrich(spec.json(enriched, { present: true }))})` : 'NULL::jsonb'},
      'captured_at', now());
    ${send(target)}`;
  return `
${DECLARATIONS}
BEGIN
  ${spec.filter ? `IF ${spec.filter} THEN\n    ${build}\n  END IF;` : build}
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  ${GET_ERROR}
  ${recordRowFailure(spec)}
  RETURN NULL;
END
`;
}
