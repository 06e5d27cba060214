// `nudge doctor`: the connection test, as ✓ / ⚠ / ✗ lines with a one-line fix
// under each problem (the checks are src/doctor/checks.ts, which the
// dashboard's Overview runs too). Exit 1 when any ✗.
import { runDoctor, type Say } from '../doctor/checks.js';
import { plural } from '../words.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject } from './project.js';

/** Prints one check: symbol, label, message, and the fix on the next line. */
function reporter(io: Io) {
  const c = io.colors;
  const symbols = { ok: c.green('✓'), warn: c.yellow('⚠'), fail: c.red('✗') };
  const counts = { ok: 0, warn: 0, fail: 0 };
  const say: Say = (outcome, label, message, fix, items = []) => {
    counts[outcome]++;
    io.out(`${symbols[outcome]} ${label.padEnd(18)} ${message}`);
    for (const item of items) io.out(`    ${item}`);
    if (fix && outcome !== 'ok') io.out(`  ${c.dim('fix:')} ${fix}`);
  };
  let first = true;
  const section = (title: string, detail = '') => {
    if (!first) io.out('');
    first = false;
    io.out(`${c.bold(title)}${detail ? `  ${c.dim(detail)}` : ''}`);
  };
  const skip = (message: string) => io.out(c.dim(`- ${message}`));
  return { say, section, skip, counts };
}

export async function doctor(options: GlobalOptions, io: Io): Promise<number> {
  const project = await loadProject(options, io, { unsetIsReported: true });
  const { say, section, skip, counts } = reporter(io);
  await runDoctor(project, { say, section, skip, gap: () => io.out('') });

  io.out('');
  const warnings = counts.warn ? plural(counts.warn, 'warning') : '';
  if (counts.fail) {
    const summary = [plural(counts.fail, 'problem'), warnings].filter(Boolean).join(', ');
    io.out(io.colors.red(`${summary}: see the fix under each ✗`));
    return 1;
  }
  io.out(io.colors.green(warnings ? `No problems; ${warnings}.` : 'All checks passed.'));
  return 0;
}
