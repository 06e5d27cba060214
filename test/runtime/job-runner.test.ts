// The engine's protections against what a crash or a database restart leaves
// behind: action jobs locked by a process that died are freed (and only
// those), action jobs that failed without recording their attempt get it
// back, and a transaction whose connection is lost neither crashes the
// process (postgres.js writing to a closed socket) nor sends anything later.
import postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { enqueueActions } from '../../src/actions/queue.js';
import { surviveConnectionLoss } from '../../src/db/connection-loss.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { retryInterrupted, unlockDeadPools } from '../../src/engine/wiring/job-runner.js';
import { silentLog } from '../../src/log.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
});

interface Job {
  key: string;
  locked_by: string | null;
  attempts: number;
  available: boolean;
}

/** One run per key, each enqueued on its own (so each has a job of its own). */
async function enqueue(keys: string[]): Promise<void> {
  for (const key of keys) {
    await db.sql.begin((tx) =>
      enqueueActions(tx, [
        {
          key,
          feature: 'f',
          contactId: null,
          stage: 's',
          action: { kind: 'webhook', params: { url: 'http://127.0.0.1:1/x', method: 'POST' } },
          context: { contact: null },
        },
      ]),
    );
  }
}

/** The job that carries the run with this key. */
const jobOf = (key: string) => db.sql`
  select p.id from nudge_worker._private_jobs p, json_array_elements(p.payload -> 'runs') run
   where (run ->> 'id')::bigint = (select id from nudge_engine.action_runs where key = ${key})`;

async function jobs(keys: string[]): Promise<Record<string, Omit<Job, 'key'>>> {
  const rows = await db.sql<Job[]>`
    select r.key, j.locked_by, j.attempts, (j.locked_at is null and j.attempts < j.max_attempts) as available
      from nudge_engine.action_runs r
      join nudge_worker._private_jobs p
        on exists (select from json_array_elements(p.payload -> 'runs') run where (run ->> 'id')::bigint = r.id)
      join nudge_worker.jobs j on j.id = p.id
     where r.key in ${db.sql(keys)}`;
  return Object.fromEntries(rows.map(({ key, ...job }) => [key, job]));
}

/** What graphile-worker does when a pool takes a job (test set-up only). */
async function lock(key: string, pool: string, secondsAgo: number): Promise<void> {
  await db.sql`
    update nudge_worker._private_jobs set locked_by = ${pool}, attempts = attempts + 1,
           locked_at = now() - ${secondsAgo} * interval '1 second'
     where id in (${jobOf(key)})`;
}

describe('freeing what a dead process left', () => {
  it('unlocks the jobs of pools silent for longer than the window, with their attempt back', async () => {
    await enqueue(['dead-1', 'dead-2', 'alive', 'young', 'stale-beat']);
    await db.sql`insert into nudge_engine.workers (id, host, pid, heartbeat_at) values
      ('pool-alive', 'h', 1, now()), ('pool-stale', 'h', 2, now() - interval '10 seconds')`;
    await lock('dead-1', 'pool-dead', 10);
    await lock('dead-2', 'pool-dead', 10);
    await lock('alive', 'pool-alive', 10); // locked long ago, but its pool heartbeats
    await lock('young', 'pool-new', 0); // locked just now by a pool not yet heartbeating
    await lock('stale-beat', 'pool-stale', 10);

    expect(await unlockDeadPools(db.sql, 5000, silentLog)).toBe(3);
    expect(await jobs(['dead-1', 'dead-2', 'alive', 'young', 'stale-beat'])).toEqual({
      'dead-1': { locked_by: null, attempts: 0, available: true },
      'dead-2': { locked_by: null, attempts: 0, available: true },
      alive: { locked_by: 'pool-alive', attempts: 1, available: false },
      young: { locked_by: 'pool-new', attempts: 1, available: false },
      'stale-beat': { locked_by: null, attempts: 0, available: true },
    });
    const workers = await db.sql<{ id: string }[]>`select id from nudge_engine.workers order by id`;
    expect(workers.map((w) => w.id)).toEqual(['pool-alive']);
    expect(await unlockDeadPools(db.sql, 5000, silentLog)).toBe(0);
  });

  it('gives back their attempt to action jobs that failed without recording it, and drops the rest', async () => {
    await enqueue(['interrupted', 'done', 'recorded']);
    // All three were taken and failed at graphile-worker's level (attempts = max_attempts).
    for (const key of ['interrupted', 'done', 'recorded']) await lock(key, 'p', 0);
    await db.sql`update nudge_worker._private_jobs set locked_by = null, locked_at = null
                  where locked_by = 'p'`;
    // "done" succeeded; "recorded" had its attempt recorded (the next has a job of its own).
    await db.sql`update nudge_engine.action_runs set status = 'succeeded' where key = 'done'`;
    await db.sql`update nudge_engine.action_runs set status = 'retrying', attempts = 1 where key = 'recorded'`;

    expect(await retryInterrupted(db.sql, 1000, silentLog)).toBe(1);
    const [job] = await db.sql<{ attempts: number; delay_ms: number }[]>`
      select attempts, (extract(epoch from run_at - updated_at) * 1000)::int as delay_ms
        from nudge_worker.jobs where id in (${jobOf('interrupted')})`;
    expect(job).toEqual({ attempts: 0, delay_ms: 1000 });
    // The others have nothing left to run: dropped, not kept failed for good.
    expect(await jobs(['done', 'recorded'])).toEqual({});
  });
});

describe('a transaction that loses its connection', () => {
  it('rejects, writes nothing to the closed socket, and leaves the client usable', async () => {
    const client = postgres(db.url, { max: 2, onnotice: () => {} });
    const sql = surviveConnectionLoss(client);
    try {
      let ended!: () => void;
      const over = new Promise<void>((resolve) => {
        ended = resolve;
      });
      let late = 'not reached';
      const result = sql.begin(async (tx) => {
        const [me] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
        await db.sql`select pg_terminate_backend(${me!.pid})`;
        // Work that outlives the transaction (a slow HTTP call), then a query on it.
        await over;
        late = 'reached';
        await tx`select 1`;
        late = 'sent';
      });
      const error = await result.then(
        () => undefined,
        (e: unknown) => e,
      );
      ended();
      expect(String((error as { code?: unknown })?.code)).toMatch(/^(CONNECTION_CLOSED|57P01)$/);
      // Were a query or a ROLLBACK written now, postgres.js would throw from a
      // timer (an uncaught TypeError that fails this file); let timers run.
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(late).toBe('reached');
      expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
    } finally {
      await client.end({ timeout: 1 });
    }
  });
});
