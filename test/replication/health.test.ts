// A slot nobody consumes holds back WAL: nudge doctor, GET /v1/overview and
// GET /metrics report how much, and warn past capture.replication.warn_retained_mb.
import { rm } from 'node:fs/promises';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicationChecks } from '../../src/capture/transports/replication/doctor.js';
import { type LoadedConfig, loadConfig } from '../../src/config/load.js';
import { overviewRoutes } from '../../src/server/api/overview.js';
import { makeEngineGauges } from '../../src/server/engine-gauges.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import { dropSlotAfterAll, migrated, replicationProject, slotFor } from './helpers.js';

const db = useDatabase();
dropSlotAfterAll(db);
let cwd: string;
let project: LoadedConfig;

beforeAll(async () => {
  await db.sql`create table public.events (id bigserial primary key, body text)`;
  cwd = await replicationProject(db, '', {
    seen: `name: seen
trigger: { table: public.events, on: insert }
stages:
  - name: seen
    do: [{ track: { event: seen } }]
`,
  });
  await migrated(db);
});

afterAll(async () => {
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

async function lines(config: LoadedConfig) {
  const said: string[] = [];
  await replicationChecks(db.sql, config, (outcome, label, message) =>
    said.push(`${outcome} ${label}: ${message}`),
  );
  return said;
}

describe('slot retention', () => {
  it('is reported by nudge doctor, and warned about past the limit', async () => {
    project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
    // Nobody consumes the slot: writes pile up behind it.
    await db.sql`insert into public.events (body) select repeat('x', 500) from generate_series(1, 4000)`;
    // The test server commits without waiting for the flush (synchronous_commit
    // off), and decoding reads flushed WAL only: doctor waits 2 s for it, then
    // says "up to N MB … (not counted: its WAL was not flushed …)" instead of
    // counting, which a busy machine can reach.
    const [written] = await db.sql<
      { lsn: string }[]
    >`select pg_current_wal_insert_lsn()::text as lsn`;
    await waitFor(async () => {
      const [row] = await db.sql<{ flushed: boolean }[]>`
        select pg_current_wal_flush_lsn() >= ${written!.lsn}::pg_lsn as flushed`;
      return row!.flushed || undefined;
    }, 'the WAL of the writes to be flushed');
    const [waiting, unbounded] = await lines(project);
    // The test server sets no max_slot_wal_keep_size: named as a warning of its own.
    expect(unbounded).toMatch(/^warn Replication: max_slot_wal_keep_size is unlimited/);
    // Below the limit, but nothing streams and changes wait: a warning, not ✓.
    expect(waiting).toMatch(
      new RegExp(
        `^warn Replication: slot ${slotFor(db)} not streaming \\(no engine is running\\): retains \\d+\\.\\d MB of WAL, .*; no engine is reading it: 4000 changes waiting$`,
      ),
    );
    const strict = {
      ...project,
      config: {
        ...project.config,
        capture: {
          ...project.config.capture,
          replication: { ...project.config.capture.replication, warn_retained_mb: 0.5 },
        },
      },
    };
    const [warn] = await lines(strict);
    expect(warn).toMatch(/^warn Replication: .* over capture\.replication\.warn_retained_mb/);
    // Read to the end (as an engine would acknowledge), with other WAL since: ✓ again.
    await db.sql`select pg_replication_slot_advance(${slotFor(db)}, pg_current_wal_lsn())`;
    await db.sql`create table public.other (id int)`;
    await db.sql`insert into public.other values (1)`;
    const [ok] = await lines(project);
    expect(ok).toMatch(
      new RegExp(
        `^ok Replication: slot ${slotFor(db)} not streaming \\(no engine is running\\): retains [\\d.]+ [kM]?B of WAL`,
      ),
    );
  });

  it('is in GET /v1/overview', async () => {
    // The test above read the slot to the end: WAL of its own to hold back,
    // all of it retained whatever the slot's restart position did before.
    const [before] = await db.sql<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
    await db.sql`insert into public.events (body) select repeat('x', 500) from generate_series(1, 8000)`;
    const [written] = await db.sql<{ bytes: number }[]>`
      select pg_wal_lsn_diff(pg_current_wal_lsn(), ${before!.lsn}::pg_lsn)::float8 as bytes`;
    const api = overviewRoutes({
      sql: db.sql,
      source: db.sql,
      sourceUrl: db.url,
      project,
      features: [],
      store: 'test',
    });
    const body = (await (await api.request('/')).json()) as {
      transport: string;
      replication: { slot: string; exists: boolean; retained_bytes: number; over_limit: boolean };
    };
    expect(body.replication).toMatchObject({ slot: slotFor(db), exists: true, over_limit: false });
    expect(written!.bytes).toBeGreaterThan(0);
    expect(body.replication.retained_bytes).toBeGreaterThanOrEqual(written!.bytes);
  });

  it('is on GET /metrics, for an alert before the disk fills', async () => {
    const [before] = await db.sql<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
    await db.sql`insert into public.events (body) select repeat('x', 500) from generate_series(1, 2000)`;
    const [written] = await db.sql<{ bytes: number }[]>`
      select pg_wal_lsn_diff(pg_current_wal_lsn(), ${before!.lsn}::pg_lsn)::float8 as bytes`;
    const registry = new Registry();
    await makeEngineGauges(registry, { sql: db.sql, source: db.sql, project, features: [] })();
    const text = await registry.metrics();
    const sample = (name: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${name}{slot="${slotFor(db)}"} `));
      return line === undefined ? undefined : Number(line.split(' ').at(-1));
    };
    expect(sample('nudge_replication_slot_exists')).toBe(1);
    expect(sample('nudge_replication_slot_active')).toBe(0);
    expect(sample('nudge_replication_slot_over_limit')).toBe(0);
    expect(sample('nudge_replication_slot_retained_bytes')).toBeGreaterThanOrEqual(written!.bytes);
    expect(sample('nudge_replication_slot_lag_bytes')).toBeGreaterThanOrEqual(written!.bytes);
    expect(text).toContain('nudge_metrics_read_ok{part="replication"} 1');
  });

  it('says nothing when capture is not replication', async () => {
    const outbox = {
      ...project,
      config: {
        ...project.config,
        capture: { ...project.config.capture, transport: 'outbox' as const },
      },
    };
    expect(await lines(outbox)).toEqual([]);
  });
});
