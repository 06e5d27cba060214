// A local stand-in for a Supabase project's HTTP APIs, answering from the
// Supabase-shaped test database: the Auth admin user list and user lookup
// (GoTrue's JSON names and headers) and PostgREST reads (select, order,
// limit/offset, Range, eq/neq/gt/gte/lt/lte/is filters and or/and trees, the
// max-rows cap, the OpenAPI description). It records each request with its
// arrival time and can be told to fail the next requests (429 + Retry-After,
// 401, 503). API-mode syncs run against it so they can be compared with
// database-mode syncs of the same rows.
import type postgres from 'postgres';
import { readCatalog } from '../../src/source/catalog.js';
import { type RecordedRequest, type Reply, startRecorder } from './http-recorder.js';

export interface ApiCall {
  path: string;
  query: Record<string, string>;
  /** performance.now() when the request arrived. */
  at: number;
  status: number;
  /** Rows (or users) in the answer. */
  rows?: number;
}

export interface SupabaseApiServer {
  url: string;
  calls: ApiCall[];
  /** PostgREST's max-rows (default 1000, as hosted projects have). */
  maxRows: number;
  /** The next `count` requests, to any endpoint, get this answer instead. */
  failNext(count: number, status: number, headers?: Record<string, string>, body?: unknown): void;
  close(): Promise<void>;
}

const TIME = (column: string) =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** GoTrue's user object (models.User's json tags; empty optional fields left out). */
const USER_JSON = `(json_strip_nulls(json_build_object(
    'id', id, 'aud', aud, 'role', role, 'email', coalesce(email, ''), 'phone', coalesce(phone, ''),
    'email_confirmed_at', ${TIME('email_confirmed_at')}, 'invited_at', ${TIME('invited_at')},
    'phone_confirmed_at', ${TIME('phone_confirmed_at')}, 'confirmation_sent_at', ${TIME('confirmation_sent_at')},
    'confirmed_at', ${TIME('confirmed_at')}, 'recovery_sent_at', ${TIME('recovery_sent_at')},
    'new_email', nullif(email_change, ''), 'email_change_sent_at', ${TIME('email_change_sent_at')},
    'new_phone', nullif(phone_change, ''), 'phone_change_sent_at', ${TIME('phone_change_sent_at')},
    'reauthentication_sent_at', ${TIME('reauthentication_sent_at')},
    'last_sign_in_at', ${TIME('last_sign_in_at')}, 'created_at', ${TIME('created_at')},
    'updated_at', ${TIME('updated_at')}, 'banned_until', ${TIME('banned_until')},
    'deleted_at', ${TIME('deleted_at')}, 'is_anonymous', is_anonymous))::jsonb
  || jsonb_build_object('app_metadata', coalesce(raw_app_meta_data, '{}'),
       'user_metadata', coalesce(raw_user_meta_data, '{}'), 'identities', '[]'::jsonb)) as user`;

