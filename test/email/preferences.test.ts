// Saving preferences is atomic: a send that reads them while the preference
// page or PUT /v1/email/preferences saves (clearing the per-topic choices,
// then writing them again) sees them before or after the save, so a topic
// that stays off never reads as subscribed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { optedOut, setPreferences } from '../../src/contacts/preferences.js';
import { linkSignerFor } from '../../src/email/links.js';
import { createApiKey } from '../../src/server/api/keys.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import { type EmailWorld, startEmailWorld } from './setup.js';

const db = useDatabase();
let world: EmailWorld;
let apiKey: string;

beforeAll(async () => {
  world = await startEmailWorld(db);
  apiKey = (await createApiKey(world.sql, 'app', 'write')).key;
});

afterAll(async () => {
  await world?.close();
});

/** The two doors that save every topic at once, each keeping marketing off and the rest on. */
function saves(contactId: string): Record<string, () => Promise<Response>> {
  const token = linkSignerFor(world.project).sign({ purpose: 'preferences', contactId, topic: '' });
  return {
    'preference page': async () =>
      world.server.app.request(`/email/preferences/${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'topic=general&topic=product',
      }),
    'PUT /v1/email/preferences': async () =>
      world.server.app.request(`/v1/email/preferences/${contactId}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ all: true, topics: { marketing: false } }),
      }),
  };
}

const marketingOff = async (contactId: string) =>
  (await optedOut(world.sql, [{ contactId, topic: 'marketing' }]))[0];

describe('saving preferences', () => {
  it('is never seen half done: a save held between its writes still reads as opted out', async () => {
    // A test-only trigger holds each write of a preference row until the lock is released.
    await world.sql`
      create function public.hold_preference_write() returns trigger language plpgsql
      as $$ begin perform pg_advisory_xact_lock_shared(4242); return new; end $$`;
    await world.sql`
      create trigger hold_preference_write before insert on nudge_engine.email_preferences
      for each row execute function public.hold_preference_write()`;
    const id = await world.contact('held@example.com');
    const holder = await world.sql.reserve();
    let saving: Promise<Response> | undefined;
    try {
      for (const [door, save] of Object.entries(saves(id))) {
        await setPreferences(world.sql, id, { marketing: false }, 'api');
        await holder`select pg_advisory_lock(4242)`;
        saving = save();
        await waitFor(async () => {
          const [row] = await world.sql<{ waiting: number }[]>`
            select count(*)::int as waiting from pg_locks
             where locktype = 'advisory' and objid = 4242 and not granted`;
          return row!.waiting > 0 ? true : undefined;
        }, `the ${door} save to wait on its write`);
        // The per-topic rows were cleared and marketing is not written yet.
        expect(await marketingOff(id), door).toBe(true);
        await holder`select pg_advisory_unlock(4242)`;
        expect((await saving).status, door).toBe(200);
        expect(await marketingOff(id), door).toBe(true);
      }
    } finally {
      // A failed expectation leaves the save held: let it finish before the trigger goes.
      await holder`select pg_advisory_unlock_all()`;
      await saving?.catch(() => undefined);
      holder.release();
      await world.sql`drop trigger hold_preference_write on nudge_engine.email_preferences`;
      await world.sql`drop function public.hold_preference_write()`;
    }
  });

  it('across many saves, a reader polling meanwhile never reads the topic kept off as subscribed', async () => {
    const bob = await world.contact('bob@example.com');
    await setPreferences(world.sql, bob, { marketing: false }, 'api');
    const doors = Object.values(saves(bob));
    const reads: boolean[] = [];
    for (let i = 0; i < 120; i++) {
      let saved = false;
      const reader = (async () => {
        // At least one read per save, and as many as fit while it runs.
        do reads.push((await marketingOff(bob))!);
        while (!saved);
      })();
      const answer = await doors[i % doors.length]!();
      saved = true;
      await reader;
      expect(answer.status).toBe(200);
    }
    expect(reads.length).toBeGreaterThanOrEqual(120);
    const subscribedReads = reads.filter((off) => !off).length;
    expect(subscribedReads, `reads of marketing as subscribed, of ${reads.length}`).toBe(0);
  });
});
