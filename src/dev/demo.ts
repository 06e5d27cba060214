// The demo database `nudge dev` and a URL-less `nudge start` run on: a
// Supabase-shaped database with the demo app's tables, on the embedded server
// under .nudge/. Created once; kept between runs.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import { type EmbeddedServer, startEmbedded } from './embedded.js';
import { createSupabaseDatabase, installSupabaseRoles } from './supabase.js';

export const DEMO_DATABASE = 'nudge_demo';

export interface DemoDatabase {
  server: EmbeddedServer;
  url: string;
  /** True when this run created the database. */
  created: boolean;
}

export async function openDemoDatabase(dataDir: string, port?: number): Promise<DemoDatabase> {
  const server = await startEmbedded({
    dataDir: path.resolve(dataDir),
    persistent: true,
    ...(port ? { port } : {}),
  });
  const admin = postgres(server.url(), { onnotice: () => {}, max: 1 });
  try {
    const [exists] = await admin<{ n: number }[]>`
      select count(*)::int as n from pg_database where datname = ${DEMO_DATABASE}`;
    if (exists?.n) return { server, url: server.url(DEMO_DATABASE), created: false };
    await installSupabaseRoles(admin);
    await createSupabaseDatabase(admin, DEMO_DATABASE, {
      connect: (db) => postgres(server.url(db), { onnotice: () => {}, max: 1 }),
    });
    const demo = postgres(server.url(DEMO_DATABASE), { onnotice: () => {}, max: 1 });
    try {
      await demo.unsafe(await readFile(new URL('./demo.sql', import.meta.url), 'utf8'));
    } finally {
      await demo.end();
    }
    return { server, url: server.url(DEMO_DATABASE), created: true };
  } catch (error) {
    await server.stop();
    throw error;
  } finally {
    await admin.end({ timeout: 1 });
  }
}
