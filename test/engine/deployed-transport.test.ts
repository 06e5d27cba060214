// An engine started under one capture transport, while the source is
// deployed with another: its log says so, once per deployment, and says when
// the deployment matches again (src/engine/wiring/deployed-transport.ts).
import { describe, expect, it } from 'vitest';
import { deployedTransportCheck } from '../../src/engine/wiring/deployed-transport.js';
import { makeLog } from '../../src/log.js';
import { useDatabase } from '../harness/db.js';
import { testEngine } from './harness.js';

const db = useDatabase();

const SEEN = `name: seen
trigger: { table: public.notes, on: insert }
stages: [{ name: seen, do: [{ track: { event: note_seen } }] }]
`;

const deployment = (capturedBy: string) => db.sql`
  insert into nudge.deployments (nudge_version, summary, objects)
  values ('test', '{}', ${db.sql.json([{ key: 'insert public.notes', captured_by: capturedBy }])})`;

describe('the deployed transport', () => {
  it('is logged as an error once per deployment when it is not the engine’s, and again when it matches', async () => {
    const lines: string[] = [];
    const log = makeLog({ write: (line) => lines.push(line) });
    const check = deployedTransportCheck(db.sql, 'trigger', 'outbox', log);
    // Not deployed yet: nothing to say.
    await check();
    await db.sql`create table public.notes (id bigserial primary key, body text)`;
    await testEngine(db, { 'seen.yaml': SEEN });
    await check();
    expect(lines).toEqual([]);

    await deployment('replication');
    await check();
    await check();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /error .*deployed with capture: replication, but this engine started with capture: outbox and takes in nothing of it: restart every nudge start and nudge worker/,
    );

    await deployment('trigger');
    await check();
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/info .*the source is captured by outbox again/);

    // An engine started under replication, on a source deployed with triggers.
    const replicating = deployedTransportCheck(db.sql, 'replication', 'replication', log);
    await replicating();
    expect(lines[2]).toMatch(
      /deployed with triggers \(capture: outbox or webhook\), but this engine started with capture: replication/,
    );
  });
});
