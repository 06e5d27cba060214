// Small pieces every page uses: a time in local time with the exact value on
// hover (and its clock, where a list mixes two), a status badge, a loader
// hook that keeps the last data while it refreshes, an error line, the links
// that page a list back, and the question a change asks before it is made.
import { type ReactNode, useCallback, useContext, useEffect, useId, useRef, useState } from 'react';
import { NudgeApiError, NudgeUnreachableError } from '../../src/client/index.js';
import { ClockOffset, useClockMoved } from './clock.js';
import { localTime, relativeTime } from './format.js';
import { Link } from './router.js';
import type { Route } from './routes.js';

/**
 * A time in local time, to the second, on one line; the exact value on hover.
 * `clock`: which clock stamped it — an engine time is aged against the
 * engine's now (real time plus the offset the header shows), and while that
 * offset is not zero it is always dated: an engine time of the engine's
 * "today" would otherwise read as today in real time beside real times.
 * `tagged`: say that clock after it while the engine clock is not real time
 * (clock.tsx) — for lists that mix the two. `dated`: the date always (the
 * Clock page's engine time, where the date is the point).
 */
export function Time({
  at,
  relative = false,
  clock = 'real',
  tagged = false,
  dated = false,
}: {
  at: string | null;
  relative?: boolean;
  clock?: 'engine' | 'real';
  tagged?: boolean;
  dated?: boolean;
}) {
  const moved = useClockMoved();
  const offset = useContext(ClockOffset) ?? 0;
  if (!at) return <span className="muted">—</span>;
  const date = new Date(at);
  const now = new Date(Date.now() + (clock === 'engine' ? offset : 0));
  const shown = (
    <time dateTime={at} title={`${date.toString()}\n${at}`}>
      {relative
        ? relativeTime(date, now)
        : localTime(date, dated || (clock === 'engine' && offset !== 0) ? undefined : now)}
    </time>
  );
  if (!tagged || !moved) return shown;
  return (
    <span className="clock-time" data-clock={clock}>
      {shown}{' '}
      <span
        className="clock-tag"
        title={clock === 'engine' ? `The engine's clock: ${moved}` : 'Real time'}
      >
        {clock === 'engine' ? 'engine clock' : 'real time'}
      </span>
    </span>
  );
}

export function Badge({ kind, children }: { kind: string; children?: ReactNode }) {
  return <span className={`badge badge-${kind}`}>{children ?? kind}</span>;
}

export function Problem({ error }: { error: unknown }) {
  if (!error) return null;
  // The session ended (signed out elsewhere, the server restarted with a new
  // token): the way back is the sign-in page, not an API key.
  if (error instanceof NudgeApiError && error.status === 401) {
    return (
      <p className="problem" role="alert">
        Your session has ended.{' '}
        <a href={`${window.location.pathname}${window.location.search}`}>Sign in again</a>
      </p>
    );
  }
  // No answer at all: the server stopped (Ctrl-C, a restart) — say what to do, not fetch's words.
  if (error instanceof NudgeUnreachableError) {
    return (
      <p className="problem" role="alert">
        Cannot reach the Nudge server: it may have stopped. Start it again (nudge start, or nudge
        dev), then <a href={window.location.href}>reload this page</a>.
      </p>
    );
  }
  return (
    <p className="problem" role="alert">
      {error instanceof NudgeApiError
        ? error.detail
        : error instanceof Error
          ? error.message
          : String(error)}
    </p>
  );
}

/**
 * Under a list paged by the API's cursor: "Older" to the next page back and,
 * on an older page, "Newest" — links, since each page has its own address.
 */
export function Pager({
  newest,
  older,
}: {
  newest?: Route | undefined;
  older?: Route | undefined;
}) {
  if (!newest && !older) return null;
  return (
    <nav className="pager" aria-label="Older and newer">
      {newest && <Link to={newest}>Newest</Link>}
      {older && <Link to={older}>Older</Link>}
    </nav>
  );
}

/**
 * The second step of a change a click cannot take back (Deploy, Replay,
 * moving the engine clock): the question, saying what will happen with the
 * numbers known, then "Yes, …" and Cancel. Opened, it takes the focus, so a
 * screen reader reads the question and Tab reaches Yes (the focus is not put
 * on Yes itself: a held or doubled Enter must not confirm); Cancel or Escape
 * closes it; either way the focus goes back to the button that opened it.
 */
export function Confirm(props: {
  question: string;
  /** What Yes says it does: "Yes, deploy". */
  yes: string;
  /** Yes in red: what it does loses something. */
  danger?: boolean;
  onYes: () => void;
  onCancel: () => void;
}) {
  const id = useId();
  const box = useRef<HTMLFieldSetElement>(null);
  // The button that opened it, read as it opens (it has the focus then).
  const [opener] = useState(() => document.activeElement);
  useEffect(() => box.current?.focus(), []);
  const close = (then: () => void) => {
    if (opener instanceof HTMLElement && opener !== document.body && opener.isConnected)
      opener.focus();
    then();
  };
  return (
    <fieldset
      ref={box}
      className="confirm"
      aria-labelledby={id}
      tabIndex={-1}
      onKeyDown={(event) => {
        if (event.key !== 'Escape') return;
        event.stopPropagation();
        close(props.onCancel);
      }}
    >
      <span id={id} className="question">
        {props.question}
      </span>{' '}
      <span className="answers">
        <button
          type="button"
          className={props.danger ? 'danger' : 'primary'}
          onClick={() => close(props.onYes)}
        >
          {props.yes}
        </button>{' '}
        <button type="button" onClick={() => close(props.onCancel)}>
          Cancel
        </button>
      </span>
    </fieldset>
  );
}

/** What a page shows while its first read is on the way. */
export function Loading({ data, error }: { data: unknown; error: unknown }) {
  if (data !== undefined || error) return null;
  return (
    <p className="muted" role="status">
      Loading…
    </p>
  );
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  reload: () => void;
}

/** Loads `read()` when `key` changes, and every `everyMs` if given. */
export function useLoad<T>(read: () => Promise<T>, key: string, everyMs?: number): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [tick, setTick] = useState(0);
  const latest = useRef(read);
  latest.current = read;
  const reload = useCallback(() => setTick((n) => n + 1), []);
  // biome-ignore lint/correctness/useExhaustiveDependencies: key and tick say when to read again
  useEffect(() => {
    let live = true;
    latest.current().then(
      (value) => {
        if (!live) return;
        setData(value);
        setError(undefined);
      },
      (problem: unknown) => live && setError(problem),
    );
    return () => {
      live = false;
    };
  }, [key, tick]);
  useEffect(() => {
    if (!everyMs) return;
    const timer = setInterval(reload, everyMs);
    return () => clearInterval(timer);
  }, [everyMs, reload]);
  return { data, error, reload };
}

/** A labelled select whose choice goes to `onChange` (pages put it in the URL). */
export function Choice(props: {
  label: string;
  name?: string;
  value: string;
  options: readonly (readonly [value: string, label: string])[];
  onChange: (value: string) => void;
}) {
  return (
    <label>
      {props.label}{' '}
      <select
        name={props.name}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
      >
        {props.options.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
        {/* A value from the address that is not (yet) an option — a typo, a feature
            gone, the list still loading — is shown as it is, not as "all". */}
        {props.value !== '' && !props.options.some(([value]) => value === props.value) && (
          <option value={props.value}>{props.value}</option>
        )}
      </select>
    </label>
  );
}
