// Contacts: the contact book, newest first, searched with the full-text index
// (each word a prefix of a word of the email; the search is in the URL); and
// one contact with its identity, attributes, the lists it is in, and one
// timeline — events, journeys, decisions and actions, newest first, "Older"
// paging back by the API's cursor, which is in the address (`?before=`): a
// reload keeps the older page and Back returns to the newer one. At a
// phone's width each contact of the book is a card (styles.css, table.stack).
// Above the book, the Sync panel (sync-panel.tsx): when the contact sync last
// ran, and Sync now.
import type { FormEvent, ReactNode } from 'react';
import type { TimelineItem } from '../../../src/client/index.js';
import { plural } from '../../../src/words.js';
import { nudge } from '../api.js';
import { ClockNote } from '../clock.js';
import { isIsoTime } from '../format.js';
import { Link, navigate } from '../router.js';
import { SyncPanel } from '../sync-panel.js';
import { Badge, Loading, Pager, Problem, Time, useLoad } from '../ui.js';

export function Contacts({ search }: { search?: string }) {
  const { data, error, reload } = useLoad(
    () => {
      // Newest first by id: contact ids are time-ordered (migration 006), so this walks the
      // primary key; created_at has no index and sorting by it read every contact (bench:dashboard).
      const query = nudge.contacts.query().order('id', { ascending: false }).limit(50);
      const terms = searchTerms(search);
      return (terms ? query.textSearch('email', terms) : query).page().then((page) => page.rows);
    },
    `contacts ${search ?? ''}`,
  );
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const value = new FormData(event.currentTarget).get('q');
    const q = typeof value === 'string' ? value.trim() : '';
    navigate({ page: 'contacts', ...(q ? { search: q } : {}) });
  };
  return (
    <section>
      <h1>Contacts</h1>
      <SyncPanel onSynced={reload} />
      <form className="filters" onSubmit={onSubmit}>
        <label>
          Email starts with{' '}
          <input
            key={search ?? ''}
            name="q"
            type="search"
            placeholder="the start, e.g. ann"
            aria-describedby="contacts-search-hint"
            defaultValue={search ?? ''}
          />
        </label>
        <button type="submit">Search</button>
        <span id="contacts-search-hint" className="muted small">
          Searches by the start of the email: ann finds ann.lee@example.com, lee does not.
        </span>
      </form>
      <Problem error={error} />
      <Loading data={data} error={error} />
      {data && data.length === 0 && <p className="muted">No contacts match.</p>}
      {data && data.length > 0 && (
        <div className="scroll">
          <table className="stack">
            <thead>
              <tr>
                <th>Email</th>
                <th>Created</th>
                <th>Last event</th>
                <th>Attributes</th>
              </tr>
            </thead>
            <tbody>
              {data.map((contact) => (
                <tr key={contact.id} data-contact={contact.email ?? contact.id}>
                  <td data-label="Email">
                    <Link to={{ page: 'contact', ref: contact.id }}>
                      {contact.email ?? contact.id}
                    </Link>
                  </td>
                  <td data-label="Created">
                    <Time at={contact.created_at} />
                  </td>
                  <td data-label="Last event">
                    <Time at={contact.last_event_at} relative />
                  </td>
                  <td data-label="Attributes" className="code">
                    {Object.keys(contact.attributes).join(', ')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/**
 * The search box's words as a full-text query served by the contacts'
 * search index: each word a prefix (`ann:*`), all of them required; quotes
 * and backslashes dropped, so no word can break the query's syntax.
 */
export function searchTerms(search: string | undefined): string | undefined {
  const words = (search ?? '')
    .split(/\s+/)
    .map((word) => word.replace(/['\\]/g, ''))
    .filter(Boolean);
  return words.length ? words.map((word) => `'${word}':*`).join(' & ') : undefined;
}

export function Contact({
  ref: reference,
  before,
}: {
  ref: string;
  /** The timeline's cursor at an older page ("Older"); none: the newest items. */
  before?: string;
}) {
  const { data, error } = useLoad(
    () => nudge.contacts.get(reference, { limit: 50, ...(before ? { before } : {}) }),
    `contact ${reference} ${before ?? ''}`,
    5000,
  );
  const lists = useLoad(() => nudge.contacts.lists(reference), `contact lists ${reference}`);
  const items = data?.timeline.items ?? [];
  const next = data?.timeline.next;
  return (
    <section>
      <p className="crumbs">
        <Link to={{ page: 'contacts' }}>Contacts</Link> /
      </p>
      <Problem error={error} />
      {data && (
        <>
          <h1>{data.contact.email ?? data.contact.id}</h1>
          <dl className="facts">
            <dt>Id</dt>
            <dd className="code">{data.contact.id}</dd>
            {data.contact.auth_user_id && (
              <>
                <dt>Auth user</dt>
                <dd className="code">{data.contact.auth_user_id}</dd>
              </>
            )}
            {data.contact.phone && (
              <>
                <dt>Phone</dt>
                <dd>{data.contact.phone}</dd>
              </>
            )}
            <dt>Created</dt>
            <dd>
              <Time at={data.contact.created_at} />
            </dd>
            {Object.entries(data.contact.attributes).map(([name, value]) => (
              <Attribute key={name} name={name} value={value} />
            ))}
            <dt>Lists</dt>
            <dd data-testid="contact-lists">
              {lists.data === undefined ? (
                <span className="muted">…</span>
              ) : lists.data.length === 0 ? (
                <span className="muted">none</span>
              ) : (
                lists.data.map((list, i) => (
                  <span key={list.id}>
                    {i > 0 && ', '}
                    <Link to={{ page: 'list', name: list.name }}>{list.name}</Link>
                    {list.kind === 'segment' && <span className="muted"> (segment)</span>}
                  </span>
                ))
              )}
            </dd>
            <dt>Decisions</dt>
            <dd>
              <Link
                to={{ page: 'logs', filter: { contact: data.contact.email ?? data.contact.id } }}
              >
                Logs of this contact
              </Link>
            </dd>
          </dl>
          <h2>Timeline</h2>
          <ClockNote>
            {(moved) =>
              `Events and action runs are in real time; journeys and decisions on the engine clock, ${moved}, which puts them that much higher in the timeline.`
            }
          </ClockNote>
          <ol className="decisions" aria-label="Timeline, newest first">
            {items.map((item, i) => (
              <li
                key={`${item.kind}-${String(item.id ?? item.feature ?? i)}-${item.at}`}
                className="decision"
                data-kind={item.kind}
              >
                <Time
                  at={item.at}
                  clock={ENGINE_CLOCK_KINDS.has(item.kind) ? 'engine' : 'real'}
                  tagged
                />
                <span className="feature">
                  {typeof item.feature === 'string' ? item.feature : '—'}
                </span>
                <span className="contact">
                  {/* A decision's badge says its outcome; its reason is beside it alone, as in Logs. */}
                  <Badge kind={item.kind === 'decision' ? String(item.outcome) : item.kind} />
                </span>
                <span className="what">{describe(item)}</span>
              </li>
            ))}
          </ol>
          {items.length === 0 && (
            <p className="muted">{before ? 'Nothing older.' : 'Nothing on the timeline yet.'}</p>
          )}
          <Pager
            newest={before ? { page: 'contact', ref: reference } : undefined}
            older={next ? { page: 'contact', ref: reference, before: next } : undefined}
          />
        </>
      )}
    </section>
  );
}

/**
 * One attribute and its value; a time (a synced `created_at`,
 * `last_sign_in_at`) as every time on the dashboard is shown — local time,
 * to the second, the exact value on hover — not as the raw ISO text.
 */
function Attribute({ name, value }: { name: string; value: unknown }) {
  return (
    <>
      <dt>{name}</dt>
      {isIsoTime(value) ? (
        <dd>
          <Time at={value} />
        </dd>
      ) : (
        <dd className="code">{typeof value === 'string' ? value : JSON.stringify(value)}</dd>
      )}
    </>
  );
}

/** The timeline's items stamped with the engine's time (the others: real time). */
const ENGINE_CLOCK_KINDS = new Set<TimelineItem['kind']>(['journey', 'decision']);

/** One line for a timeline item, in the words `nudge logs` uses; a decision's is its reason alone. */
function describe(item: TimelineItem): ReactNode {
  switch (item.kind) {
    case 'event':
      return `event ${String(item.name)} (${String(item.source)})`;
    case 'journey':
      return (
        <>
          journey {String(item.status)}
          {item.stage ? ` in ${String(item.stage)}` : ''}
          {typeof item.wake_at === 'string' && (
            <>
              , wakes <Time at={item.wake_at} clock="engine" tagged />
            </>
          )}
        </>
      );
    case 'decision':
      return String(item.reason);
    case 'action':
      return `${String(item.action)} ${String(item.status)} after ${plural(Number(item.attempts), 'attempt')}${item.last_error ? ` (${String(item.last_error)})` : ''}`;
  }
}
