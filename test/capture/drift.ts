// What the drift tests share: one table's needs and captures made from the
// catalog as it is now (its columns, primary key), their plan and deploy,
// the name of a typed capture's rows table, and the pump run until the
// outbox is empty. The replication tests build their needs here too.
import type postgres from 'postgres';
import { deploy } from '../../src/capture/deploy.js';
import { makePlan } from '../../src/capture/plan.js';
import { listRowsTables, readCaptureState } from '../../src/capture/state.js';
import { pumpOnce } from '../../src/capture/transports/outbox/pump.js';
import {
  buildCaptureObjects,
  type CaptureNeed,
  capturedColumns,
  type Operation,
} from '../../src/capture/triggers.js';
import { readCatalog } from '../../src/source/catalog.js';
import type { TableName } from '../../src/source/names.js';

/**
 * One feature's needs of `table` on `operations`, with the columns and key
 * the catalog gives it now; `more` is added to each (what the feature reads).
 */
export async function needsOf(
  sql: postgres.Sql,
  table: TableName,
  operations: readonly Operation[],
  by: string,
  more: Partial<CaptureNeed> = {},
): Promise<CaptureNeed[]> {
  const found = (await readCatalog(sql)).get(table)!;
  return operations.map((operation) => ({
    table,
    operation,
    by,
    ...capturedColumns(found),
    ...more,
  }));
}

/** The captures of `table` on `operations` by one feature, read from the catalog on each call. */
export function capturesOf(table: TableName, operations: Operation[], by: string) {
  const desired = async (sql: postgres.Sql) =>
    buildCaptureObjects(await needsOf(sql, table, operations, by));
  return {
    desired,
    plan: async (sql: postgres.Sql) => makePlan(await desired(sql), await readCaptureState(sql)),
    deploy: async (sql: postgres.Sql) => deploy(sql, await desired(sql)),
  };
}

/** The rows table of the typed capture of `operation` (the first one listed). */
export async function rowsTableOf(sql: postgres.Sql, operation: Operation): Promise<string> {
  return (await listRowsTables(sql)).find((t) => t.operation === operation)!.name;
}

/** Runs the pump until it moves nothing; how many rows it moved. */
export async function pumpAll(sql: postgres.Sql): Promise<number> {
  let moved = 0;
  for (;;) {
    const n = await pumpOnce({ source: sql, engine: sql, route: () => 0 });
    if (n === 0) return moved;
    moved += n;
  }
}
