// The command tree. Each command lives in its own file and exports a function
// taking the parsed options and an Io; this file only wires them to commander.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { durationSuggestion } from '../config/duration-text.js';
import type { Io } from './io.js';
import { printError } from './io.js';

export interface GlobalOptions {
  config?: string;
  debug?: boolean;
}

export type CommandAction<O> = (
  options: O & GlobalOptions,
  io: Io,
  args: string[],
) => Promise<number>;

export async function run(argv: string[], io: Io): Promise<number> {
  let exitCode = 0;
  const program = new Command('nudge')
    .description('Growth and engagement automation for Supabase and PostgreSQL')
    .option('-c, --config <file>', 'config file (default: ./nudge.yaml)')
    .option('--debug', 'print stack traces')
    .version(VERSION, '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text.trimEnd()),
      writeErr: (text) => io.err(text.trimEnd()),
      outputError: (text, write) => {
        const hint = text.includes('too many arguments')
          ? quoteHint(program, argv, text)
          : undefined;
        write(hint ? `${text.trimEnd()}\n${hint}` : text);
      },
    })
    .showHelpAfterError('(run nudge --help for the commands)');

  const wrap =
    <O>(action: CommandAction<O>) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const options = command.optsWithGlobals() as O & GlobalOptions;
      try {
        exitCode = await action(options, io, command.args);
      } catch (error) {
        exitCode = printError(io, error, !!options.debug);
      }
    };

  const { registerCommands } = await import('./commands.js');
  registerCommands(program, wrap);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    return printError(io, error, argv.includes('--debug'));
  }
  return exitCode;
}

/**
 * `nudge logs --since 2 days` is refused by commander as "too many
 * arguments": the shell split the value at its space. When a word it refused
 * follows an option's value, name the option with the value quoted — or,
 * for a duration or time option given a duration with its unit spelt out,
 * the duration it takes (`--since 2d`): quoted, "2 days" is refused next.
 * A duration argument split so (`nudge clock advance 2 days`) gets the
 * command written with the duration it takes (`nudge clock advance 2d`).
 */
function quoteHint(program: Command, argv: string[], message: string): string | undefined {
  const counts = /Expected (\d+) arguments? but got (\d+)/.exec(message);
  const excess = counts ? Number(counts[2]) - Number(counts[1]) : 0;
  const found = commandIn(program, argv);
  if (!found) return undefined;
  const valued = (token: string) =>
    [...found.chain.flatMap((c) => c.options), ...program.options].find(
      (o) => (o.long === token || o.short === token) && (o.required || o.optional),
    );
  for (let i = 1; i < argv.length; i++) {
    const option = valued(argv[i] ?? '');
    const value = argv[i + 1];
    const extra: string[] = [];
    for (
      let j = i + 2;
      j < argv.length && extra.length < excess && !argv[j]?.startsWith('-');
      j++
    ) {
      extra.push(argv[j] ?? '');
    }
    if (option && value !== undefined && !value.startsWith('-') && extra.length > 0) {
      const joined = [value, ...extra].join(' ');
      const duration = /<(duration|time)>/.test(option.flags) && durationSuggestion(joined);
      if (duration) return `A duration is written without a space: ${argv[i]} ${duration}`;
      return `A value with a space needs quotes: ${argv[i]} "${joined}"`;
    }
  }
  // The command's arguments: the words after its name that are neither options nor their values.
  const command = found.chain.at(-1)!;
  const index = command.registeredArguments.findIndex((a) => a.name() === 'duration');
  if (index < 0) return undefined;
  const words: string[] = [];
  for (let i = found.at + 1; i < argv.length; i++) {
    const word = argv[i] ?? '';
    if (!word.startsWith('-')) words.push(word);
    else if (valued(word)) i++;
  }
  const duration = durationSuggestion(words.slice(index, index + 1 + excess).join(' '));
  const name = found.chain.map((c) => c.name()).join(' ');
  return duration ? `A duration is written without a space: nudge ${name} ${duration}` : undefined;
}

/**
 * The command `argv` runs with the commands it is under (`clock`, `advance`),
 * and where its name is in argv: from the first word that names a command
 * (global options such as --config <file> may come before it), each next
 * word that names one of its subcommands.
 */
function commandIn(program: Command, argv: string[]): { chain: Command[]; at: number } | undefined {
  const named = (parent: Command, word = '') =>
    parent.commands.find((c) => c.name() === word || c.aliases().includes(word));
  let at = argv.findIndex((word) => named(program, word));
  if (at < 0) return undefined;
  const chain = [named(program, argv[at])!];
  for (let sub = named(chain[0]!, argv[at + 1]); sub; sub = named(sub, argv[at + 1])) {
    chain.push(sub);
    at++;
  }
  return { chain, at };
}

/** package.json's version (src/cli and dist/cli are both two levels down). */
const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/**
 * An option's value that must be a whole number in [min, max]: refused by
 * commander, naming the option, before the command runs ("--limit abc" was
 * a database error; "--port abc" started the engine first).
 */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): string => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `expected a whole number, ${min} or more.`
          : `expected a whole number from ${min} to ${max}.`,
      );
    }
    return value.trim();
  };
}

export type Wrap = <O>(action: CommandAction<O>) => (...args: unknown[]) => Promise<void>;
