// The latest deployment's id on the source database (0 before the first):
// the version of the rows tables a pump's claim is checked against.
import type postgres from 'postgres';

export async function latestDeployment(source: postgres.Sql): Promise<number> {
  const [row] = await source<{ id: number }[]>`
    select coalesce(max(id), 0)::float8 as id from nudge.deployments`;
  return row?.id ?? 0;
}
