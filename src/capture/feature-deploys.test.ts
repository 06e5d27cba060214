// Each feature's deploy state as the plan's items and the latest
// deployment's record say it (feature-deploys.ts), on plans made by hand.
import { describe, expect, it } from 'vitest';
import type { Feature } from '../features/load.js';
import { featureDeploy, type LatestDeployment } from './feature-deploys.js';
import type { Plan, PlanItem } from './plan.js';
import type { DesiredCaptures } from './transports/port.js';
import { type CaptureObject, captureKey } from './triggers.js';

const ORDERS = { schema: 'public', table: 'orders' };
const CARTS = { schema: 'public', table: 'carts' };
const ORDERS_INSERT = captureKey(ORDERS, 'insert');
const CARTS_UPDATE = captureKey(CARTS, 'update');

const feature = (name: string, trigger: object = { kind: 'table' }): Feature =>
  ({ name, status: 'active', trigger }) as unknown as Feature;

const object = (
  table: { schema: string; table: string },
  operation: 'insert' | 'update',
  usedBy: string[],
): CaptureObject =>
  ({ table, operation, usedBy, triggerName: `nudge_capture_${operation}` }) as CaptureObject;

const capture = (key: string, action: PlanItem['action'], extra: Partial<PlanItem> = {}) =>
  ({ action, kind: 'capture', subject: key, key, sql: [], ...extra }) as PlanItem;

function plan(
  objects: CaptureObject[],
  items: PlanItem[],
  features: Record<string, string>,
  replication?: object,
): Plan {
  const desired = Object.assign(objects, { features }, replication ? { replication } : {});
  return { items, desired: desired as DesiredCaptures } as unknown as Plan;
}

const AT = new Date('2026-03-01T09:00:00Z');
const latest = (
  captures: Record<string, string[]>,
  features: Record<string, string>,
): LatestDeployment => ({
  id: 4,
  at: AT,
  features,
  captures: Object.fromEntries(Object.entries(captures).map(([k, usedBy]) => [k, { usedBy }])),
  since: Object.fromEntries(Object.keys(features).map((name) => [name, { id: 3, at: AT }])),
});

