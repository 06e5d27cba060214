// The floor of bench:e2e's path under capture: replication: a stand-in for
// the engine that does only what no engine delivering these webhooks can
// skip. bench/e2e.ts runs it in place of `nudge start` with
// BENCH_ENGINE=floor (nothing stored) or BENCH_ENGINE=floor-recorded (each
// batch's runs written before sending and marked after, one statement each:
// the least that keeps "effects once per key" across a crash). It reads the
// same slot with the same stream and decoder, signs each webhook as the
// engine does, sends it with the same HTTP client at the engine's action
// concurrency, and acknowledges a transaction once its webhooks are answered.
// No matching, contacts, journeys or decision log: its rate ÷ graphile-worker's
// no-op rate is what those leave room for (docs/benchmarks.md).
//
// node --import tsx bench/floor.ts <url> <sink-url> <secret> <mode>
import { createHmac } from 'node:crypto';
import postgres from 'postgres';
import { send } from '../src/actions/http.js';
import {
  decodePgoutput,
  type Lsn,
  type Relation,
} from '../src/capture/transports/replication/pgoutput.js';
import { publicationName } from '../src/capture/transports/replication/publication.js';
import { openReplicationStream } from '../src/capture/transports/replication/stream.js';
import { ACTION_CONCURRENCY } from '../src/engine/wiring/job-runner.js';
import { signingKeyOf } from '../src/webhook-secret.js';

const [url, sinkUrl, secret, mode] = process.argv.slice(2) as [string, string, string, string];
if (mode !== 'floor' && mode !== 'floor-recorded')
  throw new Error(`mode: ${mode}? floor or floor-recorded`);
const RECORDED = mode === 'floor-recorded';
const BATCH = 200;

const sql = postgres(url, { onnotice: () => {}, max: 2 });
if (RECORDED)
  await sql`create table if not exists public.floor_runs (
    key text primary key, body text not null, status text not null default 'queued')`;
const key = signingKeyOf(secret);

/** A row to deliver, and the end of the transaction that wrote it. */
interface Change {
  key: string;
  url: string;
  body: string;
  endLsn: Lsn;
}
const pending: Change[] = [];
/** Transactions whose changes are all queued, in commit order: their end LSN and how many changes remain. */
const transactions: { endLsn: Lsn; left: number }[] = [];
let current: Change[] = [];
const relations = new Map<number, Relation>();
let wake: (() => void) | undefined;

const stream = await openReplicationStream({
  url,
  slot: 'nudge',
  publications: [publicationName('nudge', 'insert')],
  onMessage(message) {
    if (message.kind === 'keepalive') {
      // Nothing in flight: the server's position is safe to acknowledge.
      if (transactions.length === 0 && pending.length === 0) stream.acknowledge(message.end);
      return;
    }
    const decoded = decodePgoutput(message.payload, relations);
    if (decoded.tag === 'relation') relations.set(decoded.relation.id, decoded.relation);
    else if (decoded.tag === 'begin') current = [];
    else if (decoded.tag === 'insert' && decoded.relation.table === 'orders') {
      const row = decoded.new;
      current.push({
        key: `floor:${row.id}`,
        url: `${sinkUrl}/orders/${row.bucket}`,
        // As the engine renders the bench's body: each "{{ new.x }}" keeps its type.
        body: JSON.stringify({
          order: Number(row.id),
          sent_at: Number(row.sent_at),
          total: Number(row.total),
        }),
        endLsn: 0n,
      });
    } else if (decoded.tag === 'commit') {
      for (const change of current) change.endLsn = decoded.endLsn;
      if (current.length === 0) {
        if (transactions.length === 0 && pending.length === 0) stream.acknowledge(decoded.endLsn);
        else transactions.push({ endLsn: decoded.endLsn, left: 0 });
      } else {
        transactions.push({ endLsn: decoded.endLsn, left: current.length });
        pending.push(...current);
      }
      current = [];
      wake?.();
    }
  },
});

async function deliver(change: Change): Promise<void> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', key)
    .update(`${change.key}.${timestamp}.${change.body}`)
    .digest('base64');
  const answer = await send({
    url: change.url,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': change.key,
      'webhook-timestamp': timestamp,
      'webhook-signature': `v1,${signature}`,
    },
    body: change.body,
    timeoutMs: 30_000,
    name: 'webhook',
  });
  if (answer.status >= 300) throw new Error(`the sink answered ${answer.status}`);
}

/** One batch: recorded (when asked), sent ACTION_CONCURRENCY at a time, marked, acknowledged. */
async function runBatch(batch: Change[]): Promise<void> {
  if (RECORDED)
    await sql`insert into public.floor_runs (key, body)
      select * from unnest(${batch.map((c) => c.key)}::text[], ${batch.map((c) => c.body)}::text[])
      on conflict (key) do nothing`;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(ACTION_CONCURRENCY, batch.length) }, async () => {
      while (next < batch.length) await deliver(batch[next++]!);
    }),
  );
  if (RECORDED)
    await sql`update public.floor_runs set status = 'succeeded'
      where key = any(${batch.map((c) => c.key)}::text[])`;
  for (const change of batch) {
    const transaction = transactions.find((t) => t.endLsn === change.endLsn);
    if (transaction) transaction.left--;
  }
  let done: Lsn | undefined;
  while (transactions[0] && transactions[0].left === 0) done = transactions.shift()!.endLsn;
  if (done !== undefined) stream.acknowledge(done);
}

console.log('floor is running');
for (;;) {
  if (pending.length === 0) await new Promise<void>((resolve) => (wake = resolve));
  wake = undefined;
  await runBatch(pending.splice(0, BATCH));
}
