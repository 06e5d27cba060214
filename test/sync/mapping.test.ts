// The pure pieces the live sync shares: user and table rows → contact data,
// value conversion, and the decisions a sync run makes (which mode, where
// to start), without a database.
import { describe, expect, it } from 'vitest';
import type { TableMapping } from '../../src/config/schema.js';
import { timeOption } from '../../src/config/time-options.js';
import {
  compileTableMapping,
  compileUserMapping,
  convertValue,
  tableRowToAttributes,
  tableRowToEvent,
  toTimestamp,
  userToContact,
} from '../../src/contacts/mapping.js';
import { emptyStats, planRun, type SyncState } from '../../src/contacts/sync/checkpoint.js';
import { reasonKind } from '../../src/contacts/sync/runner.js';
import { keysetFilter } from '../../src/contacts/sync/sources.js';

const ID = '6f1c1f6e-4b0a-4c52-9a57-1f0d1c2b3a4e';

describe('userToContact', () => {
  const mapping = compileUserMapping({
    email: 'email',
    phone: 'SMS',
    'user_metadata.full_name': 'FIRSTNAME',
    created_at: 'SIGNUP_DATE',
  });

  it('reads a database row and the Auth API’s JSON for the same user alike', () => {
    const fromDatabase = userToContact(
      {
        id: ID,
        email: 'Ada@Example.com',
        phone: null,
        created_at: new Date('2024-01-02T03:04:05.678Z'),
        last_sign_in_at: null,
        confirmed_at: new Date('2024-01-02T03:05:00Z'),
        deleted_at: null,
        raw_user_meta_data: { full_name: 'Ada', avatar_url: 'https://a/1.png' },
        raw_app_meta_data: { provider: 'github', providers: ['github'] },
      },
      mapping,
    );
    const fromApi = userToContact(
      {
        id: ID,
        email: 'Ada@Example.com',
        phone: '',
        created_at: '2024-01-02T03:04:05.678912Z',
        confirmed_at: '2024-01-02T03:05:00Z',
        user_metadata: { full_name: 'Ada', avatar_url: 'https://a/1.png' },
        app_metadata: { provider: 'github', providers: ['github'] },
        identities: [],
      },
      mapping,
    );
    expect(fromDatabase).toEqual(fromApi);
    expect(fromDatabase).toEqual({
      ok: true,
      value: {
        authUserId: ID,
        email: 'Ada@Example.com',
        phone: null,
        deletedAt: null,
        attributes: {
          SMS: null,
          FIRSTNAME: 'Ada',
          SIGNUP_DATE: '2024-01-02T03:04:05.678Z',
          avatar_url: 'https://a/1.png',
          last_sign_in_at: null,
          provider: 'github',
          confirmed_at: '2024-01-02T03:05:00.000Z',
        },
      },
    });
  });

  it('gives a default’s attribute name to the source the user maps to it', () => {
    const renamed = compileUserMapping({ 'user_metadata.name': 'full_name', phone: 'phone' });
    expect(renamed.fields.map((f) => `${f.source}→${f.target}`)).toEqual([
      'email→email',
      'user_metadata.avatar_url→avatar_url',
      'created_at→created_at',
      'last_sign_in_at→last_sign_in_at',
      'app_metadata.provider→provider',
      'confirmed_at→confirmed_at',
      'user_metadata.name→full_name',
      'phone→phone',
    ]);
    const nested = compileUserMapping({ 'raw_user_meta_data.address.city': 'CITY' });
    const user = userToContact(
      { id: ID, raw_user_meta_data: { address: { city: 'Oslo' } } },
      nested,
    );
    expect(user.ok && user.value.attributes.CITY).toBe('Oslo');
  });

  it('says why a row cannot be used', () => {
    const reason = (row: Record<string, unknown>, types = {}) => {
      const result = userToContact(row, compileUserMapping({ 'user_metadata.age': 'AGE' }, types));
      return result.ok ? 'ok' : result.reason;
    };
    expect(reason({ id: 'nope' })).toBe('id "nope" is not a UUID');
    expect(reason({ id: ID, raw_user_meta_data: 'x' })).toBe(
      'user_metadata is a string, not an object',
    );
    expect(reason({ id: ID, user_metadata: [1] })).toBe('user_metadata is an array, not an object');
    expect(reason({ id: ID, created_at: 'soon' })).toBe('created_at "soon" is not a timestamp');
    expect(reason({ id: ID, email: 42 })).toBe('email is number 42, not text');
    expect(reason({ id: ID, user_metadata: { age: '4x' } }, { AGE: 'integer' })).toBe(
      'user_metadata.age "4x" is not an integer',
    );
    expect(reason({ id: ID, user_metadata: { age: '41' } }, { AGE: 'integer' })).toBe('ok');
  });
});

