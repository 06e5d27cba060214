// The replication stream's spaced acknowledgements (stream.ts): positions
// acknowledged one after the other within the spacing reach the server as
// the latest, sent by the spacing's timer when it ends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodePgoutput,
  formatLsn,
  type Relation,
} from '../../src/capture/transports/replication/pgoutput.js';
import { publicationName } from '../../src/capture/transports/replication/publication.js';
import {
  openReplicationStream,
  type ReplicationStream,
} from '../../src/capture/transports/replication/stream.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import { deployReplication, dropSlotAfterAll, slotFor } from './helpers.js';

const db = useDatabase();
dropSlotAfterAll(db);
const table = { schema: 'public', table: 'ticks' };
let stream: ReplicationStream | undefined;

beforeAll(async () => {
  await db.sql`create table public.ticks (id int primary key)`;
  await deployReplication(db, [{ table, operation: 'insert', by: 'ticks' }]);
});

afterAll(async () => {
  await stream?.close();
});

const confirmedAt = async (lsn: bigint) => {
  const [row] = await db.sql<{ at: boolean }[]>`
    select confirmed_flush_lsn = ${formatLsn(lsn)}::pg_lsn as at
      from pg_replication_slots where slot_name = ${slotFor(db)}`;
  return row?.at === true;
};

describe('acknowledgements', () => {
  it('sent within the spacing reach the server as the latest, once the spacing ends', async () => {
    const relations = new Map<number, Relation>();
    const ids: number[] = [];
    const commits: bigint[] = [];
    stream = await openReplicationStream({
      url: db.url,
      slot: slotFor(db),
      publications: [publicationName(slotFor(db), 'insert')],
      // The spacing's own timer is what sends a waiting position: the
      // unasked status, which repeats the latest, comes once a minute here.
      acknowledgeMs: 200,
      statusMs: 60_000,
      onMessage: (message) => {
        if (message.kind !== 'data') return;
        const decoded = decodePgoutput(message.payload, relations);
        if (decoded.tag === 'insert') ids.push(Number(decoded.new.id));
        if (decoded.tag === 'commit') commits.push(decoded.endLsn);
      },
    });
    const written = Array.from({ length: 50 }, (_, i) => i + 1);
    for (const id of written) await db.sql`insert into public.ticks values (${id})`;
    await waitFor(() => commits.length >= written.length || undefined, '50 commits streamed');
    expect(ids).toEqual(written);

    // The first is sent at once (no reply yet); the second waits for the spacing.
    stream.acknowledge(commits[9]!);
    await waitFor(() => confirmedAt(commits[9]!).then((at) => at || undefined), 'the first');
    stream.acknowledge(commits[19]!);
    stream.acknowledge(commits[49]!);
    stream.acknowledge(commits[29]!); // behind: never sent
    await waitFor(() => confirmedAt(commits[49]!).then((at) => at || undefined), 'the latest');
  });
});