describe('a feature’s deploy state from the plan', () => {
  it('stays deployed when its shared trigger is redefined for another feature alone', () => {
    const deploy = featureDeploy(
      feature('heartbeat'),
      plan(
        [object(ORDERS, 'insert', ['big-order', 'heartbeat'])],
        [
          capture(ORDERS_INSERT, 'replace', {
            why: 'definition changed; since the deployment, big-order now uses it',
          }),
        ],
        { heartbeat: 'a', 'big-order': 'b' },
      ),
      latest({ [ORDERS_INSERT]: ['heartbeat'] }, { heartbeat: 'a' }),
    );
    expect(deploy.state).toBe('deployed');
    expect(deploy.deployment).toEqual({ id: 3, at: AT.toISOString() });
    expect(deploy.captures[0]!.plan).toBe('replace');
    // The other feature is new: not deployed, with the plan's reason.
    const other = featureDeploy(
      feature('big-order'),
      plan(
        [object(ORDERS, 'insert', ['big-order', 'heartbeat'])],
        [
          capture(ORDERS_INSERT, 'replace', {
            why: 'definition changed; since the deployment, big-order now uses it',
          }),
        ],
        { heartbeat: 'a', 'big-order': 'b' },
      ),
      latest({ [ORDERS_INSERT]: ['heartbeat'] }, { heartbeat: 'a' }),
    );
    expect(other).toMatchObject({
      state: 'not_deployed',
      deployment: null,
      changes: [
        '~ trigger nudge_capture_insert on public.orders (insert): definition changed; since the deployment, big-order now uses it',
      ],
    });
  });

  it('is not deployed, though its capture is there for another feature, until a deploy records it', () => {
    const deploy = featureDeploy(
      feature('receipt'),
      plan(
        [object(ORDERS, 'insert', ['heartbeat', 'receipt'])],
        [capture(ORDERS_INSERT, 'unchanged')],
        { heartbeat: 'a', receipt: 'r' },
      ),
      latest({ [ORDERS_INSERT]: ['heartbeat'] }, { heartbeat: 'a' }),
    );
    expect(deploy.state).toBe('not_deployed');
    expect(deploy.changes).toEqual([
      'its capture is deployed for other features (trigger nudge_capture_insert on public.orders (insert)); the next deploy records this feature, so running engines run it',
    ]);
  });

  it('is changed when it no longer uses a capture it was deployed with', () => {
    const deploy = featureDeploy(
      feature('cart'),
      plan(
        [object(CARTS, 'insert', ['cart'])],
        [capture(captureKey(CARTS, 'insert'), 'unchanged'), capture(CARTS_UPDATE, 'drop')],
        { cart: 'c2' },
      ),
      latest({ [captureKey(CARTS, 'insert')]: ['cart'], [CARTS_UPDATE]: ['cart'] }, { cart: 'c1' }),
    );
    expect(deploy).toMatchObject({
      state: 'changed',
      file_changed: true,
      changes: [
        'its file changed since deployment #3',
        'no longer uses the capture of public.carts update',
      ],
    });
  });

  it('needs no capture as a scheduled feature, and says when its file changed', () => {
    const deploy = featureDeploy(
      feature('inactivity', { kind: 'schedule', table: { schema: 'auth', table: 'users' } }),
      plan([], [], { inactivity: 'new' }),
      latest({}, { inactivity: 'old' }),
    );
    expect(deploy).toEqual({
      state: 'not_needed',
      deployment: { id: 3, at: AT.toISOString() },
      file_changed: true,
      captures: [],
      changes: [
        'its file changed since deployment #3: the next deploy records it, so running engines read it again',
      ],
      reason:
        'a scheduled feature: the engine queries auth.users on its schedule, no trigger is needed',
    });
  });

  it('is unknown for a feature no file the plan read names any more', () => {
    const deploy = featureDeploy(
      feature('heartbeat'),
      plan([], [], { welcome: 'w' }),
      latest({ [ORDERS_INSERT]: ['heartbeat'] }, { heartbeat: 'a' }),
    );
    expect(deploy).toMatchObject({ state: 'unknown', deployment: null });
    expect(deploy.reason).toMatch(/^the feature files the plan read do not name it now/);
  });

  it('names the publication under capture: replication, and a slot dropped by hand as a change', () => {
    const replication = {
      slot: 'nudge',
      publications: [
        { name: 'nudge_insert', operation: 'insert', tables: [{ table: ORDERS }], hash: 'h' },
        { name: 'nudge_update', operation: 'update', tables: [], hash: 'h' },
      ],
      fullIdentity: [],
      captures: [],
    };
    const slotDropped: PlanItem = {
      action: 'create',
      kind: 'slot',
      subject: 'nudge',
      drift: ['slot was dropped by hand: changes written since were not captured'],
      sql: [],
    };
    const items: PlanItem[] = [
      { action: 'unchanged', kind: 'publication', subject: 'nudge_insert', sql: [] },
      { action: 'create', kind: 'publication', subject: 'nudge_update', sql: [] },
    ];
    const objects = () => [object(ORDERS, 'insert', ['heartbeat'])];
    const before = latest({ [ORDERS_INSERT]: ['heartbeat'] }, { heartbeat: 'a' });
    const deployed = featureDeploy(
      feature('heartbeat'),
      plan(objects(), items, { heartbeat: 'a' }, replication),
      before,
    );
    expect(deployed).toMatchObject({
      state: 'deployed',
      captures: [
        {
          table: 'public.orders',
          operation: 'insert',
          trigger: null,
          publication: 'nudge_insert',
          plan: 'unchanged',
        },
      ],
    });
    const dropped = featureDeploy(
      feature('heartbeat'),
      plan(objects(), [...items, slotDropped], { heartbeat: 'a' }, replication),
      before,
    );
    expect(dropped).toMatchObject({
      state: 'changed',
      changes: ['+ slot nudge: slot was dropped by hand: changes written since were not captured'],
    });
  });
});
