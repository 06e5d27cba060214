// What became of the emails a feature sent, per feature and template: sent
// (runs that succeeded), and of those, how many Resend reported delivered,
// bounced, complained, opened and clicked (each message counted once per
// kind, however many times it was opened or clicked). Delivery events carry
// their run's feature and template (delivery-events.ts), so this reads two
// grouped queries and never joins events to runs.
import type postgres from 'postgres';
import type { EmailStatsRow } from '../client/preferences.js';

/** One row: the client's type (src/client/preferences.ts), which this answers. */
export type EmailStats = EmailStatsRow;

const COUNTED = {
  'email.delivered': 'delivered',
  'email.bounced': 'bounced',
  'email.complained': 'complained',
  'email.opened': 'opened',
  'email.clicked': 'clicked',
} as const;

export async function emailStats(
  sql: postgres.Sql,
  filter: { feature?: string; template?: string } = {},
): Promise<EmailStats[]> {
  const feature = filter.feature ?? null;
  const template = filter.template ?? null;
  const [sent, reported] = await Promise.all([
    sql<{ feature: string | null; template: string | null; n: number }[]>`
      select feature, params ->> 'template' as template, count(*)::int as n
        from nudge_engine.action_runs
       where kind = 'email' and status = 'succeeded'
         and (${feature}::text is null or feature = ${feature}::text)
         and (${template}::text is null or params ->> 'template' = ${template}::text)
       group by 1, 2`,
    sql<{ feature: string | null; template: string | null; name: string; n: number }[]>`
      select properties ->> 'feature' as feature, properties ->> 'template' as template, name,
             count(distinct properties ->> 'message_id')::int as n
        from nudge_engine.events
       where name = any(${Object.keys(COUNTED)}::text[]) and source = 'resend'
         and properties ? 'run_key'
         and (${feature}::text is null or properties ->> 'feature' = ${feature}::text)
         and (${template}::text is null or properties ->> 'template' = ${template}::text)
       group by 1, 2, 3`,
  ]);
  const rows = new Map<string, EmailStats>();
  const rowOf = (f: string | null, t: string | null) => {
    const key = JSON.stringify([f, t]);
    let row = rows.get(key);
    if (!row) {
      row = {
        feature: f,
        template: t,
        sent: 0,
        delivered: 0,
        bounced: 0,
        complained: 0,
        opened: 0,
        clicked: 0,
      };
      rows.set(key, row);
    }
    return row;
  };
  for (const s of sent) rowOf(s.feature, s.template).sent = s.n;
  for (const r of reported) {
    rowOf(r.feature, r.template)[COUNTED[r.name as keyof typeof COUNTED]] = r.n;
  }
  return [...rows.values()].sort(
    (a, b) =>
      (a.feature ?? '').localeCompare(b.feature ?? '') ||
      (a.template ?? '').localeCompare(b.template ?? ''),
  );
}
