// /v1/mailbox: the dev email provider's mailbox (email.provider: dev keeps
// every email in the engine store instead of sending it), newest first and
// keyset-paged like the other lists (`limit`, `before`, `next`); one email
// with its headers and text; and its HTML as a document of its own (GET
// /v1/mailbox/:id/html) that the dashboard shows in a sandboxed iframe — no
// scripts, no same-origin access, no remote loads.
import { Hono } from 'hono';
import type postgres from 'postgres';
import type { Mail, MailboxPage, MailItem } from '../../client/dashboard.js';
import { HttpError } from '../http-error.js';
import type { ApiEnv } from './auth.js';
import { takes } from './input.js';
import { limitOf, pageOf, wholeNumber } from './keyset.js';

const DEFAULT_LIMIT = 50;
/** What an email's HTML may do when opened: show itself, its inline styles and data: images. */
const EMAIL_CSP =
  "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'";

type MailRow = Omit<MailItem, 'sent_at'> & { sent_at: Date };

export function mailboxRoutes(options: { sql: postgres.Sql }): Hono<ApiEnv> {
  const { sql } = options;
  const api = new Hono<ApiEnv>();
  const item = <T extends MailRow>(row: T) => ({ ...row, sent_at: row.sent_at.toISOString() });

  api.get('/', takes('before', 'limit'), async (c) => {
    const before = wholeNumber(c.req.query('before'), 'before');
    const limit = limitOf(c.req.query('limit'), DEFAULT_LIMIT);
    // Ordered by m.id: a bare `id` would be the output column id::float8, which
    // no index serves (a sort of every mail: 31 ms at 100k in bench:dashboard).
    const rows = await sql<MailRow[]>`
      select m.id::float8 as id, to_address as to, from_address as from, subject, sent_at
        from nudge_engine.mailbox m
       where ${before === undefined ? sql`true` : sql`m.id < ${before}`}
       order by m.id desc limit ${limit + 1}`;
    const { page, next } = pageOf(rows, limit);
    return c.json({ items: page.map(item), next } satisfies MailboxPage);
  });

  const find = async (text: string) => {
    const id = wholeNumber(text, 'id')!;
    // The run that sent it (same key), for the feature and the contact.
    const [row] = await sql<
      (MailRow & {
        html: string | null;
        text: string | null;
        headers: Record<string, string> | null;
        feature: string | null;
        stage: string | null;
        contact_id: string | null;
      })[]
    >`
      select m.id::float8 as id, m.to_address as to, m.from_address as from, m.subject, m.sent_at,
             m.html, m.text, m.headers, r.feature, r.stage, r.contact_id::text as contact_id
        from nudge_engine.mailbox m
        left join nudge_engine.action_runs r on r.key = m.key
       where m.id = ${id}`;
    if (!row)
      throw new HttpError(404, 'email_not_found', `no email with id ${id} in the dev mailbox`);
    return row;
  };

  api.get('/:id', takes(), async (c) => {
    const { html, headers, ...rest } = await find(c.req.param('id'));
    return c.json({
      ...item(rest),
      has_html: html !== null,
      headers: headers ?? {},
    } satisfies Mail);
  });

  api.get('/:id/html', takes(), async (c) => {
    const row = await find(c.req.param('id'));
    // no-store and nosniff: every /v1 answer has them (api/index.ts).
    c.header('content-security-policy', EMAIL_CSP);
    return c.html(row.html ?? '');
  });
  return api;
}
