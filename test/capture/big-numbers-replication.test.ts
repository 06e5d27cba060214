// Numbers a double cannot hold, under capture: replication, where the
// pgoutput decoder turns each column's text into its JSON value: the
// engine's JS predicate agrees with SQL on them, and the inbox, the action
// runs, the contact's attributes and the webhooks keep their digits (the
// outbox's twin is test/engine/big-numbers.test.ts).
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonValue } from '../../src/capture/transports/replication/pgoutput.js';
import { loadConfig } from '../../src/config/load.js';
import { JsonNumber } from '../../src/db/json.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { silentLog } from '../../src/log.js';
import { expectExactEndToEnd, LEDGER_TABLE, ledgerFeatures } from '../engine/big-numbers.js';
import { useDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { dropSlotAfterAll, migrated, replicationProject } from '../replication/helpers.js';

const db = useDatabase();
dropSlotAfterAll(db);
let recorder: Recorder;
let running: Running;
let cwd = '';

beforeAll(async () => {
  recorder = await startRecorder(() => ({ status: 200, body: { ok: true } }));
  await db.sql.unsafe(LEDGER_TABLE);
  cwd = await replicationProject(db, 'server: { port: 0 }\n', ledgerFeatures(recorder.url));
  await migrated(db);
  const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  running = await launch(project, { http: false, log: silentLog, idleMs: 20 });
});

afterAll(async () => {
  await running?.stop();
  await recorder?.close();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

describe('a bigint over 2^53 and a 19-digit numeric, captured by replication', () => {
  it('match as SQL would and reach the store and the webhooks digit for digit', async () => {
    await expectExactEndToEnd(db, recorder);
  });

  it('are decoded as JsonNumbers; numbers a double holds stay numbers', () => {
    const [INT8, NUMERIC, FLOAT8, JSONB, INT8_ARRAY] = [20, 1700, 701, 3802, 1016];
    expect(jsonValue('9007199254740993', INT8)).toEqual(new JsonNumber('9007199254740993'));
    expect(jsonValue('-9223372036854775808', INT8)).toEqual(new JsonNumber('-9223372036854775808'));
    expect(jsonValue('9007199254740992', INT8)).toBe(9007199254740992);
    expect(jsonValue('12345678901234567.25', NUMERIC)).toEqual(
      new JsonNumber('12345678901234567.25'),
    );
    expect(jsonValue('1.50', NUMERIC)).toBe(1.5);
    expect(jsonValue('NaN', NUMERIC)).toBe('NaN');
    expect(jsonValue('0.30000000000000004', FLOAT8)).toBe(0.30000000000000004);
    expect(jsonValue('-Infinity', FLOAT8)).toBe('-Infinity');
    expect(jsonValue('{"n": 123456789012345678}', JSONB)).toEqual({
      n: new JsonNumber('123456789012345678'),
    });
    expect(jsonValue('{1,9007199254740993}', INT8_ARRAY)).toEqual([
      1,
      new JsonNumber('9007199254740993'),
    ]);
  });
});
