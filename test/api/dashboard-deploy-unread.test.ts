// The dashboard's Deploy when capture switched away from replication and the
// slot still holds changes no engine has read: GET /v1/plan says so on the
// slot's item; POST /v1/deploy refuses with 409 unread_slot naming the slot
// and what it holds, changing nothing; a bad discardUnread is a 422 naming
// it; with discardUnread: true the deploy goes through and the slot is gone.
// The typed client throws UnreadSlotApiError with the slots.
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CapturePlan,
  type DeployUnreadRefusal,
  Nudge,
  UnreadSlotApiError,
} from '../../src/client/index.js';
import { loadConfig } from '../../src/config/load.js';
import { createApiKey } from '../../src/server/api/keys.js';
import { makeServer, type NudgeServer } from '../../src/server/index.js';
import { useDatabase } from '../harness/db.js';
import { ordersFeature, slotFor, useCapture, useOrdersProject } from '../replication/helpers.js';
import { requestWith } from './helpers.js';

const db = useDatabase();
const project = useOrdersProject(db, ordersFeature('insert'));
let server: NudgeServer;
let key: string;

const call = (method: string, url: string, body?: unknown) =>
  requestWith(server, key, method, url, body);

const { slotExists } = project;

const deployments = async () =>
  (await db.sql<{ n: number }[]>`select count(*)::int as n from nudge.deployments`)[0]!.n;

beforeAll(async () => {
  // Three orders captured by the slot, read by no engine; then the switch back.
  await db.sql`insert into public.orders (status) values ('new'), ('new'), ('paid')`;
  await useCapture(project.cwd(), 'capture: outbox');
  const loaded = await loadConfig({ cwd: project.cwd(), env: { DATABASE_URL: db.url } });
  server = await makeServer({
    sql: db.sql,
    project: loaded,
    route: () => 0,
    log: pino({ level: 'silent' }),
    keys: { key: Buffer.alloc(32, 7) },
    dashboard: { features: [], source: db.sql, sourceUrl: db.url },
  });
  ({ key } = await createApiKey(db.sql, 'dashboard', 'dashboard'));
});

describe('Deploy of a plan dropping a slot with unread changes', () => {
  it('warns in the plan, refuses with 409 and the slots, and changes nothing', async () => {
    const plan = (await (await call('GET', '/v1/plan')).json()) as CapturePlan;
    const drop = plan.items.find((i) => i.kind === 'slot' && i.action === 'drop');
    expect(drop?.unread).toMatchObject({ slot: slotFor(db), changes: 3, active: false });
    expect(drop!.unread!.holds).toMatch(/^3 changes not yet read by an engine \(/);
    // Only the slot that holds something carries it.
    expect(plan.items.filter((i) => i.unread !== null)).toHaveLength(1);
    // The plan's text does not end "Deploy applies it." under the refusal.
    expect(plan.text).toContain(
      'Deploy refuses this plan while the slot holds changes no engine has read: drain it first (the warning above says how), or use its discard button to lose them.',
    );
    expect(plan.text).not.toContain('Deploy applies it.');
    const before = await deployments();

    const refused = await call('POST', '/v1/deploy', { plan: plan.plan });
    expect(refused.status).toBe(409);
    const body = (await refused.json()) as DeployUnreadRefusal;
    expect(body.error).toBe('unread_slot');
    expect(body.slots).toHaveLength(1);
    expect(body.slots[0]).toMatchObject({ slot: slotFor(db), changes: 3, active: false });
    expect(body.slots[0]!.bytes).toBeGreaterThan(0);
    // (Its WAL bytes move with every write on the server, so only the words are compared.)
    expect(body.slots[0]!.holds).toMatch(/^3 changes not yet read by an engine \(/);
    expect(body.detail).toContain(
      `what it holds would be lost: slot ${slotFor(db)} holds 3 changes not yet read`,
    );
    // The dashboard's ways forward, not the CLI's flag.
    expect(body.detail).toContain(
      "set capture: replication again in nudge.yaml and restart the engine with it (this one runs the capture it started with) until its log says it has read the slot's backlog",
    );
    expect(body.detail).toContain('discardUnread: true');
    expect(body.detail).not.toContain('--discard-unread');
    expect(await slotExists()).toBe(true);
    expect(await deployments()).toBe(before);

    // The same through the typed client.
    const client = new Nudge({
      url: 'http://127.0.0.1',
      apiKey: key,
      fetch: async (input, init) => server.app.request(String(input), init),
    });
    const error = await client.deploy(plan.plan).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnreadSlotApiError);
    expect((error as UnreadSlotApiError).status).toBe(409);
    expect((error as UnreadSlotApiError).slots).toMatchObject([
      { slot: slotFor(db), changes: 3, active: false },
    ]);
    expect(await slotExists()).toBe(true);
  });

  it('says on a read-only server that deploy --sql refuses the plan too', async () => {
    const loaded = await loadConfig({ cwd: project.cwd(), env: { DATABASE_URL: db.url } });
    const readOnly = await makeServer({
      sql: db.sql,
      project: { ...loaded, config: { ...loaded.config, access: 'read-only' } },
      route: () => 0,
      log: pino({ level: 'silent' }),
      keys: { key: Buffer.alloc(32, 7) },
      dashboard: { features: [], source: db.sql, sourceUrl: db.url },
    });
    const plan = (await (
      await requestWith(readOnly, key, 'GET', '/v1/plan')
    ).json()) as CapturePlan;
    expect(plan.refused).not.toBeNull();
    expect(plan.text).toContain(
      'drain it first (`nudge deploy --sql` says how when it refuses), or run `nudge deploy --sql --discard-unread` to lose them.',
    );
    expect(plan.text).not.toContain('prints this change as SQL to apply yourself');
  });

  it('names discardUnread when it is not true or false', async () => {
    const plan = (await (await call('GET', '/v1/plan')).json()) as CapturePlan;
    const response = await call('POST', '/v1/deploy', { plan: plan.plan, discardUnread: 'yes' });
    expect(response.status).toBe(422);
    expect(await response.json()).toEqual({
      error: 'invalid_body',
      detail: 'discardUnread: expected true or false, got "yes"',
    });
    expect(await slotExists()).toBe(true);
  });

  it.each([
    [[], '(body): expected a JSON object, got an array'],
    [{ discardUnread: true }, 'plan: required (a string)'],
    [{ plan: 7 }, 'plan: expected a string, got 7'],
  ])('says what %j is instead of what was expected', async (body, detail) => {
    const response = await call('POST', '/v1/deploy', body);
    expect(response.status).toBe(422);
    expect(await response.json()).toEqual({ error: 'invalid_body', detail });
    expect(await slotExists()).toBe(true);
  });

  it('with discardUnread: true deploys and drops the slot', async () => {
    const plan = (await (await call('GET', '/v1/plan')).json()) as CapturePlan;
    const before = await deployments();
    const deployed = await call('POST', '/v1/deploy', { plan: plan.plan, discardUnread: true });
    expect(deployed.status, await deployed.clone().text()).toBe(200);
    const result = (await deployed.json()) as { deployment: number; counts: { drop: number } };
    expect(result.deployment).toBeGreaterThan(0);
    expect(result.counts.drop).toBeGreaterThanOrEqual(1);
    expect(await deployments()).toBe(before + 1);
    expect(await slotExists()).toBe(false);
    const after = (await (await call('GET', '/v1/plan')).json()) as CapturePlan;
    expect(after.changes).toBe(false);
    expect(after.items.every((i) => i.unread === null)).toBe(true);
  });
});
