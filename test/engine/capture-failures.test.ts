// The running engine says when a capture trigger could not capture rows
// (src/engine/wiring/capture-failures.ts): an enrichment that raises sends
// them to nudge.failed_events while the writes commit, and the engine's log
// gets one warning naming how many, the table and operation, the latest error
// and the way out — not again for the same rows, again for new ones; nothing
// when nothing failed or the schema is not deployed; one process of several
// says it, and the one that takes over says once what is waiting; a role
// that cannot read the table is told so once, not at every look.
import { rm } from 'node:fs/promises';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FailureGroup } from '../../src/capture/failures/summary.js';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/load.js';
import { newWarning, watchCaptureFailures } from '../../src/engine/wiring/capture-failures.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { makeLog } from '../../src/log.js';
import { useDatabase } from '../harness/db.js';
import { failingEnrichment } from '../harness/failing-enrichment.js';
import { waitFor } from '../harness/wait.js';

const db = useDatabase();
let cwd: string;
let running: Running | undefined;

/** The enrichment's error, as the warning words it. */
const ERROR =
  /23514 value for domain (public\.)?account_ref violates check constraint "acc_prefix" \(in the enrichment reading public\.accounts by ref\)/;
const WAY_OUT =
  'nudge doctor names them; nudge capture retry delivers them once the cause is repaired';

/**
 * Orders whose enrichment raises (an account the domain refuses), written in
 * one transaction as an app would: each insert's capture fails, the writes
 * commit, and the rows go to nudge.failed_events.
 */
async function failingOrders(n: number): Promise<void> {
  const app = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    await app.begin(async (tx) => {
      for (let i = 0; i < n; i++)
        await tx`insert into public.orders (email, account) values (${`f${i}@x.io`}, ${`x-${i}`})`;
    });
  } finally {
    await app.end();
  }
}

/** `nudge deploy --yes` of the feature (again: nothing to change). */
async function deploy(): Promise<void> {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  expect(await run(['deploy', '--yes'], m.io), m.stderr()).toBe(0);
}

