// capture: replication under kill -9: `nudge worker` processes (the engine
// of `nudge start` without its HTTP server), one or two at a time, run as child processes and are killed with SIGKILL at random
// moments while concurrent writers commit and roll back (one of them now and
// then a transaction larger than the consumer's batch). Every committed row
// must reach the inbox exactly once, no rolled-back one ever, in commit
// order; and when the process holding the slot dies, the other takes it
// over. NUDGE_REPLICATION_SEED replays a run; a failure prints its seed.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { parseLsn } from '../../src/capture/transports/replication/pgoutput.js';
import { useDatabase } from '../harness/db.js';
import { type EngineProcess, seededRandom, spawnEngine, waitFor } from '../runtime/helpers.js';
import { dropSlotAfterAll, itemsProject, replicated, slotFor } from './helpers.js';

const SEED = Number(process.env.NUDGE_REPLICATION_SEED ?? Date.now() % 1_000_000);
const WRITERS = 4;
const KILLS = 5;

const db = useDatabase();
dropSlotAfterAll(db);
let cwd: string;
const engines: EngineProcess[] = [];

beforeAll(async () => {
  cwd = await itemsProject(db, ' writer int not null, seq int not null,');
});

afterAll(async () => {
  for (const engine of engines) await engine.kill();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

/** Committed rows by writer, in commit order; rolled-back ones by key. */
interface Written {
  committed: Map<number, number[]>;
  rolledBack: Set<string>;
}

function startWriters(random: () => number, stop: () => boolean): Promise<Written> {
  const written: Written = { committed: new Map(), rolledBack: new Set() };
  return Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      const mine: number[] = [];
      written.committed.set(writer, mine);
      let seq = 0;
      while (!stop()) {
        // Now and then a transaction larger than the consumer's batch (2,000),
        // stored in parts before its commit is acknowledged: a kill may fall
        // between two of them.
        const size =
          writer === 0 && random() < 0.02
            ? 2_001 + Math.floor(random() * 1_000)
            : 1 + Math.floor(random() * 40);
        const seqs = Array.from({ length: size }, () => seq++);
        const rollback = random() < 0.1;
        await db.sql
          .begin(async (tx) => {
            await tx`insert into public.items (writer, seq, customer)
                     select ${writer}, s, 'c' || (s % 7) from unnest(${seqs}::int[]) s`;
            if (random() < 0.3) await tx`select pg_sleep(${random() / 50})`;
            if (rollback) throw new Error('roll back');
          })
          .then(
            () => mine.push(...seqs),
            (error: Error) => {
              if (error.message !== 'roll back') throw error;
              for (const s of seqs) written.rolledBack.add(`${writer}:${s}`);
            },
          );
        await new Promise((resolve) => setTimeout(resolve, 10 + random() * 50));
      }
    }),
  ).then(() => written);
}

describe('capture: replication, engine killed with SIGKILL while rows are written', () => {
  it('stores every committed row once, in commit order, none rolled back, across kills and a takeover', async () => {
    onTestFailed(() =>
      console.error(`replication kill test: replay with NUDGE_REPLICATION_SEED=${SEED}`),
    );
    const random = seededRandom(SEED);
    const env = { DATABASE_URL: db.url, NUDGE_DEAD_WORKER_MS: '1500' };
    let writing = true;
    const writers = startWriters(random, () => !writing);
    try {
      // Kills at random moments: of a lone `nudge start`, and of one of two
      // processes (start and worker) so the other must take the slot over.
      for (let k = 0; k < KILLS; k++) {
        const pair = k % 2 === 1;
        const running = [
          spawnEngine(cwd, env, 'worker'),
          ...(pair ? [spawnEngine(cwd, env, 'worker')] : []),
        ];
        engines.push(...running);
        const before = (await replicated(db.sql)).length;
        if (k % 3 === 0) {
          // Kill during start-up, before it has stored anything.
          await new Promise((resolve) => setTimeout(resolve, random() * 1500));
        } else {
          await waitFor(
            async () => ((await replicated(db.sql)).length > before ? true : undefined),
            () =>
              `kill ${k}: rows stored by the new process\n${running.map((e) => e.output()).join('\n')}`,
            30_000,
          );
          await new Promise((resolve) => setTimeout(resolve, random() * 1000));
        }
        const victim = running[Math.floor(random() * running.length)]!;
        await victim.kill();
        if (pair) {
          // The survivor leads within seconds: rows keep arriving.
          const survivor = running.find((e) => e !== victim)!;
          const now = (await replicated(db.sql)).length;
          await waitFor(
            async () => ((await replicated(db.sql)).length > now ? true : undefined),
            () => `kill ${k}: the surviving process took the slot over\n${survivor.output()}`,
            20_000,
          );
          await survivor.kill();
        }
      }
    } finally {
      writing = false;
    }
    const written = await writers;
    const last = spawnEngine(cwd, env, 'worker');
    engines.push(last);
    const expected = [...written.committed.values()].reduce((n, seqs) => n + seqs.length, 0);
    const rows = await waitFor(
      async () => {
        const rows = await replicated(db.sql);
        return rows.length >= expected ? rows : undefined;
      },
      () => `all ${expected} committed rows in the inbox\n${last.output()}`,
      120_000,
    );
    // Once each: no more rows than committed ones, none rolled back.
    expect(rows.length).toBe(expected);
    // The capture copies what the feature reads (id, customer): the row's
    // writer and place come from the table, where rolled-back rows are not.
    const table = new Map(
      (
        await db.sql<{ id: string; writer: number; seq: number }[]>`
        select id::text, writer, seq from public.items`
      ).map((r) => [r.id, r]),
    );
    const keys = rows.map((r) => {
      const row = table.get(String(r.new_row!.id));
      return row ? `${row.writer}:${row.seq}` : `missing id ${r.new_row!.id}`;
    });
    expect(new Set(keys).size).toBe(expected);
    expect(keys.filter((key) => written.rolledBack.has(key) || key.startsWith('missing'))).toEqual(
      [],
    );
    // Commit order: inbox order is (commit LSN, place in the transaction) order,
    // and each writer's rows come in the order it committed them.
    const positions = rows.map((r) => {
      const [lsn, n] = r.source_key.split(':');
      return [parseLsn(lsn!), Number(n)] as const;
    });
    for (let i = 1; i < positions.length; i++) {
      const [a, m] = positions[i - 1]!;
      const [b, n] = positions[i]!;
      expect(a < b || (a === b && m < n)).toBe(true);
    }
    for (const [writer, seqs] of written.committed) {
      const stored = keys
        .filter((key) => key.startsWith(`${writer}:`))
        .map((key) => Number(key.split(':')[1]));
      expect(stored).toEqual(seqs);
    }
    expect(written.rolledBack.size).toBeGreaterThan(0);
    console.info(
      `replication kill test (seed ${SEED}): ${expected} rows committed, ${written.rolledBack.size} rolled back, ${KILLS} kills`,
    );
    // The slot is acknowledged up to what was stored.
    await waitFor(async () => {
      const [slot] = await db.sql<{ lag: number }[]>`
        select pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 as lag
          from pg_replication_slots where slot_name = ${slotFor(db)}`;
      return slot && slot.lag < 1024 * 1024 ? true : undefined;
    }, 'the slot acknowledged');
  }, 300_000);
});
