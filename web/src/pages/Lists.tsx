// Lists and segments: every list (static, with its member count; segments
// with their condition), a new segment from a PostgREST-style condition with
// a live count of the contacts it holds now; and one list's members, newest
// first, keyset-paged ("More" asks for the contacts below the last id shown).
import { type FormEvent, useEffect, useState } from 'react';
import type { Contact } from '../../../src/client/index.js';
import { nudge } from '../api.js';
import { count } from '../format.js';
import { Link, navigate } from '../router.js';
import { Badge, Problem, Time, useLoad } from '../ui.js';

const PAGE = 50;

export function Lists() {
  const { data, error, reload } = useLoad(() => nudge.lists.all(), 'lists');
  return (
    <section>
      <h1>Lists and segments</h1>
      <Problem error={error} />
      {data && data.length === 0 && <p className="muted">No lists yet.</p>}
      {data && data.length > 0 && (
        <div className="scroll">
          <table>
            <thead>
              <tr>
                <th>List</th>
                <th>Kind</th>
                <th>Members or condition</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {data.map((list) => (
                <tr key={list.id} data-list={list.name}>
                  <td>
                    <Link to={{ page: 'list', name: list.name }}>{list.name}</Link>
                  </td>
                  <td>
                    <Badge kind={list.kind === 'segment' ? 'synced' : 'active'}>{list.kind}</Badge>
                  </td>
                  <td className={list.kind === 'segment' ? 'code' : 'num'}>
                    {list.kind === 'segment' ? list.query : count(list.members ?? 0)}
                  </td>
                  <td>
                    <Time at={list.created_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <NewSegment onCreated={reload} />
    </section>
  );
}

/** How many contacts a condition holds now, asked again as it is typed. */
function useLiveCount(condition: string) {
  const [state, setState] = useState<{ total?: number; error?: unknown; asking: boolean }>({
    asking: false,
  });
  useEffect(() => {
    const text = condition.trim();
    if (!text) {
      setState({ asking: false });
      return;
    }
    let live = true;
    setState((old) => ({ ...old, asking: true }));
    const timer = setTimeout(() => {
      nudge.contacts
        .query()
        .where(text)
        .limit(0)
        .page({ count: true })
        .then(
          (page) => live && setState({ total: page.total ?? 0, asking: false }),
          (error: unknown) => live && setState({ error, asking: false }),
        );
    }, 300);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [condition]);
  return state;
}

function NewSegment({ onCreated }: { onCreated: () => void }) {
  const [condition, setCondition] = useState('');
  const [problem, setProblem] = useState<unknown>();
  const live = useLiveCount(condition);
  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const name = String(form.get('name') ?? '').trim();
    setProblem(undefined);
    try {
      await nudge.lists.create(name, { query: condition.trim() });
      onCreated();
      navigate({ page: 'list', name });
    } catch (error) {
      setProblem(error);
    }
  };
  return (
    <section aria-labelledby="new-segment">
      <h2 id="new-segment">New segment</h2>
      <form className="filters" onSubmit={onSubmit}>
        <label>
          Name <input name="name" required />
        </label>
        <label className="wide">
          Condition{' '}
          <input
            name="query"
            className="code"
            required
            placeholder="provider=eq.email&confirmed_at=not.is.null"
            value={condition}
            onChange={(e) => setCondition(e.target.value)}
          />
        </label>
        <span className="muted" aria-live="polite" data-testid="live-count">
          {live.asking
            ? 'counting…'
            : live.total !== undefined
              ? `${count(live.total)} contact${live.total === 1 ? '' : 's'} now`
              : ''}
        </span>
        <button type="submit" className="primary" disabled={live.error !== undefined}>
          Create segment
        </button>
      </form>
      <Problem error={live.error ?? problem} />
      <p className="muted small">
        The condition is a PostgREST query string over contacts, as in{' '}
        <code>GET /v1/contacts?…</code>: <code>provider=eq.google</code>,{' '}
        <code>email=like.*@acme.com</code>, <code>or=(provider.eq.google,provider.eq.github)</code>,{' '}
        <code>onboarded=is.true</code>. Fields are a contact's email, phone and created_at, and its
        attributes (a contact's page lists them); a field no contact has matches nobody.
      </p>
    </section>
  );
}

export function List({ name }: { name: string }) {
  const [rows, setRows] = useState<Contact[]>([]);
  const [more, setMore] = useState(false);
  const [problem, setProblem] = useState<unknown>();
  const info = useLoad(
    () => nudge.lists.all().then((all) => all.find((l) => l.name === name)),
    `list ${name}`,
  );

  const read = (below?: string) => {
    const query = nudge.lists.members(name).order('id', { ascending: false }).limit(PAGE);
    return (below ? query.lt('id', below) : query).page();
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: the list's name says when to start over
  useEffect(() => {
    let open = true;
    setRows([]);
    setProblem(undefined);
    read().then(
      (page) => {
        if (!open) return;
        setRows(page.rows);
        setMore(page.rows.length === PAGE);
      },
      (error: unknown) => open && setProblem(error),
    );
    return () => {
      open = false;
    };
  }, [name]);
  const next = async () => {
    try {
      const page = await read(rows.at(-1)?.id);
      setRows((old) => [...old, ...page.rows]);
      setMore(page.rows.length === PAGE);
    } catch (error) {
      setProblem(error);
    }
  };
  const list = info.data;
  return (
    <section>
      <p className="crumbs">
        <Link to={{ page: 'lists' }}>Lists</Link> /
      </p>
      <h1>{name}</h1>
      <Problem error={info.error ?? problem} />
      {list && (
        <p className="muted">
          {list.kind === 'segment' ? (
            <>
              Segment: <code>{list.query}</code>, evaluated when read.
            </>
          ) : (
            <>Static list of {count(list.members ?? 0)} contacts.</>
          )}
        </p>
      )}
      <ol className="decisions" aria-label="Members, newest first">
        {rows.map((contact) => (
          <li key={contact.id} className="decision" data-contact={contact.email ?? contact.id}>
            <Time at={contact.created_at} />
            <span className="contact">
              <Link to={{ page: 'contact', ref: contact.id }}>{contact.email ?? contact.id}</Link>
            </span>
            <span className="what code">{Object.keys(contact.attributes).join(', ')}</span>
          </li>
        ))}
      </ol>
      {rows.length === 0 && !problem && <p className="muted">No members.</p>}
      {more && (
        <button type="button" onClick={next}>
          More
        </button>
      )}
    </section>
  );
}
