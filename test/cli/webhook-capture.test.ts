// `capture: webhook` from the CLI: plan shows the pg_net triggers, deploy
// installs the signing key from the engine store's secrets, and a committed
// row reaches POST /ingest (through the pg_net stand-in) and the inbox.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { silentLog } from '../../src/log.js';
import { makeServer } from '../../src/server/index.js';
import { useDatabase } from '../harness/db.js';
import { installPgNetStandIn, makeForwarder } from '../harness/pg-net.js';
import { tempProject } from '../harness/project.js';

const db = useDatabase();
let cwd: string;
let server: { url: string; close(): Promise<void> };
const env = () => ({
  DATABASE_URL: db.url,
  NUDGE_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'),
});

beforeAll(async () => {
  await installPgNetStandIn(db.sql);
  await migrateEngine(db.sql, db.url);
  await db.sql`create table public.orders (id bigserial primary key, status text, total numeric)`;
  cwd = await tempProject(
    {
      'nudge/features/paid.yaml': `name: paid
trigger: { table: public.orders, on: insert, when: { new.status: eq.paid } }
stages:
  - name: seen
    do: [{ track: { event: paid_seen, properties: { total: '{{ new.total }}' } } }]
`,
      'nudge.yaml': '',
    },
    'nudge-webhook-cli-',
  );
  // The server first (port 0), then nudge.yaml pointing capture at it.
  const project = await loadConfig({ cwd, env: env() });
  const app = await makeServer({ sql: db.sql, project, route: () => 0, log: silentLog });
  server = await app.listen({ host: '127.0.0.1', port: 0 });
  await writeFile(
    path.join(cwd, 'nudge.yaml'),
    `capture:\n  transport: webhook\n  webhook:\n    url: ${server.url}/ingest\n`,
  );
});

afterAll(async () => {
  await server?.close();
});

async function nudge(args: string[]) {
  const m = memoryIo({ cwd, env: env() });
  const code = await run(args, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

describe('capture: webhook', () => {
  it('plans pg_net triggers, deploys them with the signing key, and delivers a committed row', async () => {
    const planned = await nudge(['plan']);
    expect(planned.err).toBe('');
    expect(planned.out).toMatch(
      /\+ capture public\.orders insert\s+statement trigger · webhook via pg_net · used by paid/,
    );

    const deployed = await nudge(['deploy', '--yes']);
    expect(deployed.code).toBe(0);
    expect(deployed.out).toContain('✓ Installed the webhook signing key in nudge.webhook_signing.');

    await db.sql`insert into public.orders (status, total) values ('paid', 5), ('new', 6)`;
    const forwarder = makeForwarder(db.sql);
    await forwarder.drain();
    const rows =
      await db.sql`select source, table_name, new_row ->> 'total' as total from nudge_engine.inbox`;
    expect(rows).toEqual([{ source: 'webhook', table_name: 'orders', total: '5' }]);

    // A second deploy changes nothing and keeps the key.
    const again = await nudge(['deploy', '--yes']);
    expect(again.out).toContain('No changes.');
  });
});
