// Logs: every decision — matched or skipped and why, journey moves, actions
// and their run's state, each attempt of an action with its result and time —
// newest first, filtered by feature, contact, outcome and time (each filter
// in the URL), paged back by keyset, and a live tail: new decisions arrive
// over server-sent events and appear at the top without a reload. "Older"
// goes to the address of the next page back (`before`), so a reload or a
// copied link keeps it and Back returns to the newer one; an older page has
// no tail, and a filter starts over at the newest. A filter the API refuses
// (422: a contact no one is, a feature no file has) shows why instead of a list.
// A session that ended while the tail runs (signed out in another tab, a new
// token) ends the tail too, and the page says so: see useSessionWatch.
// Above the list, each feature paused live now (of the filtered one), since
// when and by whom, as `nudge logs` says it; the tail updates it as a
// feature is paused or resumed. The pause and the resume are also decisions
// in the list (badges `paused`, `resumed`, the reason saying by whom), past
// ones too.
// The raw ingest records are the next tab (Ingest.tsx).
import { type FormEvent, useContext, useEffect, useState } from 'react';
import {
  type DecisionItem,
  type LivePause,
  NudgeApiError,
  OUTCOMES,
} from '../../../src/client/index.js';
import { parseJsonDigits } from '../../../src/db/json.js';
import { plural } from '../../../src/words.js';
import { nudge } from '../api.js';
import { ClockNote, ClockOffset, stampedAhead } from '../clock.js';
import { Link, navigate } from '../router.js';
import { type LogFilter, type Route, withFilter } from '../routes.js';
import { rangeOf, TimeRange } from '../time-range.js';
import { Badge, Choice, Loading, Pager, Problem, Time, useLoad } from '../ui.js';

const PAGE = 50;
/** How often a live tail asks whether its session still holds. */
const SESSION_CHECK_MS = 5000;

/** A 401: the session ended (signed out, another token); Problem says so and how back. */
const sessionEnded = (error: unknown) => error instanceof NudgeApiError && error.status === 401;

