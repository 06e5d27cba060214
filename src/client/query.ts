// The contact query builder of the typed client, in supabase-js's style:
// `nudge.contacts.query().eq('plan', 'pro').gt('mrr', 100).order('mrr',
// { ascending: false }).select('email, plan')` builds PostgREST parameters;
// awaiting it fetches the rows, typed by what `select` names.

/** What the API knows about every contact, whatever its attributes. */
export interface IdentityFields {
  id: string;
  email: string | null;
  phone: string | null;
  auth_user_id: string | null;
  external_id: string | null;
  created_at: string;
  updated_at: string;
  last_event_at: string | null;
  deleted_at: string | null;
}

export type Attributes = Record<string, unknown>;

export interface Contact<A extends Attributes = Attributes> extends IdentityFields {
  attributes: Partial<A>;
}

/** A field name: identity columns and declared attributes autocomplete; any string goes. */
export type Field<A extends Attributes> =
  | keyof IdentityFields
  | 'attributes'
  | (keyof A & string)
  | (string & {});

export type FilterValue = string | number | boolean | Date;

type Trim<S extends string> = S extends ` ${infer R}`
  ? Trim<R>
  : S extends `${infer R} `
    ? Trim<R>
    : S extends `\n${infer R}`
      ? Trim<R>
      : S;
type Split<S extends string> = S extends `${infer Head},${infer Tail}`
  ? [Trim<Head>, ...Split<Tail>]
  : [Trim<S>];
type LastStep<F extends string> = F extends `${string}->${infer Rest}`
  ? LastStep<Rest extends `>${infer Key}` ? Key : Rest>
  : F;
type ValueOf<A extends Attributes, F extends string> = F extends `${string}->${string}`
  ? unknown
  : F extends keyof IdentityFields
    ? IdentityFields[F]
    : F extends 'attributes'
      ? Partial<A>
      : F extends keyof A
        ? A[F] | null
        : unknown;
type Item<A extends Attributes, F extends string> = F extends '*'
  ? Contact<A>
  : F extends `${infer Alias}:${infer Name}`
    ? { [K in Alias]: ValueOf<A, Name> }
    : { [K in LastStep<F>]: ValueOf<A, F> };
type Intersect<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void
  ? I
  : never;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The row type of `select('email, name:full_name, meta->>tier')`. */
export type SelectRow<A extends Attributes, S extends string> = Simplify<
  Intersect<Item<A, Split<S>[number]>>
>;

/** One page and, when asked with `page({ count: true })`, the total. */
export interface Page<Row> {
  rows: Row[];
  /** First and last index of `rows` in the whole result; null when empty. */
  range: { from: number; to: number } | null;
  total: number | null;
  /**
   * With `count`: each attribute the filters name that no contact has yet
   * (`no contact has the attribute "plann" yet (did you mean "plan"?)`), as
   * a new segment is warned; the query runs all the same. Empty otherwise.
   */
  warnings: string[];
  /** The cursor of the page after this one (pass it to `after`); null on the last. */
  next: string | null;
}

/** Runs a query; the client provides it. */
export type QueryRunner = (
  path: string,
  params: URLSearchParams,
  count: boolean,
) => Promise<Page<unknown>>;

