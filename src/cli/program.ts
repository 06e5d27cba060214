// The command tree. Each command lives in its own file and exports a function
// taking the parsed options and an Io; this file only wires them to commander.
import { Command, CommanderError } from 'commander';
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
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text.trimEnd()),
      writeErr: (text) => io.err(text.trimEnd()),
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

export type Wrap = <O>(action: CommandAction<O>) => (...args: unknown[]) => Promise<void>;
