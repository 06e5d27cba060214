// A stand-in for pg_net, which cannot be installed here: schema `net` with
// net.http_post of pg_net's signature queuing into net.http_request_queue, the
// net._http_response table, and a forwarder playing pg_net's background worker.
//
// What it keeps of the real contract: http_post only inserts a row, so the
// request exists only if the caller's transaction commits (the forwarder, on
// its own connection, cannot see it before); the body sent is
// convert_to(body::text, 'UTF8'); the Content-Type must be application/json;
// each request is sent once, never retried; the outcome (status, body, a
// timeout, a connection error) lands in net._http_response under the request
// id. Unlike the real worker, the forwarder runs when a test calls drain(), so
// tests wait on it instead of sleeping.
import type postgres from 'postgres';

const SCHEMA = `
CREATE SCHEMA IF NOT EXISTS net;
CREATE UNLOGGED TABLE IF NOT EXISTS net.http_request_queue (
  id bigserial PRIMARY KEY,
  method text NOT NULL,
  url text NOT NULL,
  headers jsonb NOT NULL,
  body bytea,
  timeout_milliseconds integer NOT NULL
);
CREATE UNLOGGED TABLE IF NOT EXISTS net._http_response (
  id bigint,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out boolean,
  error_msg text,
  created timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION net.http_post(
  url text,
  body jsonb DEFAULT '{}'::jsonb,
  params jsonb DEFAULT '{}'::jsonb,
  headers jsonb DEFAULT '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint
LANGUAGE plpgsql
AS $stand_in$
DECLARE
  declared_type text;
  queued_id bigint;
BEGIN
  SELECT h.value INTO declared_type
    FROM jsonb_each_text(coalesce(headers, '{}'::jsonb)) AS h
   WHERE lower(h.key) = 'content-type';
  IF declared_type IS NULL THEN
    headers := coalesce(headers, '{}'::jsonb) || '{"Content-Type": "application/json"}'::jsonb;
  ELSIF declared_type <> 'application/json' THEN
    RAISE EXCEPTION 'Content-Type header must be "application/json"';
  END IF;
  IF body IS NULL THEN
    RAISE EXCEPTION 'body must not be null';
  END IF;
  IF params IS NOT NULL AND params <> '{}'::jsonb THEN
    RAISE EXCEPTION 'the pg_net stand-in does not encode params';
  END IF;
  INSERT INTO net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  VALUES ('POST', url, headers, convert_to(body::text, 'UTF8'), timeout_milliseconds)
  RETURNING id INTO queued_id;
  RETURN queued_id;
END
$stand_in$;
`;

/** pg_net's worker takes this many requests per pass (pg_net.batch_size). */
const BATCH_SIZE = 200;

export async function installPgNetStandIn(sql: postgres.Sql): Promise<void> {
  await sql.unsafe(SCHEMA);
}

export interface QueuedRequest {
  id: number;
  url: string;
  headers: Record<string, string>;
  body: Buffer;
  timeout_milliseconds: number;
}

export interface Forwarder {
  /** Sends every committed queued request, records the outcomes; resolves with how many were sent. */
  drain(): Promise<number>;
  /** Requests sent so far, as sent. */
  sent: QueuedRequest[];
}

export function makeForwarder(sql: postgres.Sql): Forwarder {
  const sent: QueuedRequest[] = [];

  async function deliver(request: QueuedRequest): Promise<void> {
    let outcome: {
      status: number | null;
      type: string | null;
      content: string | null;
      timedOut: boolean;
      error: string | null;
    };
    try {
      const response = await fetch(request.url, {
        method: 'POST',
        headers: request.headers,
        body: new Uint8Array(request.body),
        signal: AbortSignal.timeout(request.timeout_milliseconds),
      });
      outcome = {
        status: response.status,
        type: response.headers.get('content-type'),
        content: await response.text(),
        timedOut: false,
        error: null,
      };
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      outcome = {
        status: null,
        type: null,
        content: null,
        timedOut,
        error: timedOut
          ? `Timeout of ${request.timeout_milliseconds} ms reached`
          : String((error as Error & { cause?: Error }).cause?.message ?? error),
      };
    }
    await sql`
      insert into net._http_response (id, status_code, content_type, content, timed_out, error_msg)
      values (${request.id}, ${outcome.status}, ${outcome.type}, ${outcome.content},
              ${outcome.timedOut}, ${outcome.error})`;
  }

  return {
    sent,
    async drain() {
      let total = 0;
      for (;;) {
        // Taking a request off the queue and sending it are not atomic, as in
        // pg_net: a crash in between loses the request (the queue is unlogged
        // anyway). Nudge's reconcile is what finds such losses.
        const batch = await sql<QueuedRequest[]>`
          delete from net.http_request_queue
           where id in (select id from net.http_request_queue order by id
                         limit ${BATCH_SIZE} for update skip locked)
          returning id::int as id, url, headers, body, timeout_milliseconds`;
        if (batch.length === 0) return total;
        batch.sort((a, b) => a.id - b.id);
        sent.push(...batch);
        await Promise.all(batch.map(deliver));
        total += batch.length;
      }
    },
  };
}
