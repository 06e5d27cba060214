// Decodes the messages of PostgreSQL's `pgoutput` plugin (protocol version 1,
// text values) into transactions of row changes, and turns each text value
// into the JSON value `to_json` gives for it, so a row read from the
// replication stream looks like the row a capture trigger would have copied.
// Pure: bytes in, objects out (the stream and the acknowledgements are in
// stream.ts). Message layouts: "Logical Replication Message Formats" in the
// PostgreSQL documentation.
import { jsonNumber, parseJson } from '../../../db/json.js';

/** A 64-bit WAL position, kept as a bigint. */
export type Lsn = bigint;

export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function parseLsn(text: string): Lsn {
  const [high, low] = text.split('/');
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

export interface RelationColumn {
  name: string;
  /** The column's type OID. */
  type: number;
  /** Part of the replica identity. */
  key: boolean;
}

export interface Relation {
  id: number;
  schema: string;
  table: string;
  columns: RelationColumn[];
}

export type Row = Record<string, unknown>;

export type PgoutputMessage =
  | { tag: 'begin'; finalLsn: Lsn; commitTime: Date; xid: number }
  | { tag: 'commit'; commitLsn: Lsn; endLsn: Lsn; commitTime: Date }
  | { tag: 'relation'; relation: Relation }
  | { tag: 'insert'; relation: Relation; new: Row }
  /**
   * `whole`: the old row carries every column (REPLICA IDENTITY FULL, 'O');
   * else it carries the identity's columns ('K'), or for an update that
   * kept them, nothing.
   */
  | { tag: 'update'; relation: Relation; old: Row | null; whole: boolean; new: Row }
  | { tag: 'delete'; relation: Relation; old: Row; whole: boolean }
  /** A logical decoding message (pg_logical_emit_message), sent with `messages 'true'`. */
  | { tag: 'message'; transactional: boolean; prefix: string; content: Buffer }
  | { tag: 'other'; code: string };

/** Microseconds since 2000-01-01 (PostgreSQL's epoch) as a Date. */
function pgTime(micros: bigint): Date {
  return new Date(Date.UTC(2000, 0, 1) + Number(micros / 1000n));
}

/**
 * Decodes one pgoutput message. `relations` is the decoder's memory of the
 * Relation messages seen on this stream (a change refers to its table by id).
 */
export function decodePgoutput(buffer: Buffer, relations: Map<number, Relation>): PgoutputMessage {
  const code = String.fromCharCode(buffer[0]!);
  let at = 1;
  const cstring = () => {
    const end = buffer.indexOf(0, at);
    const text = buffer.toString('utf8', at, end);
    at = end + 1;
    return text;
  };
  const relationAt = () => {
    const id = buffer.readUInt32BE(at);
    at += 4;
    const relation = relations.get(id);
    if (!relation) throw new Error(`pgoutput: change for unknown relation ${id}`);
    return relation;
  };
  const tuple = (relation: Relation, old?: Row | null): Row => {
    const count = buffer.readUInt16BE(at);
    at += 2;
    const row: Row = {};
    for (let i = 0; i < count; i++) {
      const column = relation.columns[i]!;
      const kind = buffer[at++];
      if (kind === 0x6e /* n */) row[column.name] = null;
      else if (kind === 0x75 /* u: an unchanged TOASTed value, not sent */) {
        if (old && column.name in old) row[column.name] = old[column.name];
      } else {
        const length = buffer.readUInt32BE(at);
        at += 4;
        row[column.name] = jsonValue(buffer.toString('utf8', at, at + length), column.type);
        at += length;
      }
    }
    return row;
  };
  switch (code) {
    case 'B': {
      const finalLsn = buffer.readBigUInt64BE(1);
      return {
        tag: 'begin',
        finalLsn,
        commitTime: pgTime(buffer.readBigInt64BE(9)),
        xid: buffer.readUInt32BE(17),
      };
    }
    case 'C':
      return {
        tag: 'commit',
        commitLsn: buffer.readBigUInt64BE(2),
        endLsn: buffer.readBigUInt64BE(10),
        commitTime: pgTime(buffer.readBigInt64BE(18)),
      };
    case 'R': {
      const id = buffer.readUInt32BE(at);
      at += 4;
      const schema = cstring();
      const table = cstring();
      at += 1; // replica identity setting
      const count = buffer.readUInt16BE(at);
      at += 2;
      const columns: RelationColumn[] = [];
      for (let i = 0; i < count; i++) {
        const flags = buffer[at++]!;
        const name = cstring();
        const type = buffer.readUInt32BE(at);
        at += 8; // type OID, type modifier
        columns.push({ name, type, key: (flags & 1) === 1 });
      }
      const relation = { id, schema, table, columns };
      relations.set(id, relation);
      return { tag: 'relation', relation };
    }
    case 'I': {
      const relation = relationAt();
      at += 1; // 'N'
      return { tag: 'insert', relation, new: tuple(relation) };
    }
    case 'U': {
      const relation = relationAt();
      let old: Row | null = null;
      const whole = buffer[at] === 0x4f; /* O */
      if (buffer[at] === 0x4b /* K */ || whole) {
        at += 1;
        old = tuple(relation);
      }
      at += 1; // 'N'
      return { tag: 'update', relation, old, whole, new: tuple(relation, old) };
    }
    case 'D': {
      const relation = relationAt();
      const whole = buffer[at++] === 0x4f; // 'O', else 'K'
      return { tag: 'delete', relation, old: tuple(relation), whole };
    }
    case 'M': {
      const transactional = (buffer[at++]! & 1) === 1;
      at += 8; // the message's LSN
      const prefix = cstring();
      const length = buffer.readUInt32BE(at);
      at += 4;
      return { tag: 'message', transactional, prefix, content: buffer.subarray(at, at + length) };
    }
    default:
      // Type, Origin, Truncate: nothing a capture keeps.
      return { tag: 'other', code };
  }
}

// Type OIDs whose text form is not the JSON value to_json gives.
const BOOL = 16;
const NUMBERS = new Set([20, 21, 23, 26, 700, 701, 1700]);
/** A number's text form that is a JSON number too: not NaN, Infinity or -Infinity. */
const endsInDigit = (text: string) => {
  const last = text.charCodeAt(text.length - 1);
  return last >= 48 && last <= 57;
};
const JSON_TYPES = new Set([114, 3802]);
const TIMESTAMPTZ = 1184;
const TIMESTAMP = 1114;
/** Array type OID → its element type OID, for the element types above and text-like ones. */
const ARRAYS = new Map<number, number>([
  [1000, BOOL],
  [1005, 21],
  [1007, 23],
  [1016, 20],
  [1021, 700],
  [1022, 701],
  [1231, 1700],
  [199, 114],
  [3807, 3802],
  [1185, TIMESTAMPTZ],
  [1115, TIMESTAMP],
  [1009, 25],
  [1015, 1043],
  [1014, 1042],
  [2951, 2950],
  [1182, 1082],
]);

/** The JSON value to_json gives for a value of type `type` written as `text`. */
export function jsonValue(text: string, type: number): unknown {
  if (type === BOOL) return text === 't';
  // Exact: a bigint over 2^53 or a long numeric is a JsonNumber (db/json.ts).
  // NaN and ±Infinity stay text, as to_json writes them.
  if (NUMBERS.has(type)) return endsInDigit(text) ? jsonNumber(text) : text;
  if (JSON_TYPES.has(type)) return parseJson(text);
  if (type === TIMESTAMPTZ) return isoTimestamp(text, true);
  if (type === TIMESTAMP) return isoTimestamp(text, false);
  const element = ARRAYS.get(type);
  if (element !== undefined) return parseArray(text, (item) => jsonValue(item, element));
  return text;
}

/** `2026-12-05 09:26:25.1+00` → `2026-12-05T09:26:25.1+00:00`, as to_json writes it. */
function isoTimestamp(text: string, zoned: boolean): string {
  if (!/^\d{4}-\d\d-\d\d \d/.test(text)) return text; // infinity, BC dates: as written
  const iso = text.replace(' ', 'T');
  if (!zoned) return iso;
  return iso.replace(/([+-]\d\d)(?::?(\d\d))?(?::(\d\d))?$/, (_, h, m, s) =>
    s ? `${h}:${m}:${s}` : `${h}:${m ?? '00'}`,
  );
}

/** A PostgreSQL array literal (`{1,2,NULL}`, `{"a b","c\"d"}`, nested) as nested arrays. */
export function parseArray(text: string, element: (item: string) => unknown): unknown[] {
  let at = text.startsWith('[') ? text.indexOf('=') + 1 : 0; // dimension decoration
  const parse = (): unknown[] => {
    const items: unknown[] = [];
    at++; // '{'
    while (at < text.length) {
      const c = text[at];
      if (c === '}') {
        at++;
        return items;
      }
      if (c === ',') {
        at++;
        continue;
      }
      if (c === '{') {
        items.push(parse());
        continue;
      }
      if (c === '"') {
        let value = '';
        at++;
        while (text[at] !== '"') {
          if (text[at] === '\\') at++;
          value += text[at++];
        }
        at++;
        items.push(element(value));
        continue;
      }
      let end = at;
      while (text[end] !== ',' && text[end] !== '}') end++;
      const raw = text.slice(at, end);
      at = end;
      items.push(raw === 'NULL' ? null : element(raw));
    }
    return items;
  };
  return parse();
}