const waiting = async () => {
  const [row] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from nudge.failed_events where stage = 'capture'`;
  return row!.n;
};

/** A log whose lines about rows not captured are kept. */
function captured() {
  const lines: string[] = [];
  const log = makeLog({ write: (line) => lines.push(line) });
  return { log, said: () => lines.filter((line) => line.includes('not captured')) };
}

beforeAll(async () => {
  cwd = await failingEnrichment(db.sql, 'nudge-capture-failures-');
});

afterAll(async () => {
  await running?.stop();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

describe('rows not captured, in the engine log', () => {
  it('are said once by the process that looks, then only the new ones; another process takes over', async () => {
    const first = captured();
    const looker = watchCaptureFailures({ source: db.sql, engineUrl: db.url, log: first.log });
    const other = captured();
    const second = watchCaptureFailures({ source: db.sql, engineUrl: db.url, log: other.log });
    try {
      // Not deployed: no nudge.failed_events, nothing to say.
      await looker.look();
      await deploy();
      // Deployed, nothing failed: nothing said.
      await looker.look();
      await second.look();
      expect(first.said()).toEqual([]);

      await failingOrders(3);
      expect(await waiting()).toBe(3);
      await looker.look();
      expect(first.said()).toHaveLength(1);
      expect(first.said()[0]).toMatch(/ warn {2}3 rows not captured on public\.orders insert: /);
      expect(first.said()[0]).toMatch(ERROR);
      expect(first.said()[0]).toContain(WAY_OUT);
      expect(first.said()[0]).toContain(
        'rows=3 waiting=3 table=public.orders operation=insert sqlstate=23514',
      );
      // The same rows are not said again.
      await looker.look();
      await looker.look();
      expect(first.said()).toHaveLength(1);

      // New rows: only they are counted.
      await failingOrders(2);
      await looker.look();
      await second.look();
      expect(first.said()).toHaveLength(2);
      expect(first.said()[1]).toMatch(
        /2 rows not captured on public\.orders insert \(5 waiting in all\): 23514 /,
      );
      // The other process holds no lock: it never says anything.
      expect(other.said()).toEqual([]);

      // Delivered by a retry (removed), then one more failure: one row is new.
      await db.sql`delete from nudge.failed_events`;
      await looker.look();
      await failingOrders(1);
      await looker.look();
      expect(first.said()).toHaveLength(3);
      expect(first.said()[2]).toMatch(/1 row not captured on public\.orders insert: 23514 /);

      // The looker stops: the other takes over at its next look and says what is waiting, once.
      await looker.stop();
      await second.look();
      await second.look();
      expect(other.said()).toHaveLength(1);
      expect(other.said()[0]).toMatch(
        /nudge\.failed_events holds 1 row not captured since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, on public\.orders insert; latest error: 23514 /,
      );
      expect(other.said()[0]).toContain(WAY_OUT);
    } finally {
      await looker.stop();
      await second.stop();
    }
  });

  it('are said by the running engine while it runs: once for the rows that failed, again for new ones', async () => {
    await deploy();
    await db.sql`delete from nudge.failed_events`;
    const { log, said } = captured();
    const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
    running = await launch(project, { http: false, log, idleMs: 20, captureFailuresMs: 20 });
    // An order that goes through, and looks that found nothing.
    await db.sql`insert into public.orders (email, account) values ('a@x.io', 'acc_1')`;
    await waitFor(async () => {
      const [row] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from nudge_engine.events where name = 'order_pro'`;
      return row!.n === 1 ? true : undefined;
    }, 'the good order to be tracked');
    await looks(2);
    expect(said()).toEqual([]);

    // Three orders whose capture fails: one warning.
    await failingOrders(3);
    await waitFor(() => (said().length ? true : undefined), 'a warning about rows not captured');
    await looks(2);
    expect(said()).toHaveLength(1);
    expect(said()[0]).toMatch(/ warn {2}3 rows not captured on public\.orders insert: /);
    expect(said()[0]).toMatch(ERROR);
    expect(said()[0]).toContain(WAY_OUT);

    // Two more: a second warning, for them.
    await failingOrders(2);
    await waitFor(() => (said().length > 1 ? true : undefined), 'a second warning');
    await looks(2);
    expect(said()).toHaveLength(2);
    expect(said()[1]).toMatch(
      /2 rows not captured on public\.orders insert \(5 waiting in all\): 23514 .* — nudge doctor names them/,
    );
    await running.stop();
    running = undefined;
  });

  it('that the engine’s role cannot read are said to be unreadable, once', async () => {
    await deploy();
    const role = await db.loginRole('no_failures', 'GRANT USAGE ON SCHEMA nudge TO {role}');
    const source = postgres(role.url, { max: 1, onnotice: () => {} });
    const lines: string[] = [];
    const watch = watchCaptureFailures({
      source,
      engineUrl: db.url,
      log: makeLog({ write: (line) => lines.push(line) }),
    });
    try {
      await watch.look();
      await watch.look();
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /warn {2}cannot read nudge\.failed_events: the engine will not say when a capture trigger fails to capture rows/,
      );
    } finally {
      await watch.stop();
      await source.end();
    }
  });

  it('name each capture that grew, and the latest error among them', () => {
    const group = (table: string, operation: 'insert' | 'update', at: number): FailureGroup => ({
      schema: 'public',
      table,
      operation,
      rows: 9,
      since: new Date(0),
      latest: { at: new Date(at), sqlstate: '22012', message: 'division by zero', context: null },
    });
    const said = newWarning(
      [
        { group: group('orders', 'update', 2), added: 3 },
        { group: group('accounts', 'insert', 1), added: 2 },
      ],
      5,
    );
    expect(said.message).toBe(
      '5 rows not captured on public.orders update (3), public.accounts insert (2); latest error, on public.orders update: 22012 division by zero — nudge doctor names them; nudge capture retry delivers them once the cause is repaired',
    );
    expect(said.fields).toEqual({
      rows: 5,
      waiting: 5,
      table: 'public.orders',
      operation: 'update',
      sqlstate: '22012',
    });
  });
});

/**
 * Waits until the running engine has made `n` whole looks from now on. Each
 * look begins with one statement on the lock's own connection, which moves
 * its state_change twice (active, then idle); a look has ended once the next
 * one's statement has begun: 2n + 1 moves.
 */
async function looks(n: number): Promise<void> {
  const last = async () => {
    const [row] = await db.sql<{ at: Date | null }[]>`
      select max(state_change) as at from pg_stat_activity
       where datname = current_database() and application_name = 'nudge capture failures'`;
    return row?.at ?? undefined;
  };
  let after = (await db.sql<{ at: Date }[]>`select clock_timestamp() as at`)[0]!.at;
  for (let i = 0; i < 2 * n + 1; i++) {
    const seen = after;
    after = await waitFor(async () => {
      const at = await last();
      return at && at > seen ? at : undefined;
    }, 'the engine to look for rows not captured');
  }
}
