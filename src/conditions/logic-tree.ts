// PostgREST's string form of and/or: `or: "(new.status.eq.paid,and(new.total.gt.100,new.vip.is.true))"`.
// A recursive-descent reader over the string; every test it builds carries
// the path of the string itself, and errors quote the offending item.
import { type Condition, ConditionError, type Path } from './ast.js';
import { parseField, parseFilter } from './filter.js';

const GROUP = /^(not\.)?(and|or)\(/;

/** Parses `(item,item,...)` into the items of an and/or group. */
export function parseLogicTree(text: string, scopes: readonly string[], path: Path): Condition[] {
  const reader = new Reader(text, scopes, path);
  const items = reader.list();
  reader.skipSpaces();
  if (reader.pos < text.length) {
    throw new ConditionError(
      path,
      `unexpected text after the closing parenthesis: "${text.slice(reader.pos)}"`,
    );
  }
  return items;
}

class Reader {
  pos = 0;
  constructor(
    readonly text: string,
    readonly scopes: readonly string[],
    readonly path: Path,
  ) {}

  skipSpaces(): void {
    while (this.text[this.pos] === ' ') this.pos++;
  }

  list(): Condition[] {
    this.skipSpaces();
    if (this.text[this.pos] !== '(') {
      throw new ConditionError(
        this.path,
        `expected "(<filter>,<filter>,...)", e.g. "(new.status.eq.paid,new.total.gt.100)", got "${this.text}"`,
      );
    }
    this.pos++;
    const items: Condition[] = [];
    for (;;) {
      this.skipSpaces();
      items.push(this.item());
      this.skipSpaces();
      const char = this.text[this.pos];
      this.pos++;
      if (char === ')') return items;
      if (char !== ',') {
        throw new ConditionError(this.path, `missing ")" at the end of "${this.text}"`);
      }
    }
  }

  item(): Condition {
    const group = GROUP.exec(this.text.slice(this.pos));
    if (group) {
      this.pos += group[0].length - 1; // leave the "(" for list()
      const node: Condition = {
        kind: group[2] as 'and' | 'or',
        items: this.list(),
        path: this.path,
      };
      return group[1] ? { kind: 'not', item: node, path: this.path } : node;
    }
    const text = this.filterText();
    const shouting = /^(not\.)?(and|or)\(/i.exec(text);
    if (shouting) {
      throw new ConditionError(
        this.path,
        `in "${text}": write ${shouting[0].toLowerCase()} in lowercase, as PostgREST does`,
      );
    }
    return this.test(text);
  }

  /** The text of one filter: up to a "," or ")" outside quotes and in-lists. */
  filterText(): string {
    const start = this.pos;
    let depth = 0;
    for (; this.pos < this.text.length; this.pos++) {
      const char = this.text[this.pos];
      if (char === '"') {
        this.skipQuoted();
      } else if (char === '(') {
        depth++;
      } else if (char === ')') {
        if (depth === 0) break;
        depth--;
      } else if (char === ',' && depth === 0) {
        break;
      }
    }
    return this.text.slice(start, this.pos);
  }

  skipQuoted(): void {
    for (this.pos++; this.pos < this.text.length; this.pos++) {
      const char = this.text[this.pos];
      if (char === '\\') this.pos++;
      else if (char === '"') return;
    }
    throw new ConditionError(this.path, `unterminated quote in "${this.text}"`);
  }

  /** `new.meta->>plan.not.eq.pro`: the field is the first two dot-separated parts. */
  test(item: string): Condition {
    const first = item.indexOf('.');
    const second = first < 0 ? -1 : item.indexOf('.', first + 1);
    if (second < 0) {
      throw new ConditionError(
        this.path,
        `expected "<scope>.<column>.<op>.<value>", e.g. "new.status.eq.paid", got "${item}"`,
      );
    }
    const filter = item.slice(second + 1);
    try {
      const field = parseField(item.slice(0, second), this.scopes, this.path);
      return {
        kind: 'test',
        field,
        ...parseFilter(filter, this.path, true),
        filter,
        path: this.path,
      };
    } catch (error) {
      if (error instanceof ConditionError) {
        throw new ConditionError(error.path, `in "${item}": ${error.message}`);
      }
      throw error;
    }
  }
}