export function Logs({
  filter,
  before,
}: {
  filter: LogFilter;
  /** The cursor of an older page ("Older"); none: the newest decisions, and the live tail. */
  before?: string;
}) {
  const key = JSON.stringify([filter, before ?? null]);
  const [items, setItems] = useState<DecisionItem[]>([]);
  // 0 once read: on real time now (undefined: not read yet, nothing said).
  const offset = useContext(ClockOffset);
  const [next, setNext] = useState<string | null>(null);
  // The features paused live now: from the page, then from the tail as they are paused or resumed.
  const [paused, setPaused] = useState<LivePause[]>([]);
  const [problem, setProblem] = useState<unknown>();
  const [live, setLive] = useState<'connecting' | 'live' | 'off' | 'ended'>('connecting');
  const [loaded, setLoaded] = useState(false);
  const features = useLoad(() => nudge.features.all(), 'feature names');
  // A match says which trigger it met: the feature's trigger as it reads now.
  const triggers = new Map((features.data ?? []).map((f) => [f.name, f.trigger]));

  // The page, then (on the newest) the tail from the newest decision it holds.
  // biome-ignore lint/correctness/useExhaustiveDependencies: the filter's and page's key says when to start over
  useEffect(() => {
    let open = true;
    let source: EventSource | undefined;
    let watch: (() => void) | undefined;
    // The session ended: the tail stops (its stream may well stay open: the
    // server cannot know a cookie was deleted), and the page says why.
    const ended = (error: unknown) => {
      if (!open) return;
      source?.close();
      watch?.();
      setProblem(error);
      setLive('ended');
    };
    // Asks whether the session holds: now and then while the tail runs, when
    // the page is looked at again, and when the stream fails.
    const check = () => {
      nudge.session().then(
        () => {},
        (error: unknown) => sessionEnded(error) && ended(error),
      );
    };
    setItems([]);
    setNext(null);
    setProblem(undefined);
    setLive('connecting');
    setLoaded(false);
    nudge.decisions.list({ ...filter, limit: PAGE, ...(before ? { before } : {}) }).then(
      (page) => {
        if (!open) return;
        setLoaded(true);
        setItems(page.items);
        setNext(page.next);
        setPaused(page.paused);
        // An older page, or a window that has ended, gets nothing new: no tail.
        if (before || (filter.to && new Date(filter.to).getTime() <= Date.now())) {
          setLive('off');
          return;
        }
        source = new EventSource(
          nudge.decisions.streamUrl({ ...filter, after: page.items[0]?.id ?? 0 }),
        );
        source.addEventListener('ready', () => setLive('live'));
        source.addEventListener('paused', (event) => {
          const said = parseJsonDigits((event as MessageEvent<string>).data) as {
            paused: LivePause[];
          };
          setPaused(said.paused);
        });
        source.addEventListener('decision', (event) => {
          const item = parseJsonDigits((event as MessageEvent<string>).data) as DecisionItem;
          setItems((old) => (old.some((o) => o.key === item.key) ? old : [item, ...old]));
          // A resume ends its note above the list with its line, not up to a second
          // later with the tail's next `paused` event (which then agrees).
          if (item.outcome === 'resumed') {
            setPaused((old) => old.filter((pause) => pause.feature !== item.feature));
          }
        });
        source.onerror = () => {
          setLive(source?.readyState === EventSource.CLOSED ? 'off' : 'connecting');
          check();
        };
        watch = watchSession(check);
      },
      (error: unknown) => {
        if (!open) return;
        setProblem(error);
        setLive(sessionEnded(error) ? 'ended' : 'off');
      },
    );
    return () => {
      open = false;
      source?.close();
      watch?.();
    };
  }, [key]);

  // This filter's route, at the newest decisions or at an older page.
  const here = (cursor?: string): Route => ({
    page: 'logs',
    filter,
    ...(cursor ? { before: cursor } : {}),
  });
  // A filter changed starts again at the newest decisions: no `before`.
  const apply = (change: LogFilter) =>
    navigate({ page: 'logs', filter: withFilter(filter, change) });
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const value = form.get('contact');
    apply({ contact: typeof value === 'string' ? value.trim() : '', ...rangeOf(form) });
  };

  return (
    <section>
      <div className="heading">
        <h1>Logs</h1>
        <nav aria-label="Logs" className="tabs">
          <Link to={{ page: 'logs', filter: {} }} aria-current="page">
            Decisions
          </Link>
          <Link to={{ page: 'ingest', filter: {} }}>Ingest records</Link>
        </nav>
        {!before && (
          <span className={`live live-${live}`} data-testid="live" aria-live="polite">
            {live === 'live'
              ? '● live'
              : live === 'connecting'
                ? '○ connecting…'
                : live === 'ended'
                  ? '○ not live: session ended'
                  : '○ not live'}
          </span>
        )}
      </div>
      <ClockNote>
        {(moved) =>
          `Decision times (and From and To) are on the engine clock, ${moved}; action runs, mail and ingest records are in real time.`
        }
      </ClockNote>
      {offset === 0 && stampedAhead(items.map((item) => item.at)) && (
        <p className="note clock-note" data-testid="clock-note">
          Decision times are on the engine clock: the lines stamped after real time now were decided
          while nudge clock had moved it ahead.
        </p>
      )}
      {paused.map((pause) => (
        <p key={pause.feature} className="note" data-testid="paused-live">
          <Link to={{ page: 'feature', name: pause.feature }}>{pause.feature}</Link> is paused live,
          since <Time at={pause.at} tagged /> by {pause.by}: its events are skipped with the reason
          “paused” until it is resumed (on its page, or nudge resume {pause.feature}).
        </p>
      ))}
      <form className="filters" onSubmit={onSubmit}>
        <Choice
          label="Feature"
          name="feature"
          value={filter.feature ?? ''}
          options={[['', 'all'], ...(features.data ?? []).map((f) => [f.name, f.name] as const)]}
          onChange={(feature) => apply({ feature })}
        />
        <Choice
          label="Outcome"
          name="outcome"
          value={filter.outcome ?? ''}
          options={[['', 'all'], ...OUTCOMES.map((outcome) => [outcome, outcome] as const)]}
          onChange={(outcome) => apply({ outcome })}
        />
        <label>
          Contact{' '}
          <input
            key={filter.contact ?? ''}
            name="contact"
            type="search"
            placeholder="email or id"
            defaultValue={filter.contact ?? ''}
          />
        </label>
        <TimeRange from={filter.from} to={filter.to} />
        <button type="submit">Filter</button>
      </form>
      <Problem error={problem} />
      <ol className="decisions" aria-label="Decisions, newest first">
        {items.map((item) => (
          <li
            key={item.key}
            className={`decision outcome-${item.outcome}`}
            data-feature={item.feature ?? ''}
            data-outcome={item.outcome}
          >
            <Time at={item.at} clock="engine" />
            <span className="feature">
              {item.feature ? (
                <Link to={{ page: 'feature', name: item.feature }}>{item.feature}</Link>
              ) : (
                '—'
              )}
            </span>
            <span className="contact">
              {item.contact ? (
                <>
                  <Link to={{ page: 'contact', ref: item.contact_id ?? item.contact }}>
                    {item.contact}
                  </Link>
                  {filter.contact !== item.contact && (
                    <>
                      {' '}
                      <Link
                        to={{ page: 'logs', filter: { contact: item.contact } }}
                        className="filter-by"
                        label={`Only this contact's decisions (${item.contact})`}
                      >
                        only
                      </Link>
                    </>
                  )}
                </>
              ) : (
                <span className="muted">{item.event ?? '—'}</span>
              )}
            </span>
            <span className="what">
              <Badge kind={item.outcome} />
              <span className="reason">
                {/* The badge says the outcome: the reason alone beside it. */}
                {item.attempt?.replay
                  ? `${replayed(item.attempt.replay)}: ${item.reason}`
                  : item.reason}
                {item.outcome === 'matched' && item.feature && triggers.get(item.feature) && (
                  <span className="muted"> · {triggers.get(item.feature)}</span>
                )}
                {item.action && item.action.status !== 'succeeded' && (
                  <>
                    {' '}
                    → {item.action.status}
                    {item.action.attempts
                      ? ` after ${plural(item.action.attempts, 'attempt')}`
                      : ''}
                    {item.action.last_error ? ` (${item.action.last_error})` : ''}
                  </>
                )}
                {item.attempt && (
                  <span className="muted" data-testid="attempt">
                    {/* An attempt's own row says which attempt and how it went already. */}
                    {item.outcome === 'attempt'
                      ? item.attempt.ms !== null
                        ? ` · in ${item.attempt.ms} ms`
                        : ''
                      : ` · attempt ${item.attempt.number} ${item.attempt.status}${item.attempt.ms !== null ? ` in ${item.attempt.ms} ms` : ''}`}
                  </span>
                )}
              </span>
            </span>
          </li>
        ))}
      </ol>
      <Loading data={loaded ? items : undefined} error={problem} />
      {loaded && items.length === 0 && !problem && (
        <p className="muted" data-testid="no-decisions">
          {live === 'off'
            ? 'No decisions match.'
            : 'No decisions match yet; new ones appear here as they are made.'}
        </p>
      )}
      <Pager newest={before ? here() : undefined} older={next ? here(next) : undefined} />
    </section>
  );
}

/**
 * Runs `check` every few seconds and whenever the page is shown again (back
 * from another tab, where one may have signed out); returns the stop.
 */
function watchSession(check: () => void): () => void {
  const timer = setInterval(check, SESSION_CHECK_MS);
  const shown = () => document.visibilityState === 'visible' && check();
  document.addEventListener('visibilitychange', shown);
  window.addEventListener('focus', check);
  return () => {
    clearInterval(timer);
    document.removeEventListener('visibilitychange', shown);
    window.removeEventListener('focus', check);
  };
}

/** "replayed", "replayed 2 times": an attempt made after its run was replayed, as nudge logs says it. */
function replayed(times: number): string {
  return times === 1 ? 'replayed' : `replayed ${times} times`;
}
