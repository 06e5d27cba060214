// Option values are checked before a command runs: a whole number where one
// is expected (naming the option), and --version prints package.json's.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { memoryIo } from './io.js';
import { run } from './program.js';

async function nudge(...argv: string[]) {
  const { io, stdout, stderr } = memoryIo();
  const code = await run(argv, io);
  return { code, out: stdout(), err: stderr() };
}

describe('nudge options', () => {
  it.each([
    [
      ['logs', '-n', 'abc'],
      "option '-n, --limit <n>' argument 'abc' is invalid. expected a whole number, 1 or more.",
    ],
    [
      ['logs', '-n', '0'],
      "option '-n, --limit <n>' argument '0' is invalid. expected a whole number, 1 or more.",
    ],
    [['logs', '-n', '-5'], "option '-n, --limit <n>' argument '-5' is invalid"],
    [
      ['start', '--port', 'abc'],
      "option '--port <port>' argument 'abc' is invalid. expected a whole number from 0 to 65535.",
    ],
    [
      ['start', '--port', '70000'],
      "argument '70000' is invalid. expected a whole number from 0 to 65535.",
    ],
    [['dev', '--port', '0'], "argument '0' is invalid. expected a whole number from 1 to 65535."],
  ])('refuses %j before running it, naming the option', async (argv, message) => {
    const { code, err } = await nudge(...argv);
    expect(code).toBe(2);
    expect(err).toContain(message);
  });

  it.each([
    // Quoted, "2 days" is refused next (did you mean "2d"?): the hint gives the form that works.
    [['logs', '--since', '2', 'days'], 'A duration is written without a space: --since 2d'],
    [['logs', '-n', '5', '--since', '10', 'minutes'], '--since 10m'],
    [['replay', '--since', '3', 'hours'], '--since 3h'],
    [['backtest', '--since', '2', 'days', 'welcome'], '--since 2d'],
    [['backtest', 'welcome', '--from', '30', 'days'], '--from 30d'],
    [['sync', 'users', '--since', '7', 'days'], '--since 7d'],
    [['--config', 'x/nudge.yaml', 'logs', '--since', '2', 'days'], '--since 2d'],
    // A time with a space is one value: quoted, it is taken.
    [
      ['backtest', 'welcome', '--from', '2024-01-01', '12:00'],
      'A value with a space needs quotes: --from "2024-01-01 12:00"',
    ],
    // Not a duration meant: quoted as it was written.
    [['logs', '--since', '2', 'months'], 'A value with a space needs quotes: --since "2 months"'],
    // An argument that is a duration: the command with the duration it takes.
    [
      ['clock', 'advance', '2', 'days'],
      'A duration is written without a space: nudge clock advance 2d',
    ],
    [
      ['--config', 'x/nudge.yaml', 'clock', 'advance', '--yes', '3', 'hours'],
      'nudge clock advance 3h',
    ],
  ])('names the form a value split at its space takes: %j', async (argv, hint) => {
    const { code, err } = await nudge(...argv);
    expect(code).toBe(2);
    expect(err).toContain('too many arguments');
    expect(err).toContain(hint);
  });

  it('gives no quoting hint for a word that follows no option', async () => {
    const { code, err } = await nudge('logs', 'welcome');
    expect(code).toBe(2);
    expect(err).not.toContain('needs quotes');
  });

  it('gives no duration hint for an argument that means none', async () => {
    const { code, err } = await nudge('clock', 'advance', '2', 'months');
    expect(code).toBe(2);
    expect(err).toContain('too many arguments');
    expect(err).not.toContain('A duration');
  });

  it('prints the version', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(await nudge('--version')).toMatchObject({ code: 0, out: version });
  });
});
