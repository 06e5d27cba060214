// Quiet hours and time zones (issue 21.3): a send due inside quiet hours (or
// outside its stage's send window) in the contact's zone waits until the
// window opens there — across a daylight-saving change too — recorded as a
// decision, durable as a job across a worker restart; transactional email is
// never held. First the pure computation, then through the worker.
import type { Runner } from 'graphile-worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deferral } from '../../src/email/quiet-hours.js';
import type { manualClock } from '../../src/engine/wiring/clock.js';
import { loadFeatures } from '../../src/features/load.js';
import {
  enqueue,
  newRun,
  nextAttempt,
  startWorker,
  uniqueKey,
  waitForRun,
} from '../actions/setup.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import { type EmailWorld, projectFiles, startEmailWorld } from './setup.js';

const QUIET = { quietHours: { from: '21:00', to: '08:00' } };
const at = (iso: string) => new Date(iso);

describe('deferral (pure)', () => {
  it('lets a send go outside quiet hours, and holds one inside them until 08:00 local', () => {
    expect(deferral(at('2026-06-10T10:00:00Z'), 'Europe/Paris', QUIET)).toBeUndefined();
    expect(deferral(at('2026-06-10T20:30:00Z'), 'Europe/Paris', QUIET)).toEqual({
      until: at('2026-06-11T06:00:00Z'),
      reason: 'deferred: quiet hours until 08:00 Europe/Paris',
    });
    // 3 a.m. in New York (EST, UTC-5) waits for 08:00 there, the same day.
    expect(deferral(at('2026-01-15T08:00:00Z'), 'America/New_York', QUIET)).toEqual({
      until: at('2026-01-15T13:00:00Z'),
      reason: 'deferred: quiet hours until 08:00 America/New_York',
    });
  });

  it('ends a wait across the spring-forward night at 08:00 on the wall clock', () => {
    // Paris moves from UTC+1 to UTC+2 at 01:00Z on 2026-03-29.
    expect(deferral(at('2026-03-28T22:30:00Z'), 'Europe/Paris', QUIET)?.until).toEqual(
      at('2026-03-29T06:00:00Z'),
    );
    // New York moves to UTC-4 at 07:00Z on 2026-03-08.
    expect(deferral(at('2026-03-08T04:00:00Z'), 'America/New_York', QUIET)?.until).toEqual(
      at('2026-03-08T12:00:00Z'),
    );
  });

  it('ends a wait across the fall-back night at 08:00 on the wall clock', () => {
    // Paris moves from UTC+2 to UTC+1 at 01:00Z on 2026-10-25.
    expect(deferral(at('2026-10-24T20:00:00Z'), 'Europe/Paris', QUIET)?.until).toEqual(
      at('2026-10-25T07:00:00Z'),
    );
  });

  it('keeps to a send window, with quiet hours on top', () => {
    const rules = { ...QUIET, sendWindow: { from: '10:00', to: '12:00' } };
    expect(deferral(at('2026-06-10T07:00:00Z'), 'Europe/Paris', rules)).toEqual({
      until: at('2026-06-10T08:00:00Z'),
      reason: 'deferred: send window until 10:00 Europe/Paris',
    });
    expect(deferral(at('2026-06-10T08:30:00Z'), 'Europe/Paris', rules)).toBeUndefined();
    // After the window closes: tomorrow's window.
    expect(deferral(at('2026-06-10T11:00:00Z'), 'Europe/Paris', rules)?.until).toEqual(
      at('2026-06-11T08:00:00Z'),
    );
  });
});

