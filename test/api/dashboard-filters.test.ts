// The filters and pages of the dashboard's lists, read strictly: a feature no
// file has and nothing was recorded under is a 422 listing the known ones on
// the decision log, its live tail, action runs and email stats (a removed
// feature keeps answering what it left), and so is an email template on
// email stats; a contact no one is and no decision names is a 422 on the
// decision log; the mailbox pages by limit and before like the other lists,
// and no list offers a next page after exactly its last `limit` items; a
// parameter a route does not take, or one given twice, is a 400 naming it; an
// unknown ingest source likewise.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ActionPage, DecisionPage, MailboxPage } from '../../src/client/index.js';
import type { EmailStatsRow } from '../../src/client/preferences.js';
import { loadFeatures } from '../../src/features/load.js';
import { useDatabase } from '../harness/db.js';
import { testProject } from '../server/helpers.js';
import { type DashboardServer, dashboardServer } from './dashboard-server.js';

const db = useDatabase();
let call: DashboardServer['call'];
let get: DashboardServer['get'];
let contactId: string;

const feature = (name: string) =>
  `name: ${name}\ntrigger: { event: signed_up }\nstages: [{ name: one, do: [] }]\n`;

beforeAll(async () => {
  const project = await testProject();
  await mkdir(project.featuresDir, { recursive: true });
  await writeFile(path.join(project.featuresDir, 'drip.yaml'), feature('drip'));
  await writeFile(path.join(project.featuresDir, 'paid.yaml'), feature('paid'));
  await mkdir(path.join(project.templatesDir, 'promo'), { recursive: true });
  await writeFile(path.join(project.templatesDir, 'news.liquid'), '<p>News</p>');
  await writeFile(path.join(project.templatesDir, 'promo', 'welcome.html'), '<p>Welcome</p>');
  const features = await loadFeatures(project.featuresDir, {}, project.cwd);
  ({ call, get } = await dashboardServer(db, project, features));
  const [contact] = await db.sql<{ id: string }[]>`
    insert into nudge_engine.contacts (email) values ('ada@example.com') returning id`;
  contactId = contact!.id;
  // drip has a file and decisions; paid has a file and nothing yet; gone's
  // file was removed, its decisions and runs are left; old-skip is only in a
  // row of skips.
  await db.sql`
    insert into nudge_engine.decisions (feature, outcome, reason)
    values ('drip', 'matched', 'drip 1'), ('gone', 'matched', 'gone 1'), ('gone', 'skipped', 'gone 2')`;
  await db.sql`
    insert into nudge_engine.decisions (feature, outcome, reason, detail)
    values (null, 'skipped', '2 features skipped',
            '{"skipped": {"drip": "paused", "old-skip": "trigger condition false"}}')`;
  await db.sql`
    insert into nudge_engine.action_runs (key, feature, kind, params, status, attempts)
    values ('run-drip', 'drip', 'webhook', '{}', 'succeeded', 1),
           ('run-gone', 'gone', 'webhook', '{}', 'dead', 3)`;
  // Emails: drip sent news; retired (no file) tried old-promo (no file) and gave up.
  await db.sql`
    insert into nudge_engine.action_runs (key, feature, kind, params, status, attempts)
    values ('mail-drip', 'drip', 'email', '{"template": "news"}', 'succeeded', 1),
           ('mail-retired', 'retired', 'email', '{"template": "old-promo"}', 'dead', 3)`;
  await db.sql`
    insert into nudge_engine.mailbox (key, to_address, subject, text)
    select 'mail-' || g, 'ada@example.com', 'mail ' || g, 'hello' from generate_series(1, 5) g`;
});

const detail = async (response: Response) => ((await response.json()) as { detail: string }).detail;
/** A GET's refusal in one line: status, code, detail. */
const refusal = async (url: string) => {
  const response = await call('GET', url);
  const body = (await response.json()) as { error: string; detail: string };
  return `${response.status} ${body.error}: ${body.detail}`;
};
const emailStats = async (query: string) =>
  (await get<{ stats: EmailStatsRow[] }>(`/v1/email/stats?${query}`)).stats;
