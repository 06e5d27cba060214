// nudge doctor under capture: replication checks the owner of every
// partition, at any depth, of the captured tables as well as of the tables:
// deploy sets each partition's replica identity FULL, which needs its owner.
// A partition FULL already (deploy leaves it) needs nothing.
import { describe, expect, it } from 'vitest';
import { ident } from '../../src/db/quote.js';
import { useDatabase } from '../harness/db.js';
import {
  nudgeIn,
  ordersAndEventsFeatures,
  PARTITIONED_EVENTS,
  useOrdersProject,
} from './helpers.js';

const db = useDatabase();
const project = useOrdersProject(db, ordersAndEventsFeatures('update'), PARTITIONED_EVENTS);

async function doctor(url: string) {
  const m = await nudgeIn({ ...db, url }, project.cwd(), ['doctor']);
  return m.out.split('\n');
}

describe('nudge doctor with capture: replication and a partitioned table', () => {
  it('names a partition, at any depth, owned by another role, with its owner and the fixes', async () => {
    const other = await db.loginRole('other');
    const deployer = await db.loginRole(
      'deployer',
      `ALTER ROLE {role} REPLICATION;
       GRANT USAGE, CREATE ON SCHEMA nudge TO {role};
       ALTER TABLE public.orders OWNER TO {role};
       ALTER TABLE public.events OWNER TO {role};
       ALTER TABLE public.events_2024 OWNER TO {role};
       CREATE TABLE public.events_2025 PARTITION OF public.events
         FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') PARTITION BY RANGE (at);
       ALTER TABLE public.events_2025 OWNER TO {role};
       CREATE TABLE public.events_2025_h1 PARTITION OF public.events_2025
         FOR VALUES FROM ('2025-01-01') TO ('2025-07-01');
       ALTER TABLE public.events_2025_h1 OWNER TO ${ident(other.name)}`,
    );
    const lines = await doctor(deployer.url);
    const at = lines.findIndex((line) => line.startsWith('✗ Table owner'));
    expect(at, lines.join('\n')).toBeGreaterThanOrEqual(0);
    expect(lines[at]).toBe(
      `✗ Table owner        role ${deployer.name} does not own partition public.events_2025_h1 of public.events (owner ${other.name}): deploy sets a partition's replica identity FULL when updates or deletes of its table are captured, which needs its owner`,
    );
    expect(lines[at + 1]).toBe(
      `  fix: connect as ${other.name}, or GRANT ${other.name} TO ${deployer.name}, or, as ${other.name}, run ALTER TABLE "public"."events_2025_h1" REPLICA IDENTITY FULL`,
    );

    // Made FULL by its owner, deploy leaves it: nothing is needed of it.
    await db.sql`alter table public.events_2025_h1 replica identity full`;
    expect(await doctor(deployer.url)).toContain(
      `✓ Table owner        role ${deployer.name} owns public.events, public.orders and the partitions of public.events deploy sets FULL (publication, replica identity)`,
    );
  });
});
