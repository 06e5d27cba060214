// `nudge teardown`: removes every Nudge trigger and the nudge schema, and
// under capture: replication Nudge's publications and slot, setting back the
// replica identity of the tables Nudge made FULL.
import { nudgeTriggers, teardown as removeAll } from '../capture/deploy.js';
import { readSchemaState } from '../capture/schema.js';
import { nudgeReplication } from '../capture/transports/replication/slot.js';
import {
  describeUnread,
  discardNotice,
  holdsUnread,
  type SlotUnread,
  slotUnread,
  UnreadSlotError,
} from '../capture/transports/replication/unread.js';
import { pendingCaptures } from '../engine/intake/pump.js';
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
    const replication = await nudgeReplication(sql);
    if (
      !schema.exists &&
      triggers.length === 0 &&
      replication.publications.length === 0 &&
      replication.slots.length === 0
    ) {
      io.out('Nothing to remove: no nudge schema, no Nudge triggers, publications or slots.');
      return 0;
    }
    io.out('Nudge will remove:');
    for (const t of triggers) io.out(`  - trigger ${t.name} on ${formatTableName(t)}`);
    if (schema.exists)
      io.out('  - schema nudge (event_log, failed_events, enrichment_map, deployments)');
    for (const name of replication.publications) io.out(`  - publication ${name}`);
    const unread: SlotUnread[] = [];
    for (const name of replication.slots) {
      const held = await slotUnread(sql, name);
      io.out(
        `  - replication slot ${name} (the WAL it holds back is freed)${held ? `: ${describeUnread(held)}` : ''}`,
      );
      if (held && holdsUnread(held)) unread.push(held);
    }
    for (const table of replication.identities)
      io.out(`  - REPLICA IDENTITY FULL on ${formatTableName(table)} (set back to DEFAULT)`);
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
    if (unread.length) {
      if (!options.discardUnread) throw new UnreadSlotError('teardown', unread);
      io.out(io.colors.yellow(`  ${discardNotice(unread)}`));
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
    const removed = [
      // A replication project has no trigger: its removal is not "0 trigger(s)".
      ...(result.triggers || !(result.publications.length || result.slots.length)
        ? [`${result.triggers} trigger(s)`]
        : []),
      ...(schema.exists ? ['schema nudge'] : []),
      ...(result.publications.length ? [`${result.publications.length} publication(s)`] : []),
      ...result.slots.map((name) => `slot ${name}`),
    ];
    const identities = result.identities.length
      ? ` Replica identity DEFAULT again on ${result.identities.join(', ')}.`
      : '';
    const listed =
      removed.length > 1 ? `${removed.slice(0, -1).join(', ')} and ${removed.at(-1)}` : removed[0];
    io.out(
      `${io.colors.green('✓')} Removed ${listed}.${identities} Your tables and data are untouched.`,
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
