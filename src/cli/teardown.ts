// `nudge teardown`: removes every Nudge trigger and the nudge schema, and
// each transport's own objects (capture: replication: Nudge's publications
// and slot, setting back the replica identity of the tables Nudge made FULL).
import { nudgeTriggers, teardown as removeAll } from '../capture/deploy.js';
import { readSchemaState } from '../capture/schema.js';
import { objectsParts } from '../capture/transports/index.js';
import { pendingCaptures } from '../capture/transports/outbox/pump.js';
import type { Loss } from '../capture/transports/port.js';
import { NudgeError } from '../errors.js';
import { formatTableName } from '../source/names.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, withSource } from './project.js';

export async function teardown(
  options: GlobalOptions & { yes?: boolean; discardUnread?: boolean },
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
    const transports = [];
    for (const { objects } of objectsParts()) transports.push(await objects.teardown.find(sql));
    const lines = transports.flatMap((found) => found.lines);
    const losses = transports.flatMap((found): Loss[] => (found.loss ? [found.loss] : []));
    if (!schema.exists && triggers.length === 0 && lines.length === 0) {
      io.out('Nothing to remove: no nudge schema, no Nudge triggers, publications or slots.');
      return 0;
    }
    io.out('Nudge will remove:');
    for (const t of triggers) io.out(`  - trigger ${t.name} on ${formatTableName(t)}`);
    if (schema.exists)
      io.out('  - schema nudge (event_log, failed_events, enrichment_map, deployments)');
    for (const line of lines) io.out(`  - ${line}`);
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
    for (const loss of losses) {
      if (!options.discardUnread) throw loss.refusal('teardown');
      io.out(io.colors.yellow(`  ${loss.notice}`));
    }
    if (!options.yes) {
      if (!io.confirm) {
        throw new NudgeError(
          'teardown needs confirmation and there is no terminal to ask',
          `run \`nudge teardown${options.discardUnread ? ' --discard-unread' : ''} --yes\``,
        );
      }
      if (!(await io.confirm('\nRemove them?'))) return 1;
    }
    const result = await removeAll(sql);
    const removed = [
      // A replication project has no trigger: its removal is not "0 trigger(s)".
      ...(result.triggers || !result.removed.length ? [`${result.triggers} trigger(s)`] : []),
      ...(schema.exists ? ['schema nudge'] : []),
      ...result.removed,
    ];
    const notes = result.notes.map((note) => ` ${note}`).join('');
    const listed =
      removed.length > 1 ? `${removed.slice(0, -1).join(', ')} and ${removed.at(-1)}` : removed[0];
    io.out(
      `${io.colors.green('✓')} Removed ${listed}.${notes} Your tables and data are untouched.`,
    );
    const [store] = await sql<{ schemas: string[] }[]>`
      select coalesce(array_agg(nspname::text order by nspname), '{}') as schemas
        from pg_namespace where nspname in ('nudge_engine', 'nudge_worker')`;
    if (store?.schemas.length) {
      io.out(
        `The engine store stays (schemas ${store.schemas.join(', ')}: contacts, decisions, journeys, secrets). To remove it too: DROP SCHEMA ${store.schemas.join(', ')} CASCADE;`,
      );
    }
    return 0;
  });
}
