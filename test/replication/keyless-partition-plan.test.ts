// Under capture: replication a feature that captures the updates of a
// partitioned table without a primary key is refused at its trigger: key
// (file:line), as `nudge plan` says it, with what can be done instead.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import { ordersFeature, useOrdersProject } from './helpers.js';

const db = useDatabase();
const project = useOrdersProject(
  db,
  ordersFeature('insert'),
  `create table public.logs (at date, note text) partition by range (at);
   create table public.logs_2024 partition of public.logs for values from ('2024-01-01') to ('2025-01-01')`,
);

describe('a partitioned table without a primary key under capture: replication', () => {
  it('is refused where the feature file says trigger:, naming the table and the fix', async () => {
    await writeFile(
      path.join(project.cwd(), 'nudge/features/notes.yaml'),
      `name: notes
trigger: { table: public.logs, on: update }
stages:
  - name: seen
    do: [{ track: { event: noted } }]
`,
    );
    const result = await project.nudge(['plan']);
    expect(result.code).toBe(2);
    expect(result.err).toContain(
      '✗ nudge/features/notes.yaml:2:1 trigger: capture: replication cannot capture the updates of partitioned table public.logs: it has no primary key',
    );
    expect(result.err).toContain('hint: add a primary key to public.logs, or set capture: outbox');
  });
});