export async function startSupabaseApi(
  sql: postgres.Sql,
  options: { key: string; maxRows?: number; audience?: string },
): Promise<SupabaseApiServer> {
  const rec = await startRecorder();
  const calls: ApiCall[] = [];
  const scripted: Reply[] = [];
  const audience = options.audience ?? 'authenticated';
  const server: SupabaseApiServer = {
    url: rec.url,
    calls,
    maxRows: options.maxRows ?? 1000,
    failNext(count, status, headers, body) {
      for (let i = 0; i < count; i++) {
        scripted.push({
          status,
          ...(headers ? { headers } : {}),
          body:
            body ??
            (status === 401 ? { message: 'Invalid API key' } : { message: `scripted ${status}` }),
        });
      }
    },
    close: () => rec.close(),
  };

  /** Every endpoint: record, scripted failures, the gateway's key check, then the answer. */
  const endpoint =
    (answer: (request: RecordedRequest, params: Record<string, string>) => Promise<Reply>) =>
    async (request: RecordedRequest, params: Record<string, string>): Promise<Reply> => {
      const call: ApiCall = {
        path: request.path,
        query: request.query,
        at: performance.now(),
        status: 0,
      };
      calls.push(call);
      let reply = scripted.shift();
      if (
        !reply &&
        (request.headers.apikey !== options.key ||
          request.headers.authorization !== `Bearer ${options.key}`)
      ) {
        reply = { status: 401, body: { message: 'Invalid API key' } };
      }
      reply ??= await answer(request, params).catch(
        (error: { code?: string; message?: string }) => ({
          status: 400,
          body: { code: error.code ?? 'PGRST100', message: error.message ?? String(error) },
        }),
      );
      call.status = reply.status ?? 200;
      if (Array.isArray(reply.body)) call.rows = reply.body.length;
      const users = (reply.body as { users?: unknown[] } | undefined)?.users;
      if (Array.isArray(users)) call.rows = users.length;
      return reply;
    };

  rec.route(
    'GET',
    '/auth/v1/admin/users',
    endpoint(async (request) => {
      const page = Math.max(1, Number(request.query.page ?? 1));
      const perPage = Math.max(1, Number(request.query.per_page ?? 50));
      const [{ n } = { n: 0 }] = await sql<{ n: number }[]>`
        select count(*)::int as n from auth.users where aud = ${audience}`;
      const rows = await sql<{ user: unknown }[]>`
        select ${sql.unsafe(USER_JSON)} from auth.users where aud = ${audience}
         order by created_at desc, id desc limit ${perPage} offset ${(page - 1) * perPage}`;
      const pages = Math.ceil(n / perPage);
      const link = (p: number, rel: string) =>
        `</admin/users?page=${p}&per_page=${perPage}>; rel="${rel}"`;
      return {
        headers: {
          'X-Total-Count': String(n),
          Link: [...(pages > page ? [link(page + 1, 'next')] : []), link(pages, 'last')].join(', '),
        },
        body: { users: rows.map((r) => r.user), aud: audience },
      };
    }),
  );

  rec.route(
    'GET',
    '/auth/v1/admin/users/:id',
    endpoint(async (_request, params) => {
      const id = params.id ?? '';
      const [row] = /^[0-9a-f-]{36}$/i.test(id)
        ? await sql<
            { user: unknown }[]
          >`select ${sql.unsafe(USER_JSON)} from auth.users where id = ${id}::uuid`
        : [];
      return row
        ? { body: row.user }
        : { status: 404, body: { code: 404, error_code: 'user_not_found', msg: 'User not found' } };
    }),
  );

  rec.route(
    'GET',
    '/rest/v1/',
    endpoint(async (request) => {
      const schema = profileOf(request);
      const catalog = await readCatalog(sql);
      const references = await userReferences(sql);
      const definitions: Record<string, unknown> = {};
      for (const table of catalog.tables.filter((t) => t.schema === schema)) {
        const properties: Record<string, unknown> = {};
        for (const column of table.columns) {
          const notes = [
            ...(table.primaryKey.includes(column.name) ? ['This is a Primary Key.<pk/>'] : []),
            ...(references.has(`${schema}.${table.table}.${column.name}`)
              ? ["This is a Foreign Key to `users.id`.<fk table='users' column='id'/>"]
              : []),
          ];
          properties[column.name] = {
            format: column.type.replace(/\(.*\)$/, ''),
            type: jsonType(column.typeName),
            ...(notes.length ? { description: `Note:\n${notes.join('\n')}` } : {}),
          };
        }
        definitions[table.table] = { type: 'object', properties };
      }
      return { body: { swagger: '2.0', info: { title: 'PostgREST API' }, definitions, paths: {} } };
    }),
  );

  rec.route(
    'GET',
    '/rest/v1/:table',
    endpoint(async (request, params) => {
      const schema = profileOf(request);
      const table = decodeURIComponent(params.table ?? '');
      const [exists] = await sql`
        select 1 from pg_tables where schemaname = ${schema} and tablename = ${table}`;
      if (!exists) {
        return {
          status: 404,
          body: {
            code: 'PGRST205',
            message: `Could not find the table '${schema}.${table}' in the schema cache`,
          },
        };
      }
      const q = request.query;
      const columns = (q.select ?? '*').split(',').map(unquote);
      const select = columns.includes('*') ? sql`*` : sql(columns);
      const order = (q.order ?? '')
        .split(',')
        .filter(Boolean)
        .map((part) => {
          const [name, direction] = splitLast(part);
          return direction === 'desc'
            ? sql`${sql(unquote(name))} desc`
            : sql`${sql(unquote(name))} asc`;
        });
      const range = /^(\d+)-(\d+)?$/.exec(String(request.headers.range ?? ''));
      let offset = Number(q.offset ?? range?.[1] ?? 0);
      let limit =
        q.limit !== undefined
          ? Number(q.limit)
          : range?.[2]
            ? Number(range[2]) - offset + 1
            : Infinity;
      limit = Math.min(limit, server.maxRows);
      if (!Number.isFinite(offset)) offset = 0;
      const filters = Object.entries(q)
        .filter(([name]) => !['select', 'order', 'limit', 'offset'].includes(name))
        .map(([name, value]) =>
          name === 'or' || name === 'and'
            ? tree(sql, name, parseTree(value))
            : test(sql, unquote(name), value),
        );
      const where = filters.reduce((acc, f) => sql`${acc} and ${f}`, sql`true`);
      const orderBy = order.length
        ? order.reduce((acc, o, i) => (i === 0 ? sql`order by ${o}` : sql`${acc}, ${o}`), sql``)
        : sql``;
      const rows = await sql<{ row: unknown }[]>`
        select to_json(r) as row from (
          select ${select} from ${sql(schema)}.${sql(table)} where ${where} ${orderBy}
           limit ${Number.isFinite(limit) ? limit : null} offset ${offset}) r`;
      const end = offset + rows.length - 1;
      return {
        headers: { 'Content-Range': rows.length ? `${offset}-${end}/*` : '*/*' },
        body: rows.map((r) => r.row),
      };
    }),
  );
  return server;
}

