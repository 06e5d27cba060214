// /v1/clock: the engine's time (real time plus the offset `nudge clock
// advance` keeps in the engine store), and — in dev only (`nudge dev`, or an
// embedded engine store) — POST /v1/clock/advance { "by": "2d" }, the same
// as `nudge clock advance 2d`: every running engine's waits and cooldowns
// fire as if the time had passed.
import { Hono } from 'hono';
import type postgres from 'postgres';
import { z } from 'zod';
import type { ClockState } from '../../client/dashboard.js';
import { durationProblem, parseDuration } from '../../config/duration-text.js';
import { advanceStoreClock, ClockTooFarError } from '../../engine/wiring/clock.js';
import { HttpError } from '../http-error.js';
import type { ApiEnv } from './auth.js';
import { readJson, takes, validate } from './input.js';

const advanceSchema = z.strictObject({ by: z.string().min(1) });

export function clockRoutes(options: {
  sql: postgres.Sql;
  movable: boolean;
  maxBodyBytes?: number;
}): Hono<ApiEnv> {
  const { sql, movable } = options;
  const api = new Hono<ApiEnv>();
  const state = async (): Promise<ClockState> => {
    const [row] = await sql<{ offset_ms: string }[]>`select offset_ms from nudge_engine.clock`;
    const offset = Number(row?.offset_ms ?? 0);
    return { now: new Date(Date.now() + offset).toISOString(), offset_ms: offset, movable };
  };
  api.get('/', takes(), async (c) => c.json(await state()));
  api.post('/advance', async (c) => {
    const body = validate(advanceSchema, await readJson(c, options.maxBodyBytes ?? 1_048_576));
    if (!movable) {
      throw new HttpError(
        409,
        'clock_not_movable',
        'the dashboard moves the clock only in dev (nudge dev); use `nudge clock advance` on purpose',
      );
    }
    // As `nudge clock advance`: more than nothing, at most 36500d a move and in all.
    const problem =
      durationProblem(body.by) ??
      (parseDuration(body.by) === 0 ? 'durations are positive' : undefined);
    if (problem) throw new HttpError(422, 'invalid_body', `by: ${problem}, got "${body.by}"`);
    const ms = parseDuration(body.by)!;
    await advanceStoreClock(sql, ms).catch((error: unknown) => {
      if (!(error instanceof ClockTooFarError)) throw error;
      throw new HttpError(422, 'invalid_body', `by: ${error.message} (${error.hint})`);
    });
    return c.json(await state());
  });
  return api;
}
