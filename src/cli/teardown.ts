// `nudge teardown`: removes every Nudge trigger and the nudge schema.
import { nudgeTriggers, teardown as removeAll } from '../capture/deploy.js';
import { readSchemaState } from '../capture/schema.js';
import { pendingCaptures } from '../engine/intake/pump.js';
import { NudgeError } from '../errors.js';
import { formatTableName } from '../source/names.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, withSource } from './project.js';

export async function teardown(
  options: GlobalOptions & { yes?: boolean },
  io: Io,
): Promise<number> {
  const project = await loadProject(options, io);
  if (project.config.access === 'read-only') {
    throw new NudgeError(
      'access is read-only: teardown refuses to write',
      'set access: read-write',
    );
  }
  return withSource(project, async ({ sql }) => {
    const triggers = await nudgeTriggers(sql);
    const schema = await readSchemaState(sql);
    if (!schema.exists && triggers.length === 0) {
      io.out('Nothing to remove: no nudge schema and no Nudge triggers.');
      return 0;
    }
    io.out('Nudge will remove:');
    for (const t of triggers) io.out(`  - trigger ${t.name} on ${formatTableName(t)}`);
    if (schema.exists)
      io.out('  - schema nudge (event_log, failed_events, enrichment_map, deployments)');
    if (schema.applied > 0) {
      const [pending] = await sql<{ rows: number; failed: number }[]>`
        select ${await pendingCaptures(sql)}::int as rows,
               (select count(*) from nudge.failed_events where resolved_at is null)::int as failed`;
      if (pending && (pending.rows || pending.failed)) {
        io.out(
          io.colors.yellow(
            `  ! ${pending.rows} captured changes not yet processed and ${pending.failed} failed events will be lost`,
          ),
        );
      }
    }
    if (!options.yes) {
      if (!io.confirm) {
        throw new NudgeError(
          'teardown needs confirmation and there is no terminal to ask',
          'run `nudge teardown --yes`',
        );
      }
      if (!(await io.confirm('\nRemove them?'))) return 1;
    }
    const result = await removeAll(sql);
    io.out(
      `${io.colors.green('✓')} Removed ${result.triggers} trigger(s) and schema nudge. Your tables and data are untouched.`,
    );
    return 0;
  });
}
