// One embedded PostgreSQL server per test run, with the Supabase roles and a
// Supabase-shaped template database that every test file clones.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { startEmbedded } from '../../src/dev/embedded.js';
import { createSupabaseDatabase, installSupabaseRoles } from '../../src/dev/supabase.js';

export const TEMPLATE = 'nudge_template';

declare module 'vitest' {
  export interface ProvidedContext {
    pgPort: number;
  }
}

export default async function setup(project: TestProject) {
  const dir = await mkdtemp(path.join(tmpdir(), 'nudge-test-'));
  // The server runs as the `postgres` OS user when we are root: let it in.
  await chmod(dir, 0o755);
  const server = await startEmbedded({
    dataDir: path.join(dir, 'pg'),
    persistent: false,
    // Durability is not what the tests measure; speed them up.
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
  });
  const admin = postgres(server.url(), { onnotice: () => {}, max: 1 });
  try {
    await installSupabaseRoles(admin);
    await createSupabaseDatabase(admin, TEMPLATE, {
      connect: (db) => postgres(server.url(db), { onnotice: () => {}, max: 1 }),
    });
  } finally {
    await admin.end();
  }
  project.provide('pgPort', server.port);
  return async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
