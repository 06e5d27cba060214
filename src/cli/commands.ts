// Registers every command. Keep the descriptions in the user's words; they
// are the first help a newcomer reads. Command modules load lazily so `nudge
// --help` stays fast.
import type { Command } from 'commander';
import { registerKeys } from './keys.js';
import { type Wrap, wholeNumber } from './program.js';

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

  program
    .command('plan')
    .description(
      'show what deploy would change in the database (+ create, ~ replace, - drop) and any drift',
    )
    .option('--json', 'print JSON instead of text')
    .action(wrap(async (options, io) => (await import('./plan.js')).plan(options, io)));

  program
    .command('deploy')
    .description(
      'apply the plan: install the nudge schema and capture — triggers, or with capture: replication publications and a slot',
    )
    .option('-y, --yes', 'apply without asking')
    .option('--sql', 'print the change as SQL instead of applying it')
    .option(
      '--discard-unread',
      'drop a replication slot even though it holds changes no engine has read (they are lost)',
    )
    .action(wrap(async (options, io) => (await import('./deploy.js')).deploy(options, io)));

  program
    .command('export')
    .description('write the change deploy would make as a migration file')
    .option('--supabase', 'as a Supabase CLI migration under supabase/migrations/')
    .option('--dir <dir>', 'directory to write to (default: supabase/migrations)')
    .option(
      '--discard-unread',
      'write it even though a replication slot it drops holds changes no engine has read (they are lost when it runs)',
    )
    .action(
      wrap(async (options, io) => (await import('./export.js')).exportMigration(options, io)),
    );

  program
    .command('teardown')
    .description(
      'remove what capture installed: every Nudge trigger, the nudge schema, and with capture: replication the publications and slot (the engine store stays)',
    )
    .option('-y, --yes', 'remove without asking')
    .option(
      '--discard-unread',
      'drop the replication slot even though it holds changes no engine has read (they are lost)',
    )
    .option('--dry-run', 'list what would be removed and what it would lose; remove nothing')
    .action(wrap(async (options, io) => (await import('./teardown.js')).teardown(options, io)));

  // Bare `nudge capture` prints this help, naming its subcommand.
  program
    .command('capture')
    .description('rows a capture trigger could not capture (kept in nudge.failed_events): retry')
    .command('retry')
    .description(
      'deliver the rows a trigger could not capture (nudge doctor names them) to the engine, each once; run it after repairing the cause',
    )
    .option('--dry-run', 'list what would be delivered and what would still fail; deliver nothing')
    .option('-y, --yes', 'deliver without asking')
    .action(
      wrap(async (options, io) => (await import('./capture-retry.js')).captureRetry(options, io)),
    );

  program
    .command('dev')
    .description(
      'try Nudge locally: embedded Postgres, a Supabase-shaped demo database, deployed features',
    )
    .option('--once', 'run the demo and exit instead of following new events')
    .option('--fresh', 'start over: drop the demo database and Nudge’s state in it')
    .option('--data-dir <dir>', 'where the embedded PostgreSQL keeps its data', '.nudge/pg')
    .option(
      '--port <port>',
      'the embedded PostgreSQL’s port (default: its last start’s, else any free one); not the dashboard’s (--http-port)',
      wholeNumber(1, 65535),
    )
    .option(
      '--http-port <port>',
      'the dashboard’s and API’s port (default: server.port in nudge.yaml, 8787, or any free one when that is taken)',
      wholeNumber(1, 65535),
    )
    // npm takes options before `--` as its own (`npm start --http-port 8800` warns and drops it).
    .addHelpText('after', '\nThrough npm start, options go after --: npm start -- --http-port 8800')
    .action(wrap(async (options, io) => (await import('./dev.js')).dev(options, io)));

  program
    .command('init')
    .description('create nudge.yaml and a first feature from a template')
    .option(
      '-t, --template <name>',
      'a premade feature of examples/demo, e.g. welcome-drip, abandoned-cart, order-confirmation, trial-ending, weekly-digest',
      'welcome-drip',
    )
    .action(wrap(async (options, io) => (await import('./init.js')).init(options, io)));

  program
    .command('logs')
    .description(
      'show the decision log: what each event matched or why it was skipped, journeys, actions',
    )
    .option('--feature <name>', 'only this feature')
    .option('--contact <email|id>', 'only this contact')
    .option(
      '--outcome <outcome>',
      'only this outcome: skipped, entered, action, attempt, paused, resumed, ...',
    )
    .option('--since <time>', 'only the last 15m, 2h, 7d, ... or since a time: 2026-12-01')
    .option('-n, --limit <n>', 'how many to show (default 100)', wholeNumber(1))
    .option('-f, --follow', 'keep printing new decisions until Ctrl-C (as tail -f)')
    .option('--json', 'one JSON object per line')
    .action(wrap(async (options, io) => (await import('./logs.js')).logs(options, io)));

  program
    .command('start')
    .description(
      'run Nudge: capture, journeys, timers, schedules, actions and the HTTP server, in one process',
    )
    .option(
      '--port <port>',
      'HTTP port (default: server.port in nudge.yaml, 8787; 0: any free port)',
      wholeNumber(0, 65535),
    )
    .option('--json', 'log JSON lines')
    .option('--verbose', 'log more')
    .action(wrap(async (options, io) => (await import('./start.js')).start(options, io)));

  program
    .command('worker')
    .description('add a process that shares the work of a running nudge start (no HTTP server)')
    .option('--json', 'log JSON lines')
    .option('--verbose', 'log more')
    .action(wrap(async (options, io) => (await import('./start.js')).worker(options, io)));

  program
    .command('replay')
    .description('run dead actions again: one by key, or all of a feature or time range')
    .option('--key <key>', 'the dead action run with this idempotency key')
    .option('--feature <name>', 'dead actions of this feature')
    .option('--since <duration>', 'dead actions created in the last 15m, 2h, 7d, ...')
    .option(
      '--force',
      'with --key: replay that run whatever its status (a succeeded one runs again)',
    )
    .action(wrap(async (options, io) => (await import('./replay.js')).replay(options, io)));

  program
    .command('pause <feature>')
    .description('pause a feature in every running engine, live: its events are skipped as paused')
    .action(
      wrap(async (options, io, args) => (await import('./pause.js')).pause(args, options, io)),
    );

  program
    .command('resume <feature>')
    .description('resume a paused feature in every running engine, live')
    .action(
      wrap(async (options, io, args) => (await import('./resume.js')).resume(args, options, io)),
    );

  program
    .command('secret <what>')
    .description(
      'print the ingest secret (ingest), the Supabase webhook secret (shared), install the capture signing key (install), or delete the stored secrets when their master key is lost (reset)',
    )
    .option('-y, --yes', 'reset without asking')
    .action(
      wrap(async (options, io, args) =>
        (await import('./secret.js')).secret(args[0] ?? '', options, io),
      ),
    );

  // Bare `nudge clock` prints this help, naming the three subcommands.
  const clock = program
    .command('clock')
    .description("the engine's clock: show, advance <duration> (fires waits and cooldowns), reset")
    .showHelpAfterError('(run nudge clock --help: show, advance <duration>, reset)');
  const clockCommand = (what: 'show' | 'advance' | 'reset') =>
    wrap(async (options, io, args) =>
      (await import('./clock.js')).clock(what, args[0], options, io),
    );
  clock
    .command('show')
    .description('print the engine time and how far it is from real time')
    .action(clockCommand('show'));
  clock
    .command('advance [duration]')
    .description(
      'move the engine time forward, e.g. advance 2d (units: s, m, h, d, w), at most 36500d',
    )
    .option('-y, --yes', 'move it on a database that is not nudge dev’s demo')
    // `advance -1d` reaches clock.ts, which says the clock only moves forward.
    .allowUnknownOption()
    .action(clockCommand('advance'));
  clock
    .command('reset')
    .description('go back to real time (what was sent stays sent)')
    .option('-y, --yes', 'reset it on a database that is not nudge dev’s demo')
    .action(clockCommand('reset'));

  program
    .command('backtest <feature>')
    .description(
      'what a feature would have done over the past: simulated clock, no effects, nothing written',
    )
    .option('--since <time>', 'from this long ago or this time: 30d (default), 2024-01-01')
    .option('--from <time>', 'window start: an ISO time or a duration back from now')
    .option('--to <time>', 'window end (default: now)')
    .option('--json', 'print the report as JSON')
    .action(
      wrap(async (options, io, args) =>
        (await import('./backtest.js')).backtest(args, options, io),
      ),
    );

  program
    .command('backfill <feature>')
    .description('enter existing rows (all current users, say) into a feature, as if just created')
    .option('--where <condition>', 'only these rows: plan=eq.pro&created_at=lt.2024-01-01')
    .option('--dry-run', 'count and show a sample; enter nobody')
    .option('-y, --yes', 'enter them without asking')
    .option('--rate <rate>', 'rows a second at most: 50/s, 3000/m, unlimited', '50/s')
    .option('--restart', 'read every row again, even the rows of a backfill that finished')
    .action(
      wrap(async (options, io, args) =>
        (await import('./backfill.js')).backfill(args, options, io),
      ),
    );

  registerKeys(program, wrap);

  program
    .command('new <sentence...>')
    .description('draft a feature from plain English with the model under ai: in nudge.yaml')
    .option('--force', 'replace a feature file of the same name')
    .action(
      wrap(async (options, io, args) =>
        (await import('./new.js')).newFeature(args.join(' '), options, io),
      ),
    );

  program
    .command('report <feature>')
    .description(
      'did a feature work? per variant and holdout: entered, converted, rate, lift with a 95% interval',
    )
    .option('--json', 'print the report as JSON')
    .action(
      wrap(async (options, io, args) => (await import('./report.js')).report(args, options, io)),
    );

  program
    .command('mcp')
    .description('serve Nudge to AI assistants (Claude, Cursor) as an MCP server over stdio')
    .action(wrap(async (options, io) => (await import('./mcp.js')).mcp(options, io)));

  const sync = program
    .command('sync')
    .description('copy Supabase users and mapped tables into contacts and events (resumable)')
    .option('--full', 'start over from the first row')
    .option('--since <time>', 'only rows changed since: 2024-01-01, an ISO time, or 7d')
    .action(wrap(async (options, io) => (await import('./sync.js')).syncAllCommand(options, io)));
  sync
    .command('users')
    .description('Supabase Auth users → contacts, through user_mapping')
    .option('--full', 'start over from the first row')
    .option('--since <time>', 'only users changed since: 2024-01-01, an ISO time, or 7d')
    .action(wrap(async (options, io) => (await import('./sync.js')).syncUsersCommand(options, io)));
  sync
    .command('tables')
    .description('table_mapping: rows → contact attributes or events')
    .option('--full', 'start over from the first row')
    .option('--since <time>', 'only rows changed since: 2024-01-01, an ISO time, or 7d')
    .option('--table <names...>', 'only these table_mapping entries')
    .action(
      wrap(async (options, io) => (await import('./sync.js')).syncTablesCommand(options, io)),
    );
}