describe('values', () => {
  it('normalise times to ISO 8601 UTC; times without an offset are UTC', () => {
    expect(toTimestamp('2024-01-02 03:04:05.123456+02')).toBe('2024-01-02T01:04:05.123Z');
    expect(toTimestamp('2024-01-02T03:04:05')).toBe('2024-01-02T03:04:05.000Z');
    expect(toTimestamp('2024-01-02')).toBe('2024-01-02T00:00:00.000Z');
    expect(toTimestamp(null)).toBeNull();
    expect(toTimestamp('yesterday')).toBeUndefined();
  });

  it('convert to the declared attribute type or say why not', () => {
    expect(convertValue('12', 'integer', 'x')).toEqual({ ok: true, value: 12 });
    expect(convertValue('9007199254740993', 'integer', 'x')).toEqual({
      ok: true,
      value: '9007199254740993',
    });
    expect(convertValue('49.50', 'numeric', 'x')).toEqual({ ok: true, value: '49.50' });
    expect(convertValue('t', 'boolean', 'x')).toEqual({ ok: true, value: true });
    expect(convertValue('2024-05-06T07:08:09+01:00', 'date', 'x')).toEqual({
      ok: true,
      value: '2024-05-06',
    });
    expect(convertValue({ a: 1 }, 'text', 'x')).toEqual({ ok: true, value: '{"a":1}' });
    expect(convertValue('maybe', 'boolean', 'plan')).toEqual({
      ok: false,
      reason: 'plan "maybe" is not a boolean',
    });
    expect(convertValue('abc', 'uuid', 'ref').ok).toBe(false);
  });
});

describe('table rows', () => {
  const columns = ['id', 'user_id', 'email', 'amount', 'status', 'created_at'].map((name) => ({
    name,
    time: name === 'created_at',
  }));
  const orders = compileTableMapping(
    'orders',
    { schema: 'public', table: 'orders' },
    {
      sync_as: 'events',
      event_name: 'order_placed',
      properties: { total: 'amount', status: 'status' },
    } as unknown as TableMapping,
    { columns, primaryKey: ['id'], contact: { by: 'user_id', column: 'user_id' } },
  );
  const customers = compileTableMapping(
    'customers',
    { schema: 'public', table: 'customers' },
    { email: 'email', amount: 'MRR' },
    { columns, primaryKey: ['id'], contact: { by: 'email', column: 'email' } },
    { MRR: 'numeric' },
  );

  it('become an event keyed by the row’s primary key', () => {
    const row = {
      id: 42,
      user_id: ID.toUpperCase(),
      amount: 9.5,
      status: 'paid',
      created_at: '2024-03-01T10:00:00+00:00',
    };
    expect(tableRowToEvent(row, orders)).toEqual({
      ok: true,
      value: {
        contact: { authUserId: ID },
        event: {
          name: 'order_placed',
          properties: { total: 9.5, status: 'paid' },
          occurredAt: '2024-03-01T10:00:00.000Z',
          idempotencyKey: 'table:public.orders:order_placed:[42]',
        },
      },
    });
    expect(orders.changedAt).toBe('created_at');
    const noOwner = tableRowToEvent({ ...row, user_id: null }, orders);
    expect(noOwner).toEqual({ ok: false, reason: 'user_id is empty' });
  });

  it('become attributes on the contact their email names (the email itself is not an attribute)', () => {
    expect(
      tableRowToAttributes({ id: 1, email: ' Ada@Example.com ', amount: '10.5' }, customers),
    ).toEqual({
      ok: true,
      value: { contact: { email: 'ada@example.com' }, attributes: { MRR: 10.5 } },
    });
    expect(tableRowToAttributes({ id: 2, email: 'not-an-email', amount: 1 }, customers)).toEqual({
      ok: false,
      reason: 'email "not-an-email" is not an email',
    });
  });
});

