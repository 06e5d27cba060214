import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseYaml, validate } from './yaml.js';

const problem = (text: string, schema: z.ZodType) => {
  try {
    validate(parseYaml(text, 'x.yaml', {}), schema);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected validate to fail');
};

describe('validate', () => {
  it('lists an enum’s values, with the closest, when the schema says nothing of its own', () => {
    const schema = z.strictObject({ access: z.enum(['read-write', 'read-only']).optional() });
    expect(problem('access: readonly\n', schema)).toBe(
      'x.yaml:1:9 access: expected one of read-write, read-only, got "readonly" (did you mean "read-only"?)',
    );
  });

  it('keeps the message an enum or a literal words itself', () => {
    const schema = z.strictObject({
      capture: z.enum(['outbox', 'replication'], { error: 'outbox or replication' }).optional(),
      exit: z.literal(true, { error: 'write exit: true' }).optional(),
    });
    expect(problem('capture: wal\n', schema)).toBe('x.yaml:1:10 capture: outbox or replication');
    expect(problem('exit: yes\n', schema)).toBe('x.yaml:1:7 exit: write exit: true');
  });
});

describe('a file that is not a mapping', () => {
  const schema = z.strictObject({ name: z.string() });
  it('says a list is a list, and how to make it a mapping', () => {
    let hint: string | undefined;
    try {
      validate(parseYaml('- name: a\n  trigger: x\n', 'x.yaml', {}), schema);
    } catch (error) {
      hint = (error as { hint?: string }).hint;
    }
    expect(problem('- name: a\n', schema)).toBe(
      'x.yaml:1:1 expected a mapping of fields (such as name: ...) at the top of the file, got a list',
    );
    expect(hint).toBe(
      'remove the "- " before the first field and unindent the rest; one file holds one mapping',
    );
  });

  it('says a word is a word; an empty file is an empty mapping', () => {
    expect(problem('hello\n', schema)).toBe(
      'x.yaml:1:1 expected a mapping of fields (such as name: ...) at the top of the file, got "hello"',
    );
    expect(problem('# nothing yet\n', schema)).toBe('x.yaml:1:1 name: missing required field');
  });
});

describe('parseYaml', () => {
  const env = { SET: 'value' };
  it('leaves out a top-level key asked for that is one unset ${VAR}, with the error at its place', () => {
    const source = parseYaml('a: 1\nurl: ${UNSET}\n', 'x.yaml', env, {
      absentWhenUnset: ['url'],
    });
    expect(source.value).toEqual({ a: 1 });
    expect(source.unset.map((u) => [u.key, u.variable, u.error.message])).toEqual([
      ['url', 'UNSET', 'x.yaml:2:6 environment variable UNSET is not set'],
    ]);
  });

  it('leaves a key of the same name further down as any other field', () => {
    expect(() =>
      parseYaml('list:\n  - url: ${UNSET}\n', 'x.yaml', env, { absentWhenUnset: ['url'] }),
    ).toThrow('x.yaml:2:10 environment variable UNSET is not set');
  });

  it('interpolates such a field as any other when it is set, has a default or is more than the variable', () => {
    const options = { absentWhenUnset: ['url'] } as const;
    expect(parseYaml('url: ${SET}\n', 'x.yaml', env, options).value).toEqual({ url: 'value' });
    expect(parseYaml('url: ${UNSET:-d}\n', 'x.yaml', env, options).unset).toEqual([]);
    expect(() => parseYaml('url: x${UNSET}\n', 'x.yaml', env, options)).toThrow(
      'x.yaml:1:6 environment variable UNSET is not set',
    );
    // Not asked for: the error, as always.
    expect(() => parseYaml('other: ${UNSET}\n', 'x.yaml', env, options)).toThrow(
      'environment variable UNSET is not set',
    );
  });
});

describe('the YAML library’s own warnings', () => {
  // A mapping written where a key goes (a brace too many in a flow list)
  // made the library print a Node warning on stderr beside Nudge's error.
  it('do not reach stderr', async () => {
    const warnings: string[] = [];
    const listen = (warning: Error) => warnings.push(warning.message);
    process.on('warning', listen);
    try {
      const source = parseYaml(
        'do: [{ set: { source: example }, { track: { event: x } } }]\n',
        'f.yaml',
        {},
      );
      expect(source.value).toBeDefined();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', listen);
    }
    expect(warnings).toEqual([]);
  });
});

describe('syntax errors', () => {
  const syntax = (text: string) => {
    try {
      parseYaml(text, 'x.yaml', {});
    } catch (error) {
      return (error as Error).message.split('\n');
    }
    throw new Error('expected parseYaml to fail');
  };

  it('say one missing } once, not with the errors that follow from it', () => {
    expect(syntax('trigger: { table: public.orders, on: insert\nstages: [\n')).toEqual([
      expect.stringMatching(/^x\.yaml:2:1 Flow map .* end with a }$/),
    ]);
  });

  it('say every key written twice, each at its line, naming it and its first line', () => {
    expect(syntax('name: a\nname: b\nstages: []\nstages: []\n')).toEqual([
      'x.yaml:2:1 name: written twice in one mapping (first on line 1)',
      'x.yaml:4:1 stages: written twice in one mapping (first on line 3)',
    ]);
    const nested =
      'stages:\n  - name: s\n    do: []\n    when:\n      new.total: gt.1\n      new.total: lt.5\n';
    expect(syntax(nested)).toEqual([
      'x.yaml:6:7 stages[0].when["new.total"]: written twice in one mapping (first on line 5)',
    ]);
  });

  it('say a second document and a tab in words that say what to do', () => {
    expect(syntax('name: a\n---\nname: b\n')).toEqual([
      'x.yaml:2:1 a second YAML document starts here ("---"); a file holds one',
    ]);
    expect(syntax('trigger:\n\ttable: x\n')).toEqual([
      'x.yaml:2:1 a tab indents this line; YAML indents with spaces only',
    ]);
  });
});
