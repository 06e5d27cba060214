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
      'x.yaml:1:9 access: expected one of read-write, read-only (did you mean "read-only"?)',
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