function profileOf(request: RecordedRequest): string {
  return String(request.headers['accept-profile'] ?? 'public');
}

async function userReferences(sql: postgres.Sql): Promise<Set<string>> {
  const rows = await sql<{ ref: string }[]>`
    select n.nspname || '.' || c.relname || '.' || a.attname as ref
      from pg_constraint k join pg_class c on c.oid = k.conrelid
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = k.conrelid and a.attnum = k.conkey[1]
     where k.contype = 'f' and k.confrelid = 'auth.users'::regclass`;
  return new Set(rows.map((r) => r.ref));
}

function jsonType(typeName: string): string {
  if (['int2', 'int4', 'int8'].includes(typeName)) return 'integer';
  if (['numeric', 'float4', 'float8'].includes(typeName)) return 'number';
  if (typeName === 'bool') return 'boolean';
  return 'string';
}

function unquote(name: string): string {
  const text = name.trim();
  return text.startsWith('"') ? text.slice(1, -1).replace(/\\(.)/g, '$1') : text;
}

function splitLast(part: string): [string, string] {
  const at = part.lastIndexOf('.');
  return at === -1 ? [part, 'asc'] : [part.slice(0, at), part.slice(at + 1)];
}

type Node =
  | { kind: 'and' | 'or'; items: Node[] }
  | { kind: 'test'; column: string; filter: string };

/** `(a.gt.1,and(a.eq.1,b.gt."x,y"))` → a tree. */
export function parseTree(text: string): Node[] {
  let pos = 0;
  const list = (): Node[] => {
    if (text[pos++] !== '(') throw new Error(`expected ( at ${pos - 1} in ${text}`);
    const items: Node[] = [];
    for (;;) {
      const group = /^(and|or)\(/.exec(text.slice(pos));
      if (group) {
        pos += group[1]!.length;
        items.push({ kind: group[1] as 'and' | 'or', items: list() });
      } else {
        let item = '';
        while (pos < text.length && text[pos] !== ',' && text[pos] !== ')') {
          if (text[pos] === '"') {
            const start = pos++;
            while (pos < text.length && text[pos] !== '"') pos += text[pos] === '\\' ? 2 : 1;
            item += text.slice(start, ++pos);
          } else item += text[pos++];
        }
        const quotedColumn = /^("(?:[^"\\]|\\.)*")\.(.*)$/.exec(item);
        const [column, filter] = quotedColumn
          ? [quotedColumn[1]!, quotedColumn[2]!]
          : [item.slice(0, item.indexOf('.')), item.slice(item.indexOf('.') + 1)];
        items.push({ kind: 'test', column: unquote(column), filter });
      }
      const c = text[pos++];
      if (c === ')') return items;
      if (c !== ',') throw new Error(`expected , or ) at ${pos - 1} in ${text}`);
    }
  };
  return list();
}

function tree(
  sql: postgres.Sql,
  kind: 'and' | 'or',
  items: Node[],
): postgres.PendingQuery<postgres.Row[]> {
  const parts = items.map((item) =>
    item.kind === 'test' ? test(sql, item.column, item.filter) : tree(sql, item.kind, item.items),
  );
  const joiner = kind === 'and' ? sql` and ` : sql` or `;
  return sql`(${parts.reduce((acc, p, i) => (i === 0 ? p : sql`${acc}${joiner}${p}`), sql``)})`;
}

const OPERATORS: Record<string, string> = {
  eq: '=',
  neq: '<>',
  gt: '>',
  gte: '>=',
  lt: '<',
  lte: '<=',
};

function test(sql: postgres.Sql, column: string, filter: string) {
  const dot = filter.indexOf('.');
  const op = filter.slice(0, dot);
  const value = unquote(filter.slice(dot + 1));
  if (op === 'is') {
    const what = { null: sql`null`, true: sql`true`, false: sql`false` }[value];
    if (!what) throw Object.assign(new Error(`bad is value ${value}`), { code: 'PGRST100' });
    return sql`${sql(column)} is ${what}`;
  }
  const operator = OPERATORS[op];
  if (!operator) throw Object.assign(new Error(`unknown operator ${op}`), { code: 'PGRST100' });
  return sql`${sql(column)} ${sql.unsafe(operator)} ${value}`;
}
