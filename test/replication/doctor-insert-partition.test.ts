// nudge doctor under capture: replication fails only what deploy would
// refuse: a partition of a table captured on insert alone keeps its own
// replica identity (deploy never sets it), so another role may own it.
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
const project = useOrdersProject(db, ordersAndEventsFeatures('insert'), PARTITIONED_EVENTS);

describe('nudge doctor with capture: replication and a partitioned table captured on insert', () => {
  it('does not fail a partition owned by another role: deploy leaves its identity alone', async () => {
    const other = await db.loginRole('other');
    const deployer = await db.loginRole('deployer', 'ALTER ROLE {role} REPLICATION');
    // The tables its own, their partition another role's.
    const owners = [
      `GRANT USAGE, CREATE ON SCHEMA nudge TO ${ident(deployer.name)}`,
      ...['orders', 'events'].map(
        (t) => `ALTER TABLE public.${t} OWNER TO ${ident(deployer.name)}`,
      ),
      `ALTER TABLE public.events_2024 OWNER TO ${ident(other.name)}`,
    ];
    await db.sql.unsafe(owners.join(';\n'));
    const m = await nudgeIn({ ...db, url: deployer.url }, project.cwd(), ['doctor']);
    const lines = m.out.split('\n');
    expect(lines, m.out).toContain(
      `✓ Table owner        role ${deployer.name} owns public.events, public.orders (publication, replica identity)`,
    );
  });
});
