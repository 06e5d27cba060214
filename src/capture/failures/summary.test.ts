import { describe, expect, it } from 'vitest';
import { failurePlace } from './summary.js';

// PostgreSQL's context of an error an enrichment's query raised in a capture trigger.
const ENRICHMENT = `SQL statement "SELECT to_jsonb(t) FROM public.accounts AS t WHERE t.ref = $1::public.account_ref LIMIT 1"
PL/pgSQL function nudge.enrich(text,text,json) line 12 at EXECUTE
SQL statement "INSERT INTO nudge.event_log (schema_name, table_name, operation)
    SELECT 'public', 'orders', 'insert'"
PL/pgSQL function nudge.capture_orders_insert_bb7fc61b() line 24 at SQL statement`;

describe('failurePlace', () => {
  it('names the enrichment whose query failed, by its table and key', () => {
    expect(failurePlace(ENRICHMENT)).toBe('in the enrichment reading public.accounts by ref');
  });

  it('says nothing when the capture’s own write failed, or there is no context', () => {
    const own = `SQL statement "INSERT INTO nudge.event_log (schema_name) VALUES ('public')"
PL/pgSQL function nudge.capture_orders_insert_bb7fc61b() line 24 at SQL statement`;
    expect(failurePlace(own)).toBeUndefined();
    expect(failurePlace(null)).toBeUndefined();
    expect(failurePlace('PL/pgSQL function nudge.capture_x() line 3 at RAISE')).toBeUndefined();
  });

  it('quotes another inner statement, shortened', () => {
    const view = `SQL statement "SELECT id, 1 / 0 AS broken FROM public.profiles_view WHERE id = $1"
PL/pgSQL function public.lookup(uuid) line 3 at SQL statement`;
    expect(failurePlace(view)).toBe(
      'in: SELECT id, 1 / 0 AS broken FROM public.profiles_view WHERE id = $1',
    );
  });
});
