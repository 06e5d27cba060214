// The dashboard: a header with the pages, and the page the URL names. It
// reads and writes only through /v1 (api.ts); without a session the server
// shows its login page instead of this app. The first thing Tab reaches is
// "Skip to content", past the header to the page.
import { type MouseEvent, StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { nudge, onSessionEnded, startSession } from './api.js';
import { CLOCK_MOVED, ClockOffset, useClockMoved } from './clock.js';
import { Actions } from './pages/Actions.js';
import { Clock } from './pages/Clock.js';
import { Contact, Contacts } from './pages/Contacts.js';
import { Feature } from './pages/Feature.js';
import { Features } from './pages/Features.js';
import { Ingest } from './pages/Ingest.js';
import { List, Lists } from './pages/Lists.js';
import { Logs } from './pages/Logs.js';
import { Mailbox } from './pages/Mailbox.js';
import { Overview } from './pages/Overview.js';
import { Link, useRoute } from './router.js';
import type { Route } from './routes.js';
import { Problem, useLoad } from './ui.js';
import './styles.css';

const PAGES: { to: Route; label: string; active: Route['page'][] }[] = [
  { to: { page: 'overview' }, label: 'Overview', active: ['overview'] },
  { to: { page: 'features' }, label: 'Features', active: ['features', 'feature'] },
  { to: { page: 'logs', filter: {} }, label: 'Logs', active: ['logs', 'ingest'] },
  { to: { page: 'contacts' }, label: 'Contacts', active: ['contacts', 'contact'] },
  { to: { page: 'lists' }, label: 'Lists', active: ['lists', 'list'] },
  { to: { page: 'actions' }, label: 'Actions', active: ['actions'] },
  { to: { page: 'mailbox' }, label: 'Mailbox', active: ['mailbox'] },
  { to: { page: 'clock' }, label: 'Clock', active: ['clock'] },
];

function App() {
  const route = useRoute();
  const [who, setWho] = useState<{ name: string } | 'signed-out'>();
  const [problem, setProblem] = useState<unknown>();
  const [ended, setEnded] = useState(false);
  useEffect(() => {
    startSession().then(setWho, setProblem);
    return onSessionEnded(() => setEnded(true));
  }, []);
  useEffect(() => {
    const titles: Record<Route['page'], string> = {
      overview: 'Overview',
      features: 'Features',
      feature: route.page === 'feature' ? route.name : 'Feature',
      logs: 'Logs',
      ingest: 'Ingest records',
      actions: 'Actions',
      clock: 'Clock',
      mailbox: 'Mailbox',
      contacts: 'Contacts',
      contact: route.page === 'contact' ? route.ref : 'Contact',
      lists: 'Lists and segments',
      list: route.page === 'list' ? route.name : 'List',
      'not-found': 'Not found',
    };
    document.title = `${titles[route.page]} · Nudge`;
  }, [route]);
  const offset = useClockOffset(who !== undefined && who !== 'signed-out', route.page);
  if (who === 'signed-out') {
    window.location.reload(); // the server answers with its login page
    return null;
  }
  return (
    <ClockOffset.Provider value={offset}>
      {/* biome-ignore lint/a11y/useValidAnchor: a link to #main, which works without script too; the click only keeps #main out of the address */}
      <a className="skip" href="#main" onClick={skipToMain}>
        Skip to content
      </a>
      <header className="top">
        <a className="brand" href="/">
          Nudge
        </a>
        <nav aria-label="Pages">
          {PAGES.map((page) => (
            <Link
              key={page.label}
              to={page.to}
              aria-current={page.active.includes(route.page) ? 'page' : undefined}
            >
              {page.label}
            </Link>
          ))}
        </nav>
        {who && !ended && <ClockAhead />}
        {who && !ended && (
          <form method="post" action="/logout" className="who">
            <span className="muted small">signed in as {who.name}</span>{' '}
            <button type="submit">Sign out</button>
          </form>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        <Problem error={problem} />
        {who && <Page route={route} />}
      </main>
    </ClockOffset.Provider>
  );
}

/**
 * Moves the focus to the page, so the next Tab is in it, without a #main in
 * the address (each page's address is its own, to share and reload).
 */
function skipToMain(event: MouseEvent<HTMLAnchorElement>) {
  const main = document.getElementById('main');
  if (!main) return;
  event.preventDefault();
  main.focus();
  main.scrollIntoView();
}

/**
 * The engine clock's offset from real time, read once signed in, again on
 * each page, every 10 s, and at once when the Clock page moves it: the
 * header and the pages say which clock their times are on (clock.tsx).
 */
function useClockOffset(signedIn: boolean, page: Route['page']): number | undefined {
  const { data, reload } = useLoad(
    () => (signedIn ? nudge.clock.get() : Promise.resolve(undefined)),
    `clock ${signedIn} ${page}`,
    10_000,
  );
  useEffect(() => {
    window.addEventListener(CLOCK_MOVED, reload);
    return () => window.removeEventListener(CLOCK_MOVED, reload);
  }, [reload]);
  return data?.offset_ms;
}

/**
 * When the engine's clock runs ahead (nudge clock advance, the dev story's
 * "two days later"), pages mix two times: decisions, journeys and wake-ups
 * carry the engine's, received rows, mail and action runs real time. Said
 * in the header on every page, in the words of nudge clock.
 */
function ClockAhead() {
  const moved = useClockMoved();
  if (!moved) return null;
  return (
    <Link to={{ page: 'clock' }} className="clock-ahead">
      <span title="Decisions, journeys and wake-ups are stamped with the engine's time; received rows, mail and action runs with real time.">
        Engine clock {moved}
      </span>
    </Link>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'overview':
      return <Overview />;
    case 'features':
      return <Features {...(route.window ? { window: route.window } : {})} />;
    case 'feature':
      return (
        <Feature
          key={route.name}
          name={route.name}
          {...(route.window ? { window: route.window } : {})}
        />
      );
    case 'logs':
      return <Logs filter={route.filter} {...(route.before ? { before: route.before } : {})} />;
    case 'ingest':
      return <Ingest filter={route.filter} {...(route.before ? { before: route.before } : {})} />;
    case 'actions':
      return (
        <Actions
          {...(route.status ? { status: route.status } : {})}
          {...(route.feature ? { feature: route.feature } : {})}
          {...(route.since ? { since: route.since } : {})}
          {...(route.before ? { before: route.before } : {})}
        />
      );
    case 'clock':
      return <Clock />;
    case 'contacts':
      return <Contacts {...(route.search ? { search: route.search } : {})} />;
    case 'contact':
      return (
        <Contact
          key={route.ref}
          ref={route.ref}
          {...(route.before ? { before: route.before } : {})}
        />
      );
    case 'lists':
      return <Lists />;
    case 'list':
      return <List key={route.name} name={route.name} />;
    case 'mailbox':
      return (
        <Mailbox
          {...(route.id !== undefined ? { id: route.id } : {})}
          {...(route.before ? { before: route.before } : {})}
        />
      );
    case 'not-found':
      return (
        <section>
          <h1>Not found</h1>
          <p>
            No page at <code>{route.path}</code>. <Link to={{ page: 'overview' }}>Overview</Link>
          </p>
        </section>
      );
  }
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
