// Lists and segments: every list (static, with its member count; segments
// with their condition), a new segment from a PostgREST-style condition with
// a live count of the contacts it holds now; and one list's members, newest
// first, keyset-paged ("More" asks for the contacts below the last id shown),
// with what its condition warned of when it was made and, for a segment,
// Delete (asked twice).
import { type FormEvent, useEffect, useRef, useState } from 'react';
import type { Contact } from '../../../src/client/index.js';
import { NudgeApiError, nudge } from '../api.js';
import { count, isIsoTime, localTime } from '../format.js';
import { Link, navigate } from '../router.js';
import { Badge, Confirm, Problem, Time, useLoad } from '../ui.js';

const PAGE = 50;

export function Lists() {
  const { data, error, reload } = useLoad(() => nudge.lists.all(), 'lists');
  return (
    <section>
      <h1>Lists and segments</h1>
      <Problem error={error} />
      {data && data.length === 0 && (
        <p className="muted">
          No lists or segments yet. A segment is saved below; a static list is made through the API
          (<code>POST /v1/lists</code>).
        </p>
      )}
      {data && data.length > 0 && (
        <div className="scroll">
          <table className="stack lists">
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
                  <td data-label="List">
                    <Link to={{ page: 'list', name: list.name }}>{list.name}</Link>
                  </td>
                  <td data-label="Kind">
                    <Badge kind={list.kind === 'segment' ? 'synced' : 'active'}>{list.kind}</Badge>
                  </td>
                  {list.kind === 'segment' ? (
                    <td data-label="Condition" className="code">
                      {list.query}
                    </td>
                  ) : (
                    <td data-label="Members" className="num">
                      {count(list.members ?? 0)}
                    </td>
                  )}
                  <td data-label="Created">
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

/**
 * Whether a condition as typed can be asked for yet. Half-typed (ending in
 * `=` or `.`, a parenthesis still open) it is not: the API's 400 would only
 * say so, a red line in the console for each key. A part with no `=` at all
 * (`signed up`) is refused here in the form's words: the API reads it as a
 * field with an empty value ("expected <op>.<value>, got """).
 */
function draftOf(text: string): 'ask' | 'typing' | { problem: string } {
  const open = [...text].reduce((depth, c) => depth + (c === '(' ? 1 : c === ')' ? -1 : 0), 0);
  if (/[=.]$/.test(text) || open !== 0) return 'typing';
  const bare = text.split('&').find((part) => part.trim() && !part.includes('='));
  return bare === undefined
    ? 'ask'
    : { problem: `${bare.trim()}: expected field=op.value, e.g. plan=eq.pro` };
}

/**
 * How many contacts a condition holds now, asked again as it is typed: once
 * typing stops for 300 ms, and only for a condition that can be one (draftOf);
 * with the count, what the API warns of it (an attribute no contact has yet),
 * as it warns when the segment is made.
 */
function useLiveCount(condition: string) {
  const [state, setState] = useState<{
    total?: number;
    /** What the API warns of the condition: an attribute no contact has yet. */
    warnings?: string[];
    error?: unknown;
    asking: boolean;
  }>({
    asking: false,
  });
  useEffect(() => {
    const text = condition.trim();
    const draft = text ? draftOf(text) : 'typing';
    if (draft === 'ask') setState((old) => ({ ...old, asking: true }));
    else setState({ asking: false });
    if (draft === 'typing') return;
    let live = true;
    const timer = setTimeout(() => {
      if (draft !== 'ask') {
        setState({ error: new Error(draft.problem), asking: false });
        return;
      }
      nudge.contacts
        .query()
        .where(text)
        .limit(0)
        .page({ count: true })
        .then(
          (page) =>
            live && setState({ total: page.total ?? 0, warnings: page.warnings, asking: false }),
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

/**
 * What the API warned of when a segment was made (POST /v1/lists answers
 * them; reading a list does not compute them again, a scan of every
 * contact). Carried in the history entry of the segment's page that Create
 * opens, so that page shows them, and again on reload or Back; the page
 * opened any other way has none to show.
 */
interface MadeState {
  segmentWarnings?: string[];
}

function carriedWarnings(): string[] {
  const state = window.history.state as MadeState | null;
  return Array.isArray(state?.segmentWarnings) ? state.segmentWarnings : [];
}

/**
 * A refusal of the name (`name: expected …`), shown right under the Name
 * field (in view on a phone, where the form is one field a line), which
 * takes the focus; editing the name clears it. Anything else: below the form.
 */
const nameProblem = (error: unknown) =>
  error instanceof NudgeApiError && error.detail.startsWith('name: ') ? error.detail : undefined;

function NewSegment({ onCreated }: { onCreated: () => void }) {
  const [condition, setCondition] = useState('');
  const [problem, setProblem] = useState<unknown>();
  const live = useLiveCount(condition);
  const ofName = nameProblem(problem);
  const nameField = useRef<HTMLInputElement>(null);
  // A refused name: the field takes the focus, so the fix is typed there (its refusal read out with it).
  useEffect(() => {
    if (ofName) nameField.current?.focus();
  }, [ofName]);
  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const name = String(form.get('name') ?? '').trim();
    setProblem(undefined);
    try {
      const made = await nudge.lists.create(name, { query: condition.trim() });
      onCreated();
      const state: MadeState = { segmentWarnings: made.warnings ?? [] };
      navigate({ page: 'list', name }, { state });
    } catch (error) {
      setProblem(error);
    }
  };
  return (
    <section aria-labelledby="new-segment">
      <h2 id="new-segment">New segment</h2>
      <form className="filters" onSubmit={onSubmit}>
        <label className="field">
          Name{' '}
          <input
            ref={nameField}
            name="name"
            required
            placeholder="e.g. signed-in"
            aria-invalid={ofName ? true : undefined}
            aria-describedby={ofName ? 'segment-name-problem' : undefined}
            onChange={() => ofName && setProblem(undefined)}
          />
        </label>
        {ofName && (
          <p className="problem form-problem" id="segment-name-problem" role="alert">
            {ofName}
          </p>
        )}
        <label className="field wide">
          Condition{' '}
          <input
            name="query"
            className="code"
            required
            placeholder="provider=eq.email&last_sign_in_at=not.is.null"
            value={condition}
            onChange={(e) => setCondition(e.target.value)}
          />
        </label>
        {/* Its width is kept whatever it says, so the form does not move as the count comes. */}
        <span className="muted live-count" aria-live="polite" data-testid="live-count">
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
      {!live.asking &&
        live.warnings?.map((warning) => (
          <p key={warning} className="note" data-testid="live-count-warning">
            Warning: {warning}. The segment can be made all the same, and matches on it once
            contacts have it.
          </p>
        ))}
      <Problem error={live.error ?? (ofName ? undefined : problem)} />
      <p className="muted small">
        The name is letters, digits, <code>-</code> and <code>_</code>, as a feature's. The
        condition is a PostgREST query string over contacts, as in <code>GET /v1/contacts?…</code>:{' '}
        <code>provider=eq.email</code>, <code>email=like.*@example.com</code>,{' '}
        <code>or=(provider.eq.google,provider.eq.github)</code>, <code>onboarded=is.true</code>.
        Fields are a contact's email, phone and created_at, and its attributes (a contact's page
        lists them); an attribute no contact has yet is accepted, and the segment's page says so.
      </p>
    </section>
  );
}

export function List({ name }: { name: string }) {
  const [rows, setRows] = useState<Contact[]>([]);
  const [more, setMore] = useState(false);
  const [problem, setProblem] = useState<unknown>();
  const [warnings, setWarnings] = useState<string[]>([]);
  const info = useLoad(() => nudge.lists.get(name), `list ${name}`);
  // biome-ignore lint/correctness/useExhaustiveDependencies: each list's page has its history entry
  useEffect(() => setWarnings(carriedWarnings()), [name]);

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
      {list?.kind === 'segment' ? (
        <DeleteSegment name={name} onProblem={setProblem} />
      ) : (
        <h1>{name}</h1>
      )}
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
      {warnings.map((warning) => (
        <p key={warning} className="note" data-testid="segment-warning">
          Warning: {warning}. The segment is kept, and matches on it once contacts have it.
        </p>
      ))}
      <ol className="decisions" aria-label="Members, newest first">
        {rows.map((contact) => (
          <li key={contact.id} className="decision" data-contact={contact.email ?? contact.id}>
            <Time at={contact.created_at} />
            <span className="contact">
              <Link to={{ page: 'contact', ref: contact.id }}>{contact.email ?? contact.id}</Link>
            </span>
            <AttributeValues attributes={contact.attributes} />
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

/** How many attributes a member's row shows, and how much of each value. */
const SHOWN_ATTRIBUTES = 6;
const VALUE_CHARS = 32;

/**
 * A member's attributes with their values (`plan: pro, country: FR`), nulls
 * left out, times in local time, each value cut to VALUE_CHARS and the row to SHOWN_ATTRIBUTES
 * ("+2 more"); every one whole on hover.
 */
function AttributeValues({ attributes }: { attributes: Record<string, unknown> }) {
  const pairs = Object.entries(attributes)
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([key, value]) => `${key}: ${valueText(value)}`);
  const cut = (text: string) => {
    const at = text.indexOf(': ') + 2 + VALUE_CHARS;
    return text.length > at + 1 ? `${text.slice(0, at)}…` : text;
  };
  const shown = pairs.slice(0, SHOWN_ATTRIBUTES).map(cut).join(', ');
  const more = pairs.length - SHOWN_ATTRIBUTES;
  return (
    <span className="what code member-attributes" title={pairs.join('\n')}>
      {shown}
      {more > 0 && <span className="muted"> +{more} more</span>}
    </span>
  );
}

/** An ISO timestamp (a synced `created_at`) in local time, as the pages show times; else the value. */
function valueText(value: unknown): string {
  if (isIsoTime(value)) return localTime(new Date(value), new Date());
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * The segment's heading with Delete beside it, asked twice (ui.tsx Confirm):
 * "Delete segment" opens "Delete "x"? … Yes, delete / Cancel" under it
 * (Cancel or Escape close it), and Yes deletes and goes back to Lists. Only
 * segments: a static list's members would go with it.
 */
function DeleteSegment({ name, onProblem }: { name: string; onProblem: (error: unknown) => void }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const remove = async () => {
    setAsking(false);
    setBusy(true);
    onProblem(undefined);
    try {
      await nudge.lists.delete(name);
      navigate({ page: 'lists' }, { replace: true });
    } catch (error) {
      onProblem(error);
      setBusy(false);
    }
  };
  return (
    <>
      <div className="heading start">
        <h1>{name}</h1>
        <button
          type="button"
          onClick={() => setAsking(true)}
          disabled={busy}
          aria-expanded={asking}
        >
          {busy ? 'Deleting…' : 'Delete segment'}
        </button>
      </div>
      {asking && (
        <Confirm
          question={`Delete “${name}”? Its condition goes; its members stay contacts.`}
          yes="Yes, delete"
          danger
          onYes={remove}
          onCancel={() => setAsking(false)}
        />
      )}
    </>
  );
}
