// /v1/clock: the engine's time (real time plus the offset `nudge clock
// advance` keeps in the engine store), and — in dev only (`nudge dev`, or an
// embedded engine store) — its two moves: POST /v1/clock/advance { "by": "2d" },
// as `nudge clock advance 2d` (every running engine's waits and cooldowns fire
// as if the time had passed), and POST /v1/clock/reset, as `nudge clock reset`
// (back to real time).
import { Hono } from 'hono';
import type postgres from 'postgres';
import { z } from 'zod';
import type { ClockState } from '../../client/dashboard.js';
import { advanceProblem, parseDuration } from '../../config/duration-text.js';
import { advanceStoreClock, ClockTooFarError, resetStoreClock } from '../../engine/wiring/clock.js';
import { HttpError } from '../http-error.js';
import type { ApiEnv } from './auth.js';
import { noBody, readJson, takes, validate } from './input.js';

const advanceSchema = z.strictObject({ by: z.string().min(1) });

/** The 409 of a move where the clock is not the demo's; `command` is the CLI's way to make it. */
const notMovable = (command: string) =>
  new HttpError(
    409,
    'clock_not_movable',
    `the dashboard moves the clock only in dev (nudge dev); use \`${command}\` on purpose`,
  );

export function clockRoutes(options: {
  sql: postgres.Sql;
  movable: boolean;
  maxBodyBytes?: number;
}): Hono<ApiEnv> {
  const { sql, movable } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 1_048_576;
  const api = new Hono<ApiEnv>();
  const state = async (): Promise<ClockState> => {
    const [row] = await sql<{ offset_ms: string }[]>`select offset_ms from nudge_engine.clock`;
    const offset = Number(row?.offset_ms ?? 0);
    return { now: new Date(Date.now() + offset).toISOString(), offset_ms: offset, movable };
  };
  api.get('/', takes(), async (c) => c.json(await state()));
  api.post('/advance', async (c) => {
    const body = validate(advanceSchema, await readJson(c, maxBodyBytes));
    if (!movable) throw notMovable('nudge clock advance');
    // As `nudge clock advance`: more than nothing, at most 36500d a move and in all.
    const problem = advanceProblem(body.by);
    if (problem) throw new HttpError(422, 'invalid_body', `by: ${problem}, got "${body.by}"`);
    await advanceStoreClock(sql, parseDuration(body.by) ?? 0).catch((error: unknown) => {
      if (!(error instanceof ClockTooFarError)) throw error;
      throw new HttpError(422, 'invalid_body', `by: ${error.message} (${error.hint})`);
    });
    return c.json(await state());
  });
  // As `nudge clock reset`. What the engine did while ahead stays done, and a
  // wait or cooldown it started then counts from that later time. It takes
  // no body (noBody): `{ "by": "2d" }` sent here by mistake moves nothing,
  // and is said to be the advance it likely is.
  api.post('/reset', async (c) => {
    const body = await readJson(c, maxBodyBytes);
    if (body && typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length)
      throw new HttpError(
        422,
        'invalid_body',
        `${Object.keys(body).join(', ')}: reset takes no body (it goes back to real time); to move the clock ahead, POST /v1/clock/advance {"by":"2d"}`,
      );
    validate(noBody, body);
    if (!movable) throw notMovable('nudge clock reset');
    await resetStoreClock(sql);
    return c.json(await state());
  });
  return api;
}