const KNOWN = 'no feature named "nosuch" in nudge/features (features: drip, paid)';

describe('a feature filter', () => {
  it('on /v1/decisions: 422 with the known features when no file has it and nothing was recorded', async () => {
    const typo = await call('GET', '/v1/decisions?feature=nosuch');
    expect(typo.status).toBe(422);
    expect(await typo.clone().json()).toEqual({
      error: 'unknown_feature',
      detail: `feature: ${KNOWN}`,
    });
    // A feature with a file and nothing yet is just quiet.
    expect((await get<DecisionPage>('/v1/decisions?feature=paid')).items).toEqual([]);
  });

  it('on /v1/decisions: a removed feature still answers its decisions, also an empty page of them', async () => {
    const gone = await get<DecisionPage>('/v1/decisions?feature=gone');
    expect(gone.items.map((i) => i.reason)).toEqual(['gone 2', 'gone 1']);
    expect((await get<DecisionPage>('/v1/decisions?feature=gone&outcome=error')).items).toEqual([]);
    const skipped = await get<DecisionPage>('/v1/decisions?feature=old-skip');
    expect(skipped.items.map((i) => [i.feature, i.reason])).toEqual([
      ['old-skip', 'trigger condition false'],
    ]);
  });

  it('on the live tail: refused before the stream starts; a removed feature is followed', async () => {
    const typo = await call('GET', '/v1/decisions/stream?feature=nosuch');
    expect(typo.status).toBe(422);
    expect(await detail(typo)).toBe(`feature: ${KNOWN}`);
    const gone = await call('GET', '/v1/decisions/stream?feature=gone');
    expect(gone.status).toBe(200);
    expect(gone.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await gone.body?.cancel();
  });

  it('on /v1/actions: the same, by the runs made', async () => {
    const typo = await call('GET', '/v1/actions?feature=nosuch');
    expect(typo.status).toBe(422);
    expect(await detail(typo)).toBe(`feature: ${KNOWN}`);
    expect((await get<ActionPage>('/v1/actions?feature=paid')).items).toEqual([]);
    expect((await get<ActionPage>('/v1/actions?feature=gone')).items.map((r) => r.key)).toEqual([
      'run-gone',
    ]);
    expect((await get<ActionPage>('/v1/actions?feature=gone&status=pending')).items).toEqual([]);
  });

  it('on /v1/email/stats: the same, by the runs made', async () => {
    expect(await refusal('/v1/email/stats?feature=nosuch')).toBe(
      `422 unknown_feature: feature: ${KNOWN}`,
    );
    expect((await emailStats('feature=drip')).map((s) => [s.feature, s.template, s.sent])).toEqual([
      ['drip', 'news', 1],
    ]);
    // A feature with a file that sent nothing, and a removed one whose email died: quiet.
    expect(await emailStats('feature=paid')).toEqual([]);
    expect(await emailStats('feature=retired')).toEqual([]);
  });
});

describe('a contact filter', () => {
  it('on /v1/decisions: 422 unknown_contact when no contact has that email or id and no decision names it', async () => {
    for (const contact of ['grace', 'adam', '4d1c9a7e-0000-4000-8000-000000000000']) {
      const response = await call('GET', `/v1/decisions?contact=${contact}`);
      expect(response.status, contact).toBe(422);
      expect(await response.json()).toEqual({
        error: 'unknown_contact',
        detail: `contact: no contact "${contact}"; give a whole email, an external id or a contact id`,
      });
    }
    // The start of one contact's email, and of one only (Contacts' search takes a
    // prefix): the whole email is named. Nothing when several or none start so.
    expect(await refusal('/v1/decisions?contact=ada')).toBe(
      '422 unknown_contact: contact: no contact "ada" (did you mean "ada@example.com"?); give a whole email, an external id or a contact id',
    );
    // A LIKE wildcard is a letter here: "%" starts no email.
    expect(await refusal('/v1/decisions?contact=%25')).toBe(
      '422 unknown_contact: contact: no contact "%"; give a whole email, an external id or a contact id',
    );
    // A known feature does not hide it; an unknown one is said first.
    expect(await refusal('/v1/decisions?feature=drip&contact=grace')).toBe(
      '422 unknown_contact: contact: no contact "grace"; give a whole email, an external id or a contact id',
    );
    expect(await refusal('/v1/decisions?feature=nosuch&contact=grace')).toBe(
      `422 unknown_feature: feature: ${KNOWN}`,
    );
  });

  it('on /v1/decisions: a contact there is, by email in any case or by id, is just quiet; so is one only decisions name', async () => {
    const [someone] = await db.sql<{ id: string; auth_user_id: string }[]>`
      insert into nudge_engine.contacts (email, auth_user_id)
      values ('grace@example.com', gen_random_uuid()) returning id, auth_user_id::text`;
    for (const contact of [
      'ada@example.com',
      'Ada@Example.com',
      contactId,
      someone!.id,
      someone!.auth_user_id,
    ]) {
      expect((await get<DecisionPage>(`/v1/decisions?contact=${contact}`)).items, contact).toEqual(
        [],
      );
    }
    // A contact removed since: its decisions still name its id.
    const removed = '4d1c9a7e-0000-4000-8000-00000000dead';
    await db.sql`insert into nudge_engine.decisions (feature, contact_id, outcome, reason)
                 values ('drip', ${removed}, 'matched', 'removed contact')`;
    expect(
      (await get<DecisionPage>(`/v1/decisions?contact=${removed}&outcome=error`)).items,
    ).toEqual([]);
    expect(
      (await get<DecisionPage>(`/v1/decisions?contact=${removed}`)).items.map((i) => i.reason),
    ).toEqual(['removed contact']);
    // A contact the app named by its own id (POST /v1/contacts with external_id), no email:
    // found by it, and shown by it.
    const [customer] = await db.sql<{ id: string }[]>`
      insert into nudge_engine.contacts (external_id) values ('cus_42') returning id`;
    await db.sql`insert into nudge_engine.decisions (feature, contact_id, outcome, reason)
                 values ('drip', ${customer!.id}, 'matched', 'by external id')`;
    const byExternal = (await get<DecisionPage>('/v1/decisions?contact=cus_42')).items;
    expect(byExternal.map((i) => [i.reason, i.contact])).toEqual([['by external id', 'cus_42']]);
    expect(await refusal('/v1/decisions?contact=cus_4')).toBe(
      '422 unknown_contact: contact: no contact "cus_4"; give a whole email, an external id or a contact id',
    );
  });
});

describe('an email template filter', () => {
  it('on /v1/email/stats: 422 with the templates there are when no file has it and no email was queued with it', async () => {
    const unknown =
      '422 unknown_template: template: no template named "nosuch" in nudge/templates (templates: news, promo/welcome)';
    expect(await refusal('/v1/email/stats?template=nosuch')).toBe(unknown);
    // As an email action names it or by its file's own name; a removed one emails were queued with.
    for (const name of ['promo/welcome', 'news.liquid', 'promo/welcome.html', 'old-promo']) {
      expect(await emailStats(`template=${name}`), name).toEqual([]);
    }
    // With a known feature, the template is still checked.
    expect(await refusal('/v1/email/stats?feature=drip&template=nosuch')).toBe(unknown);
  });
});

describe('GET /v1/mailbox', () => {
  it('pages by limit and before, newest first, and names a bad limit', async () => {
    const all = await get<MailboxPage>('/v1/mailbox');
    expect(all.items.map((m) => m.subject)).toEqual([
      'mail 5',
      'mail 4',
      'mail 3',
      'mail 2',
      'mail 1',
    ]);
    expect(all.next).toBeNull();
    const first = await get<MailboxPage>('/v1/mailbox?limit=2');
    expect(first.items.map((m) => m.subject)).toEqual(['mail 5', 'mail 4']);
    const second = await get<MailboxPage>(`/v1/mailbox?limit=2&before=${first.next}`);
    expect(second.items.map((m) => m.subject)).toEqual(['mail 3', 'mail 2']);
    const last = await get<MailboxPage>(`/v1/mailbox?limit=2&before=${second.next}`);
    expect(last.items.map((m) => m.subject)).toEqual(['mail 1']);
    expect(last.next).toBeNull();
    // One wording for every limit refused: -1 is a whole number, and not one of these.
    for (const [limit, problem] of [
      ['0', 'limit: expected a whole number from 1 to 200, got "0"'],
      ['-1', 'limit: expected a whole number from 1 to 200, got "-1"'],
      ['201', 'limit: expected a whole number from 1 to 200, got "201"'],
      ['abc', 'limit: expected a whole number from 1 to 200, got "abc"'],
      ['1.5', 'limit: expected a whole number from 1 to 200, got "1.5"'],
    ]) {
      const response = await call('GET', `/v1/mailbox?limit=${limit}`);
      expect(response.status).toBe(400);
      expect(await detail(response)).toBe(problem);
    }
  });
});

describe("every list's last page", () => {
  beforeAll(async () => {
    await db.sql`
      insert into nudge_engine.inbox (source, source_key, event_name, new_row, occurred_at)
      select 'api', 'last-page-' || g, 'signed_up', '{}', now() from generate_series(1, 3) g`;
  });

  it.each(['/v1/decisions', '/v1/actions', '/v1/ingest', '/v1/mailbox'])(
    '%s: no next when a page holds exactly the last limit items, one when something is older',
    async (list) => {
      type Page = { items: unknown[]; next: string | null };
      const all = await get<Page>(`${list}?limit=200`);
      // Decisions count by stored row (a row of skips shows a line per feature).
      const rows =
        list === '/v1/decisions'
          ? (await db.sql`select count(*)::int as n from nudge_engine.decisions`)[0]!.n
          : all.items.length;
      expect(rows).toBeGreaterThan(1);
      const whole = await get<Page>(`${list}?limit=${rows}`);
      expect([whole.items.length, whole.next]).toEqual([all.items.length, null]);
      const first = await get<Page>(`${list}?limit=${rows - 1}`);
      expect(first.next).not.toBeNull();
      const last = await get<Page>(`${list}?limit=1&before=${first.next}`);
      expect([last.items.length, last.next]).toEqual([1, null]);
    },
  );
});

describe('query parameters', () => {
  it('refuses a name the route does not take, naming it and the ones it takes', async () => {
    for (const [url, problem] of [
      [
        '/v1/decisions?featur=drip',
        'featur: not a parameter of GET /v1/decisions; it takes feature, contact, outcome, from, to, before, limit',
      ],
      [
        '/v1/decisions/stream?limit=5',
        'limit: not a parameter of GET /v1/decisions/stream; it takes feature, contact, outcome, from, to, after',
      ],
      [
        '/v1/actions?state=dead',
        'state: not a parameter of GET /v1/actions; it takes status, feature, since, before, limit',
      ],
      ['/v1/mailbox?page=2', 'page: not a parameter of GET /v1/mailbox; it takes before, limit'],
      [
        '/v1/ingest?table=orders',
        'table: not a parameter of GET /v1/ingest; it takes source, subject, from, to, before, limit',
      ],
      ['/v1/overview?verbose=1', 'verbose: not a parameter of GET /v1/overview; it takes none'],
      ['/v1/features?since=7d', 'since: not a parameter of GET /v1/features; it takes window'],
      [
        `/v1/contacts/${'ada@example.com'}?after=x`,
        'after: not a parameter of GET /v1/contacts/ada@example.com; it takes limit, before',
      ],
    ]) {
      const response = await call('GET', url!);
      expect(response.status, url).toBe(400);
      expect(await detail(response), url).toBe(problem);
    }
  });

  it('refuses one given twice', async () => {
    const response = await call('GET', '/v1/mailbox?limit=1&limit=2');
    expect(response.status).toBe(400);
    expect(await detail(response)).toBe('limit: given more than once; give it once');
  });

  it('names an ingest source there is not, and the ones there are', async () => {
    const response = await call('GET', '/v1/ingest?source=nosuch');
    expect(response.status).toBe(400);
    expect(await detail(response)).toBe(
      'source: expected one of outbox, webhook, replication, api, backfill, schedule, got "nosuch"',
    );
  });

  it("reads a contact timeline's limit as a whole number only", async () => {
    for (const limit of ['0x10', '1e1', ' 5']) {
      const response = await call(
        'GET',
        `/v1/contacts/${contactId}?limit=${encodeURIComponent(limit)}`,
      );
      expect(response.status, limit).toBe(400);
      expect(await detail(response)).toBe(
        `limit: expected a whole number from 1 to 200, got "${limit}"`,
      );
    }
    expect((await call('GET', `/v1/contacts/${contactId}?limit=5`)).status).toBe(200);
    // An empty before, as a form sends it, is no before (as on every list).
    expect((await call('GET', `/v1/contacts/${contactId}?limit=5&before=`)).status).toBe(200);
  });

  it('names a number, duration or time past what the database holds, instead of failing in it', async () => {
    const huge = '99999999999999999999';
    const cursor = Buffer.from(JSON.stringify(['+275760-09-13T00:00:00Z', 'event', '1']));
    for (const [url, problem] of [
      ...[
        '/v1/mailbox?before',
        '/v1/decisions?before',
        '/v1/actions?before',
        '/v1/ingest?before',
      ].map((at) => [
        `${at}=${huge}`,
        `before: expected a whole number up to 9007199254740991, got "${huge}"`,
      ]),
      [
        `/v1/decisions/stream?after=${huge}`,
        `after: expected a whole number up to 9007199254740991, got "${huge}"`,
      ],
      [`/v1/mailbox/${huge}`, `id: expected a whole number up to 9007199254740991, got "${huge}"`],
      ['/v1/actions?since=99999999999w', 'since: expected at most 36500d, got "99999999999w"'],
      ['/v1/features?window=99999999999w', 'window: expected at most 36500d, got "99999999999w"'],
      // The shape is right: what is wrong is the day, and that is said, as the sync's since says it.
      ...['2026-02-30', '0000-01-01', '2026-13-01T00:00:00Z'].map((from) => [
        `/v1/decisions?from=${from}`,
        `from: expected an ISO 8601 time such as 2026-03-01T09:00:00Z, got "${from}" (the calendar has no ${from.slice(0, 10)})`,
      ]),
      [
        '/v1/ingest?to=2026-02-29T10:00:00Z',
        'to: expected an ISO 8601 time such as 2026-03-01T09:00:00Z, got "2026-02-29T10:00:00Z" (the calendar has no 2026-02-29)',
      ],
      [
        '/v1/decisions?from=2026-03-02&to=2026-03-01T09:00:00Z',
        'to: 2026-03-01T09:00:00Z is not later than from (2026-03-02); nothing can fall between them',
      ],
      [
        `/v1/contacts/${contactId}?before=${cursor.toString('base64url')}`,
        'before: not a cursor this API returned (timeline.next)',
      ],
    ]) {
      const response = await call('GET', url!);
      expect(response.status, url).toBe(400);
      expect(await detail(response), url).toBe(problem);
    }
    expect(
      (await call('GET', '/v1/decisions?from=2024-02-29&to=2026-03-01T09:00:00Z')).status,
    ).toBe(200);
  });
});
