// Registers every command. Keep the descriptions in the user's words; they
// are the first help a newcomer reads. Command modules load lazily so `nudge
// --help` stays fast.
import type { Command } from 'commander';
import type { Wrap } from './program.js';

export function registerCommands(program: Command, wrap: Wrap): void {
  program
    .command('analyze')
    .description(
      'describe the database: tables, columns, keys, RLS, triggers, extensions, replication',
    )
    .option('--json', 'print JSON instead of text')
    .option('--schema <names...>', 'only these schemas')
    .action(wrap(async (options, io) => (await import('./analyze.js')).analyze(options, io)));

  program
    .command('doctor')
    .description('check the connection and everything Nudge needs, with a fix for each problem')
    .action(wrap(async (options, io) => (await import('./doctor.js')).doctor(options, io)));
}
