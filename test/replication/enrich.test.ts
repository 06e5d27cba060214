// Under capture: replication a feature that enriches is refused at its
// enrich: key (file:line), with a hint that can be followed.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import { ordersFeature, useOrdersProject } from './helpers.js';

const db = useDatabase();
const project = useOrdersProject(
  db,
  ordersFeature('insert'),
  'create table public.profiles (id bigint primary key, plan text)',
);

describe('enrich under capture: replication', () => {
  it('is refused where the feature file says enrich:, with what to do instead', async () => {
    await writeFile(
      path.join(project.cwd(), 'nudge/features/enriched.yaml'),
      `name: enriched
trigger: { table: public.orders, on: insert }
enrich:
  profile:
    table: public.profiles
    match: { id: new.id }
stages:
  - name: seen
    do: [{ track: { event: "{{ enrichment.profile.plan }}" } }]
`,
    );
    const result = await project.nudge(['plan']);
    expect(result.code).toBe(2);
    expect(result.err).toContain(
      '✗ nudge/features/enriched.yaml:3:1 enrich: enrich runs inside a capture trigger, in the writing transaction, and capture: replication has no trigger',
    );
    expect(result.err).toContain(
      'hint: remove enrich: from this feature (and the enrichment.* it reads); to read the joined table, sync it as contact attributes (connectors.supabase.sync.tables and table_mapping, with sync.realtime: true to keep them current between syncs) and read contact.<attribute>; or set capture: outbox in nudge.yaml',
    );
  });
});
