// "Adding a transport is one folder": a trigger-less transport registered by
// this test alone (a ledger table of its own instead of triggers) is
// planned, deployed, refused and torn down, and its deployment worded by the
// engine, with no edit to plan, deploy, teardown or deployed-transport — only
// what it provides through the port (capture/transports/port.ts).
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy as applyPlan } from '../../src/capture/deploy.js';
import { LossError } from '../../src/capture/loss-error.js';
import { TRANSPORTS } from '../../src/capture/transports/index.js';
import type {
  DesiredCaptures,
  Transport,
  TransportObjects,
} from '../../src/capture/transports/port.js';
import { buildCaptureObjects } from '../../src/capture/triggers.js';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { deployedTransportCheck } from '../../src/engine/wiring/deployed-transport.js';
import { makeLog } from '../../src/log.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';

// Declared as a transport declares itself from its folder (replication/objects.ts):
// its part of the desired captures, under its name, which makes the name a
// CapturedBy (and an inbox source).
declare module '../../src/capture/transports/port.js' {
  interface TransportDesired {
    /** The made-up ledger: the table it keeps. */
    ledger: { table: string };
  }
}

const db = useDatabase();
const LEDGER = 'nudge_ledger';

/** What the ledger would lose: the rows in its table no engine has read. */
async function ledgerRows(sql: typeof db.sql): Promise<number> {
  const [row] = await sql<
    { exists: boolean }[]
  >`select to_regclass(${`public.${LEDGER}`}) is not null as exists`;
  if (!row?.exists) return 0;
  const [count] = await sql.unsafe<{ n: number }[]>(
    `select count(*)::int as n from public.${LEDGER}`,
  );
  return count!.n;
}

function ledgerRefusal(rows: number) {
  return {
    refusal: (verb: 'deploy' | 'teardown' | 'export') =>
      new LossError(
        `${verb} would drop ledger ${LEDGER} holding ${rows} unread row(s)`,
        `run \`nudge ${verb} --discard-unread\` to lose them`,
        {
          transport: 'ledger',
          what: `ledger ${LEDGER} holds ${rows} unread row(s)`,
          where: 'the ledger',
          code: 'unread_ledger',
          fields: { rows },
        },
      ),
    notice: `! --discard-unread: the ledger's ${rows} row(s) will be lost`,
    discarded: `ledger ${LEDGER} held ${rows} unread row(s)`,
  };
}

const ledgerObjects: TransportObjects<{ table: string }, boolean> = {
  async read(sql) {
    const [row] = await sql<
      { exists: boolean }[]
    >`select to_regclass(${`public.${LEDGER}`}) is not null as exists`;
    return row!.exists;
  },
  plan(desired, deployed) {
    const subject = LEDGER;
    if (desired && !deployed)
      return [
        {
          action: 'create',
          kind: 'ledger',
          subject,
          sql: [`CREATE TABLE public.${LEDGER} (id int)`],
        },
      ];
    if (!desired && deployed)
      return [{ action: 'drop', kind: 'ledger', subject, sql: [`DROP TABLE public.${LEDGER}`] }];
    return deployed ? [{ action: 'unchanged', kind: 'ledger', subject, sql: [] }] : [];
  },
  kinds: ['ledger'],
  outside: [],
  commitFirst: false,
  outsideNote: '',
  async runOutside() {},
  async losses(sql, plan, options) {
    const drop = plan.items.find((item) => item.kind === 'ledger' && item.action === 'drop');
    const rows = drop ? await ledgerRows(sql) : 0;
    if (!drop || rows === 0 || options?.discarding) return undefined;
    drop.warning = { label: 'unread', text: 'dropping the ledger loses them' };
    return ledgerRefusal(rows);
  },
  teardown: {
    async find(sql) {
      if (!(await ledgerObjects.read(sql))) return { lines: [] };
      const rows = await ledgerRows(sql);
      return { lines: [`ledger ${LEDGER}`], ...(rows ? { loss: ledgerRefusal(rows) } : {}) };
    },
    async remove(sql) {
      const deployed = await ledgerObjects.read(sql);
      if (deployed) await sql.unsafe(`DROP TABLE public.${LEDGER}`);
      return { removed: deployed ? [`ledger ${LEDGER}`] : [], objects: {} };
    },
  },
  describe: (desired) => `ledger ${desired.table}`,
};

