// The lists paged by a cursor — decisions, action runs, the ingest log, the
// dev mailbox and a contact's timeline — page the same rows whatever is
// written while a client walks them: new rows arrive between every two
// pages, and each row there was when the walk began is seen exactly once,
// none twice. (An offset would shift by the rows that arrived.) The rows of
// each batch share one time to the microsecond, as rows written in one
// statement do: the timeline's cursor once lost its microseconds and skipped
// every row left at its time.
import { beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import { type ApiServer, startApi } from './helpers.js';

const db = useDatabase();
const ROWS = 23;
const LIMIT = 5;

let api: ApiServer;
let contactId: string;

beforeAll(async () => {
  api = await startApi(db);
  const [contact] = await db.sql<{ id: string }[]>`
    insert into nudge_engine.contacts (email) values ('pager@example.com') returning id`;
  contactId = contact?.id ?? '';
});

interface Listed {
  /** The page's items, each as a key that names its row. */
  keys: string[];
  next: string | null;
}

/** Each list: how to write `n` rows (newer than all before), and how to read a page. */
const LISTS: Record<
  string,
  { write: (n: number) => Promise<unknown>; read: (query: string) => Promise<Listed> }
> = {
  decisions: {
    write: (n) => db.sql`
      insert into nudge_engine.decisions (feature, contact_id, outcome, reason)
      select 'drip', ${contactId}, 'matched', 'row' from generate_series(1, ${n})`,
    read: async (query) => items(await get(`/v1/decisions?${query}`), 'key'),
  },
  actions: {
    write: (n) => db.sql`
      insert into nudge_engine.action_runs (key, feature, contact_id, kind, params)
      select gen_random_uuid()::text, 'drip', ${contactId}, 'webhook', '{}' from generate_series(1, ${n})`,
    read: async (query) => items(await get(`/v1/actions?${query}`), 'key'),
  },
  ingest: {
    write: (n) => db.sql`
      insert into nudge_engine.inbox (source, source_key, event_name, new_row, occurred_at)
      select 'api', gen_random_uuid()::text, 'paged', '{}', now() from generate_series(1, ${n})`,
    read: async (query) => items(await get(`/v1/ingest?${query}`), 'id'),
  },
  mailbox: {
    write: (n) => db.sql`
      insert into nudge_engine.mailbox (key, to_address, subject, text)
      select gen_random_uuid()::text, 'pager@example.com', 'hello', 'hi' from generate_series(1, ${n})`,
    read: async (query) => items(await get(`/v1/mailbox?${query}`), 'id'),
  },
  timeline: {
    // Events of the contact, and the decisions and runs above are in it too.
    write: (n) => db.sql`
      insert into nudge_engine.events (contact_id, name, source, occurred_at)
      select ${contactId}, 'paged', 'api', now() from generate_series(1, ${n})`,
    read: async (query) => {
      const body = (await get(`/v1/contacts/${contactId}?${query}`)) as {
        timeline: {
          items: { kind: string; id?: unknown; feature?: string }[];
          next: string | null;
        };
      };
      return {
        keys: body.timeline.items.map((item) => `${item.kind}:${String(item.id ?? item.feature)}`),
        next: body.timeline.next,
      };
    },
  },
};

async function get(path: string): Promise<unknown> {
  const answer = await api.call('GET', path);
  expect(`${answer.status} ${path}`).toBe(`200 ${path}`);
  return answer.json;
}

function items(body: unknown, key: string): Listed {
  const page = body as { items: Record<string, unknown>[]; next: string | null };
  return { keys: page.items.map((item) => String(item[key])), next: page.next };
}

describe('a list paged by its cursor while rows are written', () => {
  for (const [name, list] of Object.entries(LISTS)) {
    it(`sees each row of ${name} once`, async () => {
      await list.write(ROWS);
      // What was there when the walk began: every row, one page as large as it takes.
      const everything: string[] = [];
      for (let next: string | null = null, first = true; first || next; first = false) {
        const page: Listed = await list.read(`limit=200${next ? `&before=${next}` : ''}`);
        everything.push(...page.keys);
        next = page.next;
      }
      expect(everything.length).toBeGreaterThanOrEqual(ROWS);

      const seen: string[] = [];
      let next: string | null = null;
      let pages = 0;
      do {
        const page: Listed = await list.read(`limit=${LIMIT}${next ? `&before=${next}` : ''}`);
        seen.push(...page.keys);
        next = page.next;
        pages++;
        // Newer rows arrive before the next page is asked for.
        await list.write(3);
      } while (next && pages < 100);

      expect(pages).toBe(Math.ceil(everything.length / LIMIT));
      // In order, none twice, none missed; the rows written meanwhile are newer than the cursor.
      expect(seen).toEqual(everything);
    });
  }
});

describe('a list whose ids have passed 2^31', () => {
  // An inbox fed 100 events a second passes 2^31 ids in about eight months
  // (retention deletes rows, not the count): the ids are bigints.
  const PAST = 2 ** 31 + 10;
  const WRITES: Record<string, (id: number) => Promise<unknown>> = {
    actions: (id) => db.sql`
      insert into nudge_engine.action_runs (id, key, feature, kind, params) overriding system value
      values (${id}, ${`far-${id}`}, 'drip', 'webhook', '{}')`,
    ingest: (id) => db.sql`
      insert into nudge_engine.inbox (id, source, source_key, event_name, new_row, occurred_at)
      overriding system value values (${id}, 'api', ${`far-${id}`}, 'paged', '{}', now())`,
    mailbox: (id) => db.sql`
      insert into nudge_engine.mailbox (id, key, to_address, subject, text) overriding system value
      values (${id}, ${`far-${id}`}, 'pager@example.com', 'hello', 'hi')`,
  };

  for (const [name, write] of Object.entries(WRITES)) {
    it(`lists ${name} and pages across them`, async () => {
      for (const id of [PAST, PAST + 1, PAST + 2]) await write(id);
      const first = (await get(`/v1/${name}?limit=2`)) as { items: { id: number }[]; next: string };
      expect(first.items.map((item) => item.id)).toEqual([PAST + 2, PAST + 1]);
      const second = (await get(`/v1/${name}?limit=2&before=${first.next}`)) as {
        items: { id: number }[];
      };
      expect(second.items.map((item) => item.id)[0]).toBe(PAST);
    });
  }

  it('opens a mail by such an id', async () => {
    const mail = (await get(`/v1/mailbox/${PAST}`)) as { id: number; subject: string };
    expect([mail.id, mail.subject]).toEqual([PAST, 'hello']);
  });
});
