// `nudge export --supabase`: the change deploy would make, written as a
// migration under supabase/migrations/ for teams that deploy with the Supabase CLI.
// What the change would lose (a replication slot's unread changes, whose drop
// the file lists to run after it) is refused as deploy refuses it, unless
// --discard-unread says to write it anyway (said before the file is written).
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { planLosses, planScript } from '../capture/deploy.js';
import { displayPath } from '../config/yaml.js';
import { NudgeError } from '../errors.js';
import { redactUrl } from '../source/connect.js';
import { NUDGE_VERSION } from '../version.js';
import { planChange } from './capture.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, withSource } from './project.js';

export async function exportMigration(
  options: GlobalOptions & { supabase?: boolean; dir?: string; discardUnread?: boolean },
  io: Io,
): Promise<number> {
  if (!options.supabase) {
    throw new NudgeError('say which format to export', 'nudge export --supabase');
  }
  const project = await loadProject(options, io);
  return withSource(project, async (session) => {
    const { plan } = await planChange(project, session.sql);
    if (!plan.hasChanges) {
      io.out('No changes: the database already matches the features; no migration written.');
      return 0;
    }
    for (const loss of await planLosses(session.sql, plan)) {
      if (!options.discardUnread) throw loss.refusal('export');
      io.out(io.colors.yellow(`  ${loss.notice}`));
    }
    const dir = path.resolve(project.dir, options.dir ?? 'supabase/migrations');
    await mkdir(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
    const file = path.join(dir, `${stamp}_nudge_deploy.sql`);
    const script = planScript(plan, {
      transaction: false,
      header: [
        `Nudge ${NUDGE_VERSION}: capture changes planned against ${redactUrl(session.url)}`,
        `Plan: ${plan.counts.create} to create, ${plan.counts.replace} to replace, ${plan.counts.drop} to drop.`,
        'The Supabase CLI runs this file in one transaction. Plan against the database you will migrate.',
      ],
    });
    await writeFile(file, script);
    io.out(`${io.colors.green('✓')} Wrote ${displayPath(file, project.cwd)}`);
    if (!existsSync(path.join(project.dir, 'supabase', 'config.toml'))) {
      io.out(
        io.colors.dim('  (no supabase/config.toml here: is this the Supabase project directory?)'),
      );
    }
    io.out(io.colors.dim('  Apply it with: supabase db push'));
    return 0;
  });
}
