// Builds Supabase-shaped databases on a server we control: the roles, the
// auth/storage schemas and the per-database settings a hosted project has.
// Used by the test harness (as a template database) and by `nudge dev`.
import { readFile } from 'node:fs/promises';
import type postgres from 'postgres';
import { ident } from '../db/quote.js';

const sqlFile = (name: string) => readFile(new URL(`./${name}`, import.meta.url), 'utf8');

/** Creates the Supabase roles on the server (idempotent; roles are cluster-wide). */
export async function installSupabaseRoles(admin: postgres.Sql): Promise<void> {
  await admin.unsafe(await sqlFile('supabase-roles.sql'));
}

/**
 * Creates database `name` shaped like a Supabase project. With `template`, it
 * is cloned from a database that already has the shape (much faster).
 */
export async function createSupabaseDatabase(
  admin: postgres.Sql,
  name: string,
  options: { template?: string; connect: (database: string) => postgres.Sql },
): Promise<void> {
  const template = options.template ? ` TEMPLATE ${ident(options.template)}` : '';
  await admin.unsafe(`CREATE DATABASE ${ident(name)}${template}`);
  // Database-level settings are not copied from a template.
  await admin.unsafe(`ALTER DATABASE ${ident(name)} SET search_path = "$user", public, extensions`);
  if (options.template) return;
  const db = options.connect(name);
  try {
    await db.unsafe(await sqlFile('supabase-shape.sql'));
  } finally {
    await db.end();
  }
}
