// Second read of the stage.n keys (journeys/machine.ts, actionKey): a stage
// entered again in the same step (a chain of stages without a wait, which can
// only be a loop) is not a new visit — it would send once per hop until
// MAX_CHAIN — and a journey written before visits were counted (no
// context.visits) still sends again when its loop comes back. And a journey
// row a step holds while the first timers pass after a deploy fits wake-ups
// (timers.ts, rearmWaits skips it) is fitted by a later pass.
import { describe, expect, it } from 'vitest';
import { processTimers } from '../../src/engine/journeys/timers.js';
import { useDatabase } from '../harness/db.js';
import { signUp, testEngine } from './harness.js';

const db = useDatabase();
const DAY = 86_400_000;

describe('stage visits and action keys', () => {
  it('sends a stage of a wait-less loop once, not once per hop', async () => {
    const loop = `name: spin
trigger: { table: auth.users, on: insert }
stages:
  - name: a
    do: [{ webhook: { url: "http://hooks.example/a" } }, { goto: b }]
  - name: b
    do: [{ goto: a }]
`;
    const engine = await testEngine(db, { 'spin.yaml': loop });
    await signUp(db.sql, 'spin@example.com');
    await engine.settle();
    const keys = new Set(engine.queued.filter((a) => a.feature === 'spin').map((a) => a.key));
    expect(keys.size).toBe(1);
    expect((await engine.decisions('spin')).at(-1)?.reason).toMatch(/^stopped after \d+ stages/);
  });

  it('sends again on the next visit of a journey that entered before visits were counted', async () => {
    const remind = `name: remind-old
trigger: { table: auth.users, on: insert }
stages:
  - name: reminded
    do: [{ email: { template: reminder } }]
    next: [{ to: reminded, after: 3d }]
`;
    const engine = await testEngine(db, { 'remind.yaml': remind });
    await signUp(db.sql, 'old@example.com');
    await engine.settle();
    // As the journey row of a version that kept no visits.
    await db.sql`update nudge_engine.journeys set context = context - 'visits'
                  where feature = 'remind-old'`;
    engine.clock.advance(3 * DAY);
    await engine.settle();
    const keys = engine.queued.filter((a) => a.feature === 'remind-old').map((a) => a.key);
    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(2);
  });
});

describe('wake-ups fitted to a deploy', () => {
  it('fits a journey a step held while the pass ran, on a later pass', async () => {
    const drip = `name: drip-held
trigger: { table: auth.users, on: insert }
stages:
  - name: welcomed
    do: [{ email: { template: welcome } }]
  - name: nudged
    after: 2d
    do: [{ email: { template: day-two } }]
`;
    const engine = await testEngine(db, { 'drip.yaml': drip });
    await signUp(db.sql, 'held@example.com');
    await engine.settle();
    await engine.redeploy(drip.replace('2d', '1d'));
    // A lane's step holds the journey (an event that moves nothing) while
    // the first pass after the deploy fits wake-ups: it skips that row.
    await db.sql.begin(async (tx) => {
      await tx`select 1 from nudge_engine.journeys where feature = 'drip-held' for update`;
      await processTimers(engine.ctx);
    });
    engine.clock.advance(DAY);
    await engine.settle();
    expect(engine.queued.filter((a) => a.feature === 'drip-held').map((a) => a.stage)).toEqual([
      'welcomed',
      'nudged',
    ]);
  });
});