describe('a sync run', () => {
  const now = new Date('2024-06-01T12:00:00Z');
  const state = (
    status: SyncState['status'],
    after: unknown,
    nextSince: string | null,
  ): SyncState => ({
    status,
    stats: emptyStats(),
    updatedAt: now,
    cursor: {
      mode: 'full',
      source: 'database',
      since: null,
      after,
      run_started_at: '2024-05-31T00:00:00.000Z',
      next_since: nextSince,
    },
  });
  const request = { source: 'database' as const, incremental: true, now };

  it('starts full the first time, continues a stopped run, then goes incremental', () => {
    expect(planRun(null, request)).toMatchObject({
      resumed: false,
      why: 'first sync',
      cursor: { mode: 'full' },
    });
    expect(planRun(state('interrupted', { id: ID }, null), request)).toMatchObject({
      resumed: true,
      cursor: { mode: 'full', after: { id: ID } },
    });
    expect(planRun(state('done', null, '2024-05-30T23:59:00.000Z'), request)).toMatchObject({
      cursor: { mode: 'incremental', since: '2024-05-30T23:59:00.000Z', after: null },
    });
    // A checkpoint from the other kind of source cannot be continued.
    expect(planRun(state('failed', { id: ID }, null), { ...request, source: 'api' }).resumed).toBe(
      false,
    );
    expect(
      planRun(state('interrupted', { id: ID }, null), { ...request, full: true }).cursor.after,
    ).toBeNull();
    expect(
      planRun(state('done', null, '2024-05-30T00:00:00Z'), { ...request, incremental: false })
        .cursor.mode,
    ).toBe('full');
  });

  it('reads --since as a time or a duration back from now', () => {
    expect(timeOption('--since', '2024-01-01', now).toISOString()).toBe('2024-01-01T00:00:00.000Z');
    expect(timeOption('--since', '7d', now).toISOString()).toBe('2024-05-25T12:00:00.000Z');
    expect(() => timeOption('--since', 'last week', now)).toThrow('is not a time');
    // A date the calendar lacks is refused, not read as the next one; durations are bounded.
    expect(() => timeOption('--since', '2020-02-30', now)).toThrow(
      '--since "2020-02-30" is not a time (the calendar has no 2020-02-30)',
    );
    expect(() => timeOption('--since', '99999999d', now)).toThrow(
      '--since 99999999d: expected at most 36500d',
    );
  });

  it('pages PostgREST by keyset filters, quoting values in or-trees', () => {
    expect(keysetFilter(['id'], ['42'])).toEqual([['id', 'gt.42']]);
    expect(
      keysetFilter(['updated_at', 'order id'], ['2024-01-01T00:00:00.5+00:00', 'a,b']),
    ).toEqual([
      [
        'or',
        '(updated_at.gt."2024-01-01T00:00:00.5+00:00",and(updated_at.eq."2024-01-01T00:00:00.5+00:00","order id".gt."a,b"))',
      ],
    ]);
  });

  it('counts skip reasons by kind, without the values', () => {
    expect(reasonKind('user_metadata.age "4x" is not an integer')).toBe(
      'user_metadata.age … is not an integer',
    );
    expect(reasonKind('email is number 42, not text')).toBe('email is number, not text');
  });
});
