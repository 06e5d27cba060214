// Switching from outbox to replication keeps the old outbox's rows table
// until the engine has emptied it. Meanwhile nothing is left to deploy and
// events arrive: plan, doctor (and nudge start, which counts the same plan)
// say so, instead of "not deployed: those features get no events yet".
import { describe, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import { ordersFeature, slotFor, useCapture, useOrdersProject } from './helpers.js';

const db = useDatabase();
const project = useOrdersProject(db, ordersFeature('insert'));
const replication = () =>
  `capture: { transport: replication, replication: { slot: ${slotFor(db)} } }`;

const featuresLine = async () =>
  (await project.nudge(['doctor'])).out.split('\n').find((l) => l.includes('Features'))!;

describe('outbox → replication with rows still in the old outbox', () => {
  it('says the old outbox waits to empty, and only then asks for a deploy to drop it', async () => {
    await useCapture(project.cwd(), 'capture: outbox');
    expect((await project.nudge(['deploy', '--yes'])).code).toBe(0);
    await db.sql`insert into public.orders (status) values ('new')`;
    await useCapture(project.cwd(), replication());
    expect((await project.nudge(['deploy', '--yes'])).code).toBe(0);

    const [rows] = await db.sql<{ name: string }[]>`
      select relname as name from pg_class
       where relnamespace = 'nudge'::regnamespace and relname like 'rows_orders_insert%'`;
    const waiting = await project.nudge(['plan']);
    expect(waiting.out).toMatch(
      new RegExp(
        `= capture table nudge.${rows!.name} +old outbox: rows table no capture uses, waiting to empty \\(the engine processes its rows, so their events arrive; deploy again once it is empty to drop it\\)`,
      ),
    );
    expect(waiting.out).toContain('No changes.');
    const doctor = await featuresLine();
    expect(doctor).toMatch(
      /^✓ Features +1 active feature in nudge\/features\/, deployed and up to date; /,
    );
    expect(doctor).toContain(`table nudge.${rows!.name} waiting to empty`);
    expect(doctor).not.toContain('get no events');

    // The engine has emptied it: now a deploy drops it, and events arrive meanwhile.
    await db.sql.unsafe(`delete from nudge.${rows!.name}`);
    const emptied = await project.nudge(['plan']);
    expect(emptied.out).toMatch(
      /- capture table nudge\.\S+ +old outbox: rows table no capture uses, empty now: deploy would drop it/,
    );
    const leftover = await featuresLine();
    expect(leftover).toMatch(
      /^⚠ Features +1 change not deployed, only removals \(capture table nudge\.\S+\): the features get their events/,
    );
    expect((await project.nudge(['deploy', '--yes'])).code).toBe(0);
    expect(await db.sql`select from pg_class where relname = ${rows!.name}`).toHaveLength(0);
    expect(await featuresLine()).toMatch(
      /^✓ Features +1 active feature in nudge\/features\/, deployed and up to date$/,
    );
  });
});
