// The database every benchmark runs on: its own embedded PostgreSQL in a
// temporary directory (defaults, fsync on, plus `settings`), with the
// Supabase roles and a Supabase-shaped database named `bench`.
import { appendFileSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
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
    // BENCH_PG_LOG=<file>: the server's log there (with auto_explain, say).
    ...(process.env.BENCH_PG_LOG
      ? { onLog: (line: string) => appendFileSync(process.env.BENCH_PG_LOG!, `${line}\n`) }
      : {}),
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

/**
 * Readies WAL segments as on a server that has been running for a while.
 * A new server creates each 16 MB segment of its write-ahead log the first
 * time it needs one, writing it full of zeros while every commit waits
 * (about 50 ms each on this VM, every 16 MB: docs/benchmarks.md); a server
 * past its first checkpoints renames a segment it no longer needs instead.
 * Writes 90% of `max_wal_size` as WAL messages (no table is touched) and
 * checkpoints, which keeps that many segments for reuse. Returns how many
 * segments pg_wal holds.
 */
export async function recycleWal(sql: postgres.Sql, dir: string): Promise<number> {
  const [size] = await sql<{ mb: number }[]>`
    select setting::int as mb from pg_settings where name = 'max_wal_size'`;
  const megabytes = Math.floor(0.9 * size!.mb);
  await sql`
    select count(pg_logical_emit_message(false, 'nudge-bench', repeat('x', 1048576)))
      from generate_series(1, ${megabytes})`;
  await sql`checkpoint`;
  return (await walSegments(dir)).size;
}

/**
 * The WAL segments in `dir`/pg/pg_wal by inode: a segment reused under a
 * new name keeps its inode, a segment created anew has a new one.
 */
export async function walSegments(dir: string): Promise<Set<number>> {
  const wal = path.join(dir, 'pg/pg_wal');
  const names = (await readdir(wal)).filter((name) => /^[0-9A-F]{24}$/.test(name));
  const inodes = await Promise.all(
    names.map(async (name) => (await stat(path.join(wal, name))).ino),
  );
  return new Set(inodes);
}
