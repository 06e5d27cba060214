import { describe, expect, it } from 'vitest';
import { ConfigError, ConfigErrors } from '../errors.js';
import { memoryIo, printError } from './io.js';

const at = (line: number) => ({ file: 'nudge/features/a.yaml', line, column: 3 });

describe('printError', () => {
  it('says each config problem with its own hint, a hint shared by several once', () => {
    const { io, stderr } = memoryIo();
    const errors = new ConfigErrors([
      new ConfigError(at(2), 'trigger.when', 'unknown operator "eqq"'),
      new ConfigError(
        at(5),
        'stages[0].unless',
        'contact.onbaorded is unknown',
        'did you mean contact.onboarded?',
      ),
      new ConfigError(
        at(7),
        'stages[1].do[0].email.to',
        '"contact.email" is not an email address',
        'write "{{ contact.email }}"',
      ),
      new ConfigError(
        at(9),
        'stages[2].unless',
        'contact.onbaorded is unknown',
        'did you mean contact.onboarded?',
      ),
    ]);
    expect(printError(io, errors, false)).toBe(2);
    expect(stderr().split('\n')).toEqual([
      '✗ nudge/features/a.yaml:2:3 trigger.when: unknown operator "eqq"',
      '✗ nudge/features/a.yaml:5:3 stages[0].unless: contact.onbaorded is unknown',
      '  hint: did you mean contact.onboarded?',
      '✗ nudge/features/a.yaml:7:3 stages[1].do[0].email.to: "contact.email" is not an email address',
      '  hint: write "{{ contact.email }}"',
      '✗ nudge/features/a.yaml:9:3 stages[2].unless: contact.onbaorded is unknown',
    ]);
  });
});
