// History routing in a few lines: the location as React state (popstate and
// our own pushes), and a Link that navigates without a reload but stays a
// real <a href> — middle-click, copy link and the keyboard work as usual.
import { type MouseEvent, type ReactNode, useSyncExternalStore } from 'react';
import { hrefOf, parseRoute, type Route } from './routes.js';

const listeners = new Set<() => void>();
const notify = () => {
  for (const listener of listeners) listener();
};
window.addEventListener('popstate', notify);

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

const current = () => window.location.pathname + window.location.search;

export function useRoute(): Route {
  const location = useSyncExternalStore(subscribe, current);
  const url = new URL(location, window.location.origin);
  return parseRoute(url.pathname, url.search);
}

/** Goes to a route; `replace` for changes that should not each be a back step. */
export function navigate(
  route: Route | string,
  options: { replace?: boolean; state?: unknown } = {},
): void {
  const href = typeof route === 'string' ? route : hrefOf(route);
  if (href === current()) return;
  const state = options.state ?? null;
  if (options.replace) window.history.replaceState(state, '', href);
  else window.history.pushState(state, '', href);
  window.scrollTo(0, 0);
  notify();
}

export function Link(props: {
  to: Route;
  children: ReactNode;
  className?: string;
  'aria-current'?: 'page' | undefined;
  /** Said to screen readers and on hover, for a link whose words are short. */
  label?: string;
}) {
  const href = hrefOf(props.to);
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
      return;
    event.preventDefault();
    navigate(href);
  };
  return (
    <a
      href={href}
      onClick={onClick}
      className={props.className}
      aria-current={props['aria-current']}
      aria-label={props.label}
      title={props.label}
    >
      {props.children}
    </a>
  );
}
