// Logs › Ingest records: the raw ingest log — each captured change or event
// as it reached the engine (source, table and operation or event name, the
// row as captured, when it happened, arrived and was processed, its lane),
// newest first, filtered by source, table or event, and time received (each
// filter in the URL), paged back by keyset: "Older" goes to the address of
// the next page back (`before`), so a reload or a copied link keeps it and
// Back returns to the newer one; a filter starts over at the newest. A name
// with a dot that matches nothing is said to be looked up as a table.
import { type FormEvent, useEffect, useState } from 'react';
import { INGEST_SOURCES, type IngestRecord } from '../../../src/client/index.js';
import { nudge } from '../api.js';
import { ClockNote } from '../clock.js';
import { Link, navigate } from '../router.js';
import { type IngestFilter, type Route, withFilter } from '../routes.js';
import { rangeOf, TimeRange } from '../time-range.js';
import { Badge, Choice, Pager, Problem, Time } from '../ui.js';

const PAGE = 50;

export function Ingest({
  filter,
  before,
}: {
  filter: IngestFilter;
  /** The cursor of an older page ("Older"); none: the newest records. */
  before?: string;
}) {
  const key = JSON.stringify([filter, before ?? null]);
  const [items, setItems] = useState<IngestRecord[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [problem, setProblem] = useState<unknown>();
  const [loaded, setLoaded] = useState(false);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the filter's and page's key says when to read again
  useEffect(() => {
    let open = true;
    setLoaded(false);
    setProblem(undefined);
    nudge.ingest.list({ ...filter, limit: PAGE, ...(before ? { before } : {}) }).then(
      (page) => {
        if (!open) return;
        setItems(page.items);
        setNext(page.next);
        setLoaded(true);
      },
      (error: unknown) => open && setProblem(error),
    );
    return () => {
      open = false;
    };
  }, [key]);

  // This filter's route, at the newest records or at an older page.
  const here = (cursor?: string): Route => ({
    page: 'ingest',
    filter,
    ...(cursor ? { before: cursor } : {}),
  });
  // A filter changed starts again at the newest records: no `before`. The
  // source applies as soon as it is chosen (as every select of Logs and
  // Actions); the text and times when the form is submitted.
  const apply = (change: IngestFilter) =>
    navigate({ page: 'ingest', filter: withFilter(filter, change) });
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const value = form.get('subject');
    apply({ subject: typeof value === 'string' ? value.trim() : '', ...rangeOf(form) });
  };

  return (
    <section>
      <div className="heading">
        <h1>Logs</h1>
        <nav aria-label="Logs" className="tabs">
          <Link to={{ page: 'logs', filter: {} }}>Decisions</Link>
          <Link to={{ page: 'ingest', filter: {} }} aria-current="page">
            Ingest records
          </Link>
        </nav>
      </div>
      <ClockNote>
        {(moved) =>
          `Received times (and From and To) are in real time, and so is when a change or event occurred — except a schedule record's, which is its scheduled run's time; that and processed are on the engine clock, ${moved}.`
        }
      </ClockNote>
      <form className="filters" onSubmit={onSubmit}>
        <Choice
          label="Source"
          name="source"
          value={filter.source ?? ''}
          options={['', ...INGEST_SOURCES].map((s) => [s, s || 'all'] as const)}
          onChange={(source) => apply({ source })}
        />
        <label>
          Table or event{' '}
          <input
            key={filter.subject ?? ''}
            name="subject"
            type="search"
            placeholder="public.orders"
            defaultValue={filter.subject ?? ''}
          />
        </label>
        <TimeRange from={filter.from} to={filter.to} />
        <button type="submit">Filter</button>
      </form>
      <Problem error={problem} />
      <ol className="decisions" aria-label="Ingest records, newest first">
        {items.map((item) => (
          <li key={item.id} className="decision ingest" data-id={item.id} data-source={item.source}>
            <Time at={item.received_at} />
            <span className="feature">
              <Badge kind="synced">{item.source}</Badge>
            </span>
            <span className="contact code">
              {item.event_name
                ? `event ${item.event_name}`
                : `${item.operation ?? '?'} on ${item.schema_name}.${item.table_name}`}
            </span>
            <span className="what">
              <span className="muted small">
                #{item.id} · lane {item.lane} · occurred{' '}
                <Time
                  at={item.occurred_at}
                  clock={item.source === 'schedule' ? 'engine' : 'real'}
                  tagged={item.source === 'schedule'}
                />{' '}
                ·{' '}
                {item.processed_at ? (
                  <>
                    processed <Time at={item.processed_at} clock="engine" tagged />
                  </>
                ) : (
                  <Badge kind="paused">waiting</Badge>
                )}
              </span>
              <details>
                <summary>row</summary>
                <pre className="yaml">
                  {JSON.stringify({ new: item.new_row, old: item.old_row }, null, 2)}
                </pre>
              </details>
            </span>
          </li>
        ))}
      </ol>
      {loaded && items.length === 0 && !problem && (
        <p className="muted" data-testid="ingest-none">
          No ingest records match.
          {filter.subject?.includes('.') && (
            <>
              {' '}
              Captured changes are found by their table (<code>auth.users</code>,{' '}
              <code>storage.objects</code>), not by an event name they stand for (
              <code>storage.object.created</code>); event names match events sent to{' '}
              <code>/v1/events</code>.
            </>
          )}
        </p>
      )}
      <Pager newest={before ? here() : undefined} older={next ? here(next) : undefined} />
    </section>
  );
}