describe('deferred sends through the worker', () => {
  const db = useDatabase();
  let world: EmailWorld;
  let clock: ReturnType<typeof manualClock>;

  beforeAll(async () => {
    world = await startEmailWorld(
      db,
      '  quiet_hours: { from: "21:00", to: "08:00" }\n  time_zone: America/New_York\n',
    );
    clock = world.env.clock as ReturnType<typeof manualClock>;
  });

  afterAll(async () => {
    await world?.close();
  });

  async function contactIn(email: string, zone: string | null) {
    const id = await world.contact(email);
    if (zone) {
      await world.sql`update nudge_engine.contacts
                         set attributes = jsonb_build_object('timezone', ${zone}::text)
                       where id = ${id}`;
    }
    return id;
  }

  async function enqueueEmail(contactId: string, email: string, topic: string) {
    const key = uniqueKey('quiet');
    await enqueue(world.sql, [
      newRun(
        key,
        { kind: 'email', params: { template: 'news', topic } } as never,
        { contact: { id: contactId, email } },
        contactId,
      ),
    ]);
    return key;
  }

  async function decisionOf(key: string, outcome: string) {
    return waitFor(async () => {
      const [row] = await world.sql<{ reason: string }[]>`
        select reason from nudge_engine.decisions
         where detail ->> 'key' = ${key} and outcome = ${outcome}`;
      return row?.reason;
    }, `a ${outcome} decision for ${key}`);
  }

  it('defers a send due at 23:30 in Paris until 08:00 Paris time (after the DST change), then sends it after a restart', async () => {
    clock.set(at('2026-03-28T22:30:00Z'));
    const ada = await contactIn('ada@example.com', 'Europe/Paris');
    const key = await enqueueEmail(ada, 'ada@example.com', 'product');
    expect(await decisionOf(key, 'deferred')).toBe(
      'deferred: quiet hours until 08:00 Europe/Paris',
    );
    const run = await waitForRun(world.sql, key, ['pending']);
    expect(run.attempts).toBe(0);
    // 22:30Z to 06:00Z (08:00 CEST): 7.5 hours, not the 8.5 of a fixed UTC+1.
    expect((await nextAttempt(world.sql, key)).delayMs).toBe(7.5 * 3600 * 1000);
    expect(world.smtp.messages.some((m) => m.to.includes('ada@example.com'))).toBe(false);

    // The worker restarts; the wait is a job in the database, so it survives.
    // Time passes (the job's run_at is brought to now; the engine clock to 08:00 Paris).
    await world.runner.stop();
    clock.set(at('2026-03-29T06:00:00Z'));
    await world.sql`update nudge_worker._private_jobs set run_at = now()
                     where key = ${`action:${key}`}`;
    const restarted: Runner = await startWorker(db.url, world.env);
    world.runner = restarted;
    expect((await waitForRun(world.sql, key, ['succeeded', 'dead'])).status).toBe('succeeded');
    await world.smtp.waitFor((m) => m.to.includes('ada@example.com'));
  });

  it('uses email.time_zone for a contact without one, and never holds transactional email', async () => {
    clock.set(at('2026-01-15T08:00:00Z')); // 03:00 in New York
    const bo = await contactIn('bo@example.com', null);
    const key = await enqueueEmail(bo, 'bo@example.com', 'marketing');
    expect(await decisionOf(key, 'deferred')).toBe(
      'deferred: quiet hours until 08:00 America/New_York',
    );
    const receipt = await enqueueEmail(bo, 'bo@example.com', 'transactional');
    expect((await waitForRun(world.sql, receipt, ['succeeded', 'dead'])).status).toBe('succeeded');
  });
});

describe('send_window in a feature file', () => {
  it('travels from the stage to its email actions, and an action’s own window wins', async () => {
    const dir = await projectFiles({
      'digest.yaml': `name: digest
trigger: { table: auth.users, on: insert }
stages:
  - name: first
    send_window: { from: "09:00", to: "17:00" }
    do:
      - email: { template: digest, topic: product }
      - email: { template: late, send_window: { from: "18:00", to: "20:00" } }
      - webhook: { url: "http://127.0.0.1:1/x" }
`,
    });
    const [feature] = await loadFeatures(dir, {}, dir);
    const actions = feature!.machine.stages.get('first')!.actions;
    expect(actions.map((a) => (a.params as { send_window?: unknown }).send_window)).toEqual([
      { from: '09:00', to: '17:00' },
      { from: '18:00', to: '20:00' },
      undefined,
    ]);
  });
});