const ledger: Transport = {
  triggers: false,
  // Its name: a key of TransportDesired (declared above).
  capturedBy: 'ledger',
  objects: ledgerObjects as TransportObjects,
  capturesWith: 'its own ledger',
  async desired() {
    return ledgerDesired();
  },
};

/**
 * What the features need captured, by the ledger: the capture objects (one
 * on public.notes) as buildCaptureObjects makes them — their trigger fields
 * go unused — and the ledger's part under its name, whose presence tells
 * plan and deploy that no trigger is wanted.
 */
function ledgerDesired(): DesiredCaptures {
  const objects = buildCaptureObjects([
    { table: { schema: 'public', table: 'notes' }, operation: 'insert', by: 'seen' },
  ]);
  return Object.assign(objects, { ledger: { table: LEDGER } });
}

let cwd = '';
const registry = TRANSPORTS as Record<string, Transport>;

beforeAll(async () => {
  registry.ledger = ledger;
  await db.sql`create table public.notes (id bigserial primary key, body text)`;
  cwd = await tempProject(
    {
      // The project captures by the outbox: the ledger, deployed before, is another transport's.
      'nudge.yaml': 'capture: outbox\n',
      'nudge/features/seen.yaml':
        'name: seen\ntrigger: { table: public.notes, on: insert }\nstages: [{ name: seen, do: [{ track: { event: seen } }] }]\n',
    },
    'nudge-ledger-',
  );
});

afterAll(async () => {
  delete registry.ledger;
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

async function nudge(args: string[]) {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  const code = await run(args, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

describe('a trigger-less transport registered without editing plan, deploy or teardown', () => {
  it('deploys its own objects, recorded as captured by it, and no trigger', async () => {
    const result = await applyPlan(db.sql, ledgerDesired());
    expect(result.plan.items.filter((i) => i.kind === 'ledger')).toMatchObject([
      { action: 'create', subject: LEDGER },
    ]);
    expect(result.plan.items.some((i) => i.kind === 'capture' && i.action === 'create')).toBe(
      false,
    );
    expect(await ledgerRows(db.sql)).toBe(0);
    const [deployment] = await db.sql<{ captured_by: string }[]>`
      select objects -> 0 ->> 'captured_by' as captured_by from nudge.deployments order by id desc limit 1`;
    expect(deployment!.captured_by).toBe('ledger');
  });

  it('is worded by name by an engine started with another transport', async () => {
    const lines: string[] = [];
    await deployedTransportCheck(
      db.sql,
      'trigger',
      'outbox',
      makeLog({ write: (line) => lines.push(line) }),
    )();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      'deployed with capture: ledger, but this engine started with capture: outbox',
    );
  });

  it('has what dropping it would lose planned, refused and caught as a LossError', async () => {
    await db.sql.unsafe(`insert into public.${LEDGER} values (1), (2)`);
    const planned = await nudge(['plan']);
    expect(planned.code).toBe(0);
    expect(planned.out).toMatch(/- ledger +nudge_ledger/);
    expect(planned.out).toContain('dropping the ledger loses them');

    const deployed = await nudge(['deploy', '--yes']);
    expect(deployed.code).toBe(1);
    expect(deployed.err).toContain('deploy would drop ledger nudge_ledger holding 2 unread row(s)');
    expect(await ledgerRows(db.sql)).toBe(2);

    // Inside deploy's lock, as nudge dev and the dashboard meet it.
    const refused = applyPlan(db.sql, Object.assign([], {}) as unknown as DesiredCaptures);
    await expect(refused).rejects.toBeInstanceOf(LossError);
    await expect(refused).rejects.toMatchObject({
      loss: { transport: 'ledger', code: 'unread_ledger' },
    });
  });

  it('is torn down through the port, refused until its loss is discarded', async () => {
    const refused = await nudge(['teardown', '--yes']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(
      'teardown would drop ledger nudge_ledger holding 2 unread row(s)',
    );
    expect(await ledgerObjects.read(db.sql)).toBe(true);

    const removed = await nudge(['teardown', '--yes', '--discard-unread']);
    expect(removed.code).toBe(0);
    expect(removed.out).toContain('  - ledger nudge_ledger');
    expect(removed.out).toContain("! --discard-unread: the ledger's 2 row(s) will be lost");
    expect(removed.out).toMatch(/Removed .*ledger nudge_ledger/);
    expect(await ledgerObjects.read(db.sql)).toBe(false);
  });
});
