import { describe, expect, it } from 'vitest';
import { NAMED_EVENTS, namedEventsOf } from './named-events.js';

describe('namedEventsOf', () => {
  it('names the events a captured auth.users or storage.objects row is', () => {
    expect(namedEventsOf('auth', 'users', 'insert', { id: 'u1' }, null)).toEqual([
      'user.signed_up',
    ]);
    expect(namedEventsOf('auth', 'users', 'delete', null, { id: 'u1' })).toEqual(['user.deleted']);
    expect(namedEventsOf('storage', 'objects', 'insert', { id: 'o1' }, null)).toEqual([
      'storage.object.created',
    ]);
    expect(namedEventsOf('storage', 'objects', 'delete', null, { id: 'o1' })).toEqual([
      'storage.object.deleted',
    ]);
  });

  it("asks each event on the row's table and operation whether the row is it", () => {
    const before = { id: 'u1', email: 'a@x.io', last_sign_in_at: null, updated_at: 't0' };
    const signIn = { ...before, last_sign_in_at: 't1', updated_at: 't1' };
    expect(namedEventsOf('auth', 'users', 'update', signIn, before)).toEqual(['user.signed_in']);
    const edit = { ...before, email: 'b@x.io', updated_at: 't1' };
    expect(namedEventsOf('auth', 'users', 'update', edit, before)).toEqual(['user.updated']);
    const both = { ...edit, last_sign_in_at: 't1' };
    expect(namedEventsOf('auth', 'users', 'update', both, before)).toEqual([
      'user.signed_in',
      'user.updated',
    ]);
    expect(
      namedEventsOf('auth', 'users', 'update', { ...before, updated_at: 't1' }, before),
    ).toEqual([]);
    // Storage: a new version or a move is an update; an access is not.
    const object = {
      id: 'o1',
      bucket_id: 'b',
      name: 'a.png',
      version: 'v1',
      last_accessed_at: 't0',
    };
    const again = { ...object, version: 'v2' };
    expect(namedEventsOf('storage', 'objects', 'update', again, object)).toEqual([
      'storage.object.updated',
    ]);
    const moved = { ...object, name: 'b.png' };
    expect(namedEventsOf('storage', 'objects', 'update', moved, object)).toEqual([
      'storage.object.updated',
    ]);
    // Auth's soft delete: user.soft_deleted, not user.updated.
    const gone = { ...before, deleted_at: 't2', email: 'u1@deleted.invalid', updated_at: 't2' };
    expect(namedEventsOf('auth', 'users', 'update', gone, { ...before, deleted_at: null })).toEqual(
      ['user.soft_deleted'],
    );
    const read = { ...object, last_accessed_at: 't1' };
    expect(namedEventsOf('storage', 'objects', 'update', read, object)).toEqual([]);
  });

  it('finds nothing for other tables, operations or schemas', () => {
    expect(namedEventsOf('public', 'users', 'insert', { id: 'u1' }, null)).toEqual([]);
    expect(namedEventsOf('auth', 'identities', 'insert', { id: 'i1' }, null)).toEqual([]);
    expect(namedEventsOf('storage', 'objects', 'update', { id: 'o1' }, { id: 'o1' })).toEqual([]);
  });

  it('answers as a pass over every named event would', () => {
    const rows = [
      { new: { id: 'x', last_sign_in_at: 't1' }, old: { id: 'x', last_sign_in_at: null } },
      { new: { id: 'x', name: 'b' }, old: { id: 'x', name: 'a' } },
      { new: { id: 'x' }, old: null },
      { new: null, old: { id: 'x' } },
    ];
    const places = [
      ['auth', 'users'],
      ['storage', 'objects'],
      ['public', 'orders'],
    ] as const;
    for (const [schema, table] of places) {
      for (const operation of ['insert', 'update', 'delete'] as const) {
        for (const row of rows) {
          const expected = Object.entries(NAMED_EVENTS)
            .filter(
              ([, e]) =>
                e.table.schema === schema &&
                e.table.table === table &&
                e.operation === operation &&
                (e.matches?.(row.new, row.old) ?? true),
            )
            .map(([name]) => name);
          expect(namedEventsOf(schema, table, operation, row.new, row.old)).toEqual(expected);
        }
      }
    }
  });
});
