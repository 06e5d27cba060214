// Connections a test file opens as the roles it makes (db.loginRole's urls),
// each ended when the file's tests are done.
import postgres from 'postgres';
import { afterAll } from 'vitest';

/**
 * A connect(url) whose connections end after the file's tests. Call it at
 * the top level after useDatabase: its afterAll runs before the database's.
 */
export function useConnections(): (url: string) => postgres.Sql {
  const opened: postgres.Sql[] = [];
  afterAll(async () => {
    for (const sql of opened) await sql.end();
  });
  return (url) => {
    const sql = postgres(url, { onnotice: () => {}, max: 1 });
    opened.push(sql);
    return sql;
  };
}
