// The database every benchmark runs on: its own embedded PostgreSQL in a
// temporary directory (defaults, fsync on, plus `settings`), with the
// Supabase roles and a Supabase-shaped database named `bench`.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { startEmbedded } from '../src/dev/embedded.js';
import { createSupabaseDatabase, installSupabaseRoles } from '../src/dev/supabase.js';

export interface BenchDatabase {
  /** The temporary directory (the server's data is in pg/; benchmarks may add files). */
  dir: string;
  /** The `bench` database. */
  url: string;
  /** Stops the server and removes the directory. */
  stop(): Promise<void>;
}

export async function benchDatabase(
  name: string,
  settings: Record<string, string> = {},
): Promise<BenchDatabase> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `nudge-bench-${name}-`));
  // The server runs as the `postgres` OS user when we are root: let it in.
  await chmod(dir, 0o755);
  const server = await startEmbedded({
    dataDir: path.join(dir, 'pg'),
    persistent: false,
    settings,
  });
  const admin = postgres(server.url(), { onnotice: () => {}, max: 1 });
  try {
    await installSupabaseRoles(admin);
    await createSupabaseDatabase(admin, 'bench', {
      connect: (db) => postgres(server.url(db), { onnotice: () => {}, max: 1 }),
    });
  } finally {
    await admin.end();
  }
  return {
    dir,
    url: server.url('bench'),
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
