// A pool that reconnects after its server sessions were ended keeps parsing
// arrays without fetching the server's types again: the fetch postgres.js
// makes on each new connection drops its promise, so losing a connection
// during it would be an unhandled rejection (see typesFetched).
import { describe, expect, it } from 'vitest';
import { openSource } from '../../src/source/connect.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';

const db = useDatabase();

describe('openSource', () => {
  it('fetches array types once, and parses arrays after reconnecting without fetching them again', async () => {
    const queries: string[] = [];
    const sql = await openSource({
      url: db.url,
      readOnly: false,
      max: 2,
      onQuery: (text) => queries.push(text),
    });
    try {
      expect(queries.filter((q) => q.includes('pg_catalog.pg_type'))).toHaveLength(1);
      expect(sql.options.fetch_types).toBe(false);
      await db.sql`select pg_terminate_backend(pid) from pg_stat_activity
                    where datname = ${db.name} and application_name = 'nudge'`;
      // The first statement may still meet an ended session; the next reconnects.
      const row = await waitFor(async () => {
        const rows = await sql<{ ids: number[]; names: string[] }[]>`
          select array[1, 2]::int[] as ids, array['a', 'b c']::text[] as names`.catch(() => []);
        return rows[0];
      }, 'a statement on a new connection');
      expect(row).toEqual({ ids: [1, 2], names: ['a', 'b c'] });
      expect(queries.filter((q) => q.includes('pg_catalog.pg_type'))).toHaveLength(1);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});
