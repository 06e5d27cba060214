// Every dashboard page and filter has its own URL: parsing and writing them
// agree, and unknown paths are not guessed at.
import { describe, expect, it } from 'vitest';
import {
  hrefOf,
  type IngestFilter,
  type LogFilter,
  parseRoute,
  type Route,
  withFilter,
} from '../../web/src/routes.js';

describe('dashboard routes', () => {
  it('reads and writes every page and filter the same way', () => {
    const routes: [string, Route][] = [
      ['/', { page: 'overview' }],
      ['/features', { page: 'features' }],
      ['/features?window=7d', { page: 'features', window: '7d' }],
      ['/features/welcome-drip', { page: 'feature', name: 'welcome-drip' }],
      ['/features/a%20b?window=24h', { page: 'feature', name: 'a b', window: '24h' }],
      ['/logs', { page: 'logs', filter: {} }],
      [
        '/logs?feature=welcome-drip&contact=ada%40example.com&outcome=skipped',
        {
          page: 'logs',
          filter: { feature: 'welcome-drip', contact: 'ada@example.com', outcome: 'skipped' },
        },
      ],
      [
        '/logs?feature=drip&from=2026-03-01T09%3A00%3A00.000Z&to=2026-03-01T10%3A00%3A00.000Z',
        {
          page: 'logs',
          filter: {
            feature: 'drip',
            from: '2026-03-01T09:00:00.000Z',
            to: '2026-03-01T10:00:00.000Z',
          },
        },
      ],
      [
        '/logs?outcome=entered&before=1234',
        { page: 'logs', filter: { outcome: 'entered' }, before: '1234' },
      ],
      ['/logs/ingest', { page: 'ingest', filter: {} }],
      ['/logs/ingest?before=77', { page: 'ingest', filter: {}, before: '77' }],
      [
        '/logs/ingest?source=outbox&subject=public.orders&from=2026-03-01T09%3A00%3A00.000Z',
        {
          page: 'ingest',
          filter: { source: 'outbox', subject: 'public.orders', from: '2026-03-01T09:00:00.000Z' },
        },
      ],
      ['/actions', { page: 'actions' }],
      [
        '/actions?status=retrying&feature=order-paid',
        { page: 'actions', status: 'retrying', feature: 'order-paid' },
      ],
      [
        '/actions?feature=order-paid&since=24h',
        { page: 'actions', feature: 'order-paid', since: '24h' },
      ],
      ['/actions?status=all&before=1234', { page: 'actions', status: 'all', before: '1234' }],
      ['/lists', { page: 'lists' }],
      ['/lists/early%20birds', { page: 'list', name: 'early birds' }],
      ['/clock', { page: 'clock' }],
      ['/mailbox', { page: 'mailbox' }],
      ['/contacts', { page: 'contacts' }],
      ['/contacts?q=ada', { page: 'contacts', search: 'ada' }],
      ['/contacts/ada%40example.com', { page: 'contact', ref: 'ada@example.com' }],
      [
        '/contacts/ada%40example.com?before=WyIyMDI2LTAzLTAxIiwiZXZlbnQiLCIxIl0',
        { page: 'contact', ref: 'ada@example.com', before: 'WyIyMDI2LTAzLTAxIiwiZXZlbnQiLCIxIl0' },
      ],
      ['/mailbox/42', { page: 'mailbox', id: 42 }],
      ['/mailbox?before=17', { page: 'mailbox', before: '17' }],
      ['/mailbox/12?before=17', { page: 'mailbox', id: 12, before: '17' }],
    ];
    for (const [href, route] of routes) {
      const url = new URL(href, 'http://x');
      expect(parseRoute(url.pathname, url.search), href).toEqual(route);
      expect(hrefOf(route), href).toBe(href);
    }
  });

  it('drops empty filters, ignores a trailing slash, and names what it does not know', () => {
    expect(parseRoute('/logs/', '?feature=&outcome=%20')).toEqual({ page: 'logs', filter: {} });
    expect(hrefOf({ page: 'logs', filter: { feature: '', outcome: 'matched' } })).toBe(
      '/logs?outcome=matched',
    );
    expect(parseRoute('/lists/x/y', '')).toEqual({ page: 'not-found', path: '/lists/x/y' });
    expect(parseRoute('/features/a/b', '')).toEqual({ page: 'not-found', path: '/features/a/b' });
  });

  it('applies a filter change over the filter, dropping what was emptied', () => {
    const filter: LogFilter = {
      feature: 'welcome-drip',
      contact: 'ada@example.com',
      outcome: 'skipped',
    };
    expect(withFilter(filter, { outcome: 'matched' })).toEqual({
      feature: 'welcome-drip',
      contact: 'ada@example.com',
      outcome: 'matched',
    });
    // A select set to "all" and a box cleared: gone from the filter, and from the address.
    expect(withFilter(filter, { feature: '', contact: '' })).toEqual({ outcome: 'skipped' });
    expect(
      withFilter<IngestFilter>({ source: 'outbox' }, { subject: 'public.orders', from: undefined }),
    ).toEqual({ source: 'outbox', subject: 'public.orders' });
    expect(withFilter<IngestFilter>({}, { source: '' })).toEqual({});
    // The filter it was given is left as it was.
    expect(filter).toEqual({
      feature: 'welcome-drip',
      contact: 'ada@example.com',
      outcome: 'skipped',
    });
  });
});