export class ContactQuery<A extends Attributes = Attributes, Row = Contact<A>>
  implements PromiseLike<Row[]>
{
  private readonly filters: [string, string][] = [];
  private readonly view: [string, string][] = [];

  constructor(
    private readonly run: QueryRunner,
    private readonly path: string,
  ) {}

  eq(field: Field<A>, value: FilterValue): this {
    return this.filter(field, 'eq', value);
  }
  neq(field: Field<A>, value: FilterValue): this {
    return this.filter(field, 'neq', value);
  }
  gt(field: Field<A>, value: FilterValue): this {
    return this.filter(field, 'gt', value);
  }
  gte(field: Field<A>, value: FilterValue): this {
    return this.filter(field, 'gte', value);
  }
  lt(field: Field<A>, value: FilterValue): this {
    return this.filter(field, 'lt', value);
  }
  lte(field: Field<A>, value: FilterValue): this {
    return this.filter(field, 'lte', value);
  }
  /** PostgreSQL LIKE; `*` or `%` match any run of characters. */
  like(field: Field<A>, pattern: string): this {
    return this.filter(field, 'like', pattern);
  }
  ilike(field: Field<A>, pattern: string): this {
    return this.filter(field, 'ilike', pattern);
  }
  in(field: Field<A>, values: readonly FilterValue[]): this {
    this.filters.push([field, `in.(${values.map(listItem).join(',')})`]);
    return this;
  }
  is(field: Field<A>, value: null | boolean): this {
    this.filters.push([field, `is.${value}`]);
    return this;
  }
  /** `not(field, 'eq', 'pro')`, `not(field, 'is', null)`, `not(field, 'in', ['a', 'b'])`. */
  not(field: Field<A>, operator: string, value: FilterValue | null | readonly FilterValue[]): this {
    const text = Array.isArray(value)
      ? `(${value.map(listItem).join(',')})`
      : value === null
        ? 'null'
        : format(value as FilterValue);
    this.filters.push([field, `not.${operator}.${text}`]);
    return this;
  }
  /** PostgREST's string form: `or('plan.eq.pro,mrr.gt.100')`. */
  or(filters: string): this {
    this.filters.push(['or', `(${filters})`]);
    return this;
  }
  /** Full-text search on email or a text attribute (`fts`, `plfts`, `phfts`, `wfts`). */
  textSearch(
    field: Field<A>,
    query: string,
    options: { type?: 'plain' | 'phrase' | 'websearch'; config?: string } = {},
  ): this {
    const operator = options.type ? TEXT_SEARCH[options.type] : 'fts';
    this.filters.push([
      field,
      `${operator}${options.config ? `(${options.config})` : ''}.${query}`,
    ]);
    return this;
  }
  /** Any PostgREST filter as written: `filter('mrr', 'gt', 100)`. */
  filter(field: Field<A>, operator: string, value: FilterValue): this {
    this.filters.push([field, `${operator}.${format(value)}`]);
    return this;
  }

  select<S extends string>(columns: S): ContactQuery<A, SelectRow<A, S>> {
    this.setView('select', columns.replace(/\s+/g, ''));
    return this as unknown as ContactQuery<A, SelectRow<A, S>>;
  }
  order(field: Field<A>, options: { ascending?: boolean; nullsFirst?: boolean } = {}): this {
    const direction = options.ascending === false ? 'desc' : 'asc';
    const nulls =
      options.nullsFirst === undefined ? '' : options.nullsFirst ? '.nullsfirst' : '.nullslast';
    const item = `${field}.${direction}${nulls}`;
    const existing = this.view.find(([key]) => key === 'order');
    if (existing) existing[1] += `,${item}`;
    else this.view.push(['order', item]);
    return this;
  }
  limit(count: number): this {
    return this.setView('limit', String(count));
  }
  offset(count: number): this {
    return this.setView('offset', String(count));
  }
  /** The rows after those of the page whose `next` this is (the API's `after=`). */
  after(cursor: string): this {
    return this.setView('after', cursor);
  }
  /** Rows `from` to `to`, inclusive, like supabase-js. */
  range(from: number, to: number): this {
    this.setView('offset', String(from));
    return this.setView('limit', String(Math.max(0, to - from + 1)));
  }

  /**
   * Filters as written in a PostgREST query string (`plan=eq.pro&mrr=gt.100`),
   * each parameter added as it is: what a segment's condition holds.
   */
  where(query: string | URLSearchParams): this {
    for (const [name, value] of new URLSearchParams(query)) this.filters.push([name, value]);
    return this;
  }

  /** The filters alone, as query parameters (what segments and `lists.add` take). */
  filterParams(): URLSearchParams {
    return new URLSearchParams(this.filters);
  }
  /**
   * What `lists.add`, `lists.remove` and a segment send: the filters, and a
   * limit, offset or after when one is set, which the server refuses there (`limit:
   * only filters are allowed here`) — dropped, `.limit(100)` would add or
   * save every contact the filters match. select and order change no one.
   */
  conditionParams(): URLSearchParams {
    const window = this.view.filter(
      ([key]) => key === 'limit' || key === 'offset' || key === 'after',
    );
    return new URLSearchParams([...this.filters, ...window]);
  }
  /** The whole query string. */
  toString(): string {
    return new URLSearchParams([...this.filters, ...this.view]).toString();
  }

  /** One page with its range, and the total when `count` is set. */
  async page(options: { count?: boolean } = {}): Promise<Page<Row>> {
    const params = new URLSearchParams([...this.filters, ...this.view]);
    return (await this.run(this.path, params, options.count ?? false)) as Page<Row>;
  }

  /**
   * Every page from this query's on, each asked for with the cursor of the
   * one before: no row twice or missed while contacts are created meanwhile.
   * The pages after the first drop its offset (the API would skip that many
   * rows after each cursor); the builder itself is left as it was, so
   * another pages() starts again from the first.
   */
  async *pages(): AsyncGenerator<Page<Row>> {
    let page = await this.page();
    yield page;
    const view = this.view.filter(([key]) => key !== 'offset' && key !== 'after');
    while (page.next !== null) {
      const params = new URLSearchParams([...this.filters, ...view, ['after', page.next]]);
      page = (await this.run(this.path, params, false)) as Page<Row>;
      yield page;
    }
  }

  // biome-ignore lint/suspicious/noThenProperty: awaiting the builder runs the query, as in supabase-js
  then<T1 = Row[], T2 = never>(
    onFulfilled?: ((rows: Row[]) => T1 | PromiseLike<T1>) | null,
    onRejected?: ((reason: unknown) => T2 | PromiseLike<T2>) | null,
  ): Promise<T1 | T2> {
    return this.page()
      .then((page) => page.rows)
      .then(onFulfilled, onRejected);
  }

  private setView(key: string, value: string): this {
    const existing = this.view.find(([name]) => name === key);
    if (existing) existing[1] = value;
    else this.view.push([key, value]);
    return this;
  }
}

const TEXT_SEARCH = { plain: 'plfts', phrase: 'phfts', websearch: 'wfts' } as const;

function format(value: FilterValue): string {
  return value instanceof Date ? value.toISOString() : String(value);
}

/** An item of `in.(...)`, quoted when it holds what the list syntax uses. */
function listItem(value: FilterValue): string {
  const text = format(value);
  return text === '' || /[,()"\\]|^\s|\s$/.test(text)
    ? `"${text.replace(/[\\"]/g, (char) => `\\${char}`)}"`
    : text;
}
