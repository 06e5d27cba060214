// The consumer says once, in the engine's log, when it has read the slot's
// backlog (every change committed before it began streaming is in the
// inbox): what someone draining a slot waits for before stopping
// `nudge start`. Said with what it stored, and only once they are stored;
// said at once, with 0, when nothing waited.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Consumer, startConsumer } from '../../src/capture/transports/replication/consumer.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import { deployReplication, dropSlotAfterAll, migrated, replicated, slotFor } from './helpers.js';

const db = useDatabase();
dropSlotAfterAll(db);
const orders = { schema: 'public', table: 'orders' };
let consumer: Consumer | undefined;

/** A consumer whose log lines are kept, each with the number of rows the inbox held when it was said. */
function consume() {
  const said: { message: string; inbox: number }[] = [];
  const log = (_fields: object, message: string) => {
    // The inbox is read when the line is said (the count follows the line).
    said.push({ message, inbox: -1 });
    const entry = said.at(-1)!;
    void replicated(db.sql).then((rows) => {
      entry.inbox = rows.length;
    });
  };
  consumer = startConsumer({
    url: db.url,
    slot: slotFor(db),
    captures: [{ table: orders, operation: 'insert' }],
    engine: db.sql,
    route: () => 0,
    log: { info: log, warn: log },
  });
  const backlog = () =>
    waitFor(
      () => said.find((line) => line.message.startsWith("read the replication slot's backlog")),
      () => `the backlog line; said: ${said.map((line) => line.message).join(' | ')}`,
    );
  return { said, backlog };
}

beforeAll(async () => {
  await db.sql`create table public.orders (id bigserial primary key, status text)`;
  await db.sql`create table public.noise (id bigserial primary key)`;
  await migrated(db);
  await deployReplication(db, [{ table: orders, operation: 'insert', by: 'orders' }]);
});

afterAll(async () => {
  await consumer?.stop();
});

describe("the consumer's backlog line", () => {
  it('is said once the changes waiting in the slot are stored, with their number', async () => {
    await db.sql`insert into public.orders (status) values ('a'), ('b')`;
    await db.sql`insert into public.orders (status) values ('c')`;
    // WAL of another table after them: the backlog ends past the last change.
    await db.sql`insert into public.noise default values`;
    const { said, backlog } = consume();
    const line = await backlog();
    expect(line.message).toBe("read the replication slot's backlog: 3 changes stored");
    await waitFor(() => (line.inbox >= 0 ? true : undefined), 'the inbox read');
    expect(line.inbox).toBe(3);
    // Once per session: a change after it is stored without a second line.
    await db.sql`insert into public.orders (status) values ('d')`;
    await waitFor(
      async () => ((await replicated(db.sql)).length === 4 ? true : undefined),
      '4 rows',
    );
    expect(
      said.filter((l) => l.message.startsWith("read the replication slot's backlog")),
    ).toHaveLength(1);
    await consumer!.stop();
  });

  it('is said with 0 when nothing waits', async () => {
    const { backlog } = consume();
    expect((await backlog()).message).toBe("read the replication slot's backlog: 0 changes stored");
  });
});
