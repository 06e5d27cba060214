// The dashboard's pages as URLs: every page and filter has its own address,
// and so has an older page of a list (`before`: the API's cursor "Older"
// followed), so links can be shared, a reload keeps the place and the back
// button works. Pure (no DOM), tested in test/web/routes.test.ts; the server
// serves the app at the same paths (src/server/dashboard/index.ts
// DASHBOARD_PAGES).

export interface LogFilter {
  feature?: string;
  contact?: string;
  outcome?: string;
  /** ISO 8601 times: decided at or after `from`, before `to`. */
  from?: string;
  to?: string;
}

export interface IngestFilter {
  source?: string;
  /** A table (`public.orders`) or an event name. */
  subject?: string;
  from?: string;
  to?: string;
}

/**
 * A filter with `change` applied: its values over the filter's, and a value
 * left empty (a select set to "all", a cleared box) dropped, so the address
 * names only what filters. Logs and Ingest records go there with no `before`:
 * a filter changed starts again at the newest.
 */
export function withFilter<F extends LogFilter | IngestFilter>(filter: F, change: NoInfer<F>): F {
  const merged: F = { ...filter, ...change };
  for (const name of Object.keys(merged) as (keyof F)[]) if (!merged[name]) delete merged[name];
  return merged;
}

export type Route =
  | { page: 'overview' }
  | { page: 'features'; window?: string }
  | { page: 'feature'; name: string; window?: string }
  | { page: 'logs'; filter: LogFilter; before?: string }
  | { page: 'ingest'; filter: IngestFilter; before?: string }
  | { page: 'actions'; status?: string; feature?: string; since?: string; before?: string }
  | { page: 'clock' }
  | { page: 'mailbox'; id?: number; before?: string }
  | { page: 'contacts'; search?: string }
  | { page: 'contact'; ref: string; before?: string }
  | { page: 'lists' }
  | { page: 'list'; name: string }
  | { page: 'not-found'; path: string };

export function parseRoute(pathname: string, search: string): Route {
  const params = new URLSearchParams(search);
  const text = (name: string) => {
    const value = params.get(name)?.trim();
    return value ? value : undefined;
  };
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/') return { page: 'overview' };
  if (path === '/features') return withOptional({ page: 'features' }, 'window', text('window'));
  const feature = /^\/features\/([^/]+)$/.exec(path);
  if (feature) {
    return withOptional(
      { page: 'feature', name: decodeURIComponent(feature[1]!) },
      'window',
      text('window'),
    );
  }
  if (path === '/logs') {
    const filter: LogFilter = {};
    for (const name of ['feature', 'contact', 'outcome', 'from', 'to'] as const) {
      const value = text(name);
      if (value) filter[name] = value;
    }
    return withOptional({ page: 'logs', filter }, 'before', text('before'));
  }
  if (path === '/logs/ingest') {
    const filter: IngestFilter = {};
    for (const name of ['source', 'subject', 'from', 'to'] as const) {
      const value = text(name);
      if (value) filter[name] = value;
    }
    return withOptional({ page: 'ingest', filter }, 'before', text('before'));
  }
  if (path === '/actions') {
    const status = text('status');
    const feature = text('feature');
    const since = text('since');
    const before = text('before');
    return {
      page: 'actions',
      ...(status ? { status } : {}),
      ...(feature ? { feature } : {}),
      ...(since ? { since } : {}),
      ...(before ? { before } : {}),
    };
  }
  if (path === '/clock') return { page: 'clock' };
  if (path === '/mailbox') return withOptional({ page: 'mailbox' }, 'before', text('before'));
  if (path === '/contacts') {
    const search = text('q');
    return { page: 'contacts', ...(search ? { search } : {}) };
  }
  if (path === '/lists') return { page: 'lists' };
  const list = /^\/lists\/([^/]+)$/.exec(path);
  if (list) return { page: 'list', name: decodeURIComponent(list[1]!) };
  const contact = /^\/contacts\/([^/]+)$/.exec(path);
  if (contact) {
    return withOptional(
      { page: 'contact', ref: decodeURIComponent(contact[1]!) },
      'before',
      text('before'),
    );
  }
  const mail = /^\/mailbox\/(\d+)$/.exec(path);
  if (mail) return withOptional({ page: 'mailbox', id: Number(mail[1]) }, 'before', text('before'));
  return { page: 'not-found', path: pathname };
}

export function hrefOf(route: Route): string {
  switch (route.page) {
    case 'overview':
      return '/';
    case 'features':
      return withQuery('/features', { window: route.window });
    case 'feature':
      return withQuery(`/features/${encodeURIComponent(route.name)}`, { window: route.window });
    case 'logs':
      return withQuery('/logs', { ...route.filter, before: route.before });
    case 'ingest':
      return withQuery('/logs/ingest', { ...route.filter, before: route.before });
    case 'actions':
      return withQuery('/actions', {
        status: route.status,
        feature: route.feature,
        since: route.since,
        before: route.before,
      });
    case 'clock':
      return '/clock';
    case 'contacts':
      return withQuery('/contacts', { q: route.search });
    case 'contact':
      return withQuery(`/contacts/${encodeURIComponent(route.ref)}`, { before: route.before });
    case 'lists':
      return '/lists';
    case 'list':
      return `/lists/${encodeURIComponent(route.name)}`;
    case 'mailbox':
      return withQuery(route.id === undefined ? '/mailbox' : `/mailbox/${route.id}`, {
        before: route.before,
      });
    case 'not-found':
      return route.path;
  }
}

function withQuery(path: string, values: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value) params.set(name, value);
  const query = params.toString();
  return query ? `${path}?${query}` : path;
}

function withOptional<T extends object, K extends string>(
  base: T,
  key: K,
  value: string | undefined,
): T & { [P in K]?: string } {
  return (value === undefined ? base : { ...base, [key]: value }) as T & { [P in K]?: string };
}
