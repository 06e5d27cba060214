// /v1/decisions: the decision log — for every event and candidate feature,
// matched or skipped and why, journey moves, actions with their run's state —
// filtered by feature, contact, outcome and time (from, to), newest first, keyset-paged on the
// decision id (`next` is the cursor to pass as `before`). GET
// /v1/decisions/stream is the live tail: server-sent events, one `decision`
// event per line as decisions are written. Both say which features are
// paused live now (`paused`: since when, by whom), as `nudge logs` does above
// its lines; the tail says it again when a feature is paused or resumed, and
// the pause and the resume are decisions of their own (`paused`, `resumed`).
// A feature no file has and the log holds nothing of is refused, with the
// known ones; on the list, so is a contact no one is and no decision names
// (feature-filter.ts).
import { Hono } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import type postgres from 'postgres';
import {
  type DecisionItem,
  type DecisionPage,
  type LivePause,
  OUTCOMES,
} from '../../client/dashboard.js';
import { readIsoTime } from '../../config/time-options.js';
import { stringifyJson } from '../../db/json.js';
import {
  type DecisionFilter,
  type DecisionRow,
  decisionLines,
  newestDecisionId,
  readDecisions,
  replaysOf,
} from '../../engine/lanes/decision-log.js';
import { featurePauses } from '../../engine/match/pauses.js';
import { HttpError } from '../http-error.js';
import type { ApiEnv } from './auth.js';
import {
  checkContactFilter,
  checkFeatureFilter,
  hasDecisions,
  type KnownFeatures,
} from './feature-filter.js';
import { takes } from './input.js';
import { limitOf, pageOf, wholeNumber } from './keyset.js';
import { makePauseChanges, type PauseWatch } from './pause-changes.js';

const DEFAULT_LIMIT = 50;
/** How often the live tail looks for new decisions. */
const TAIL_POLL_MS = 250;
/** How often the live tail asks whether its key or session still opens /v1. */
const CREDENTIAL_CHECK_MS = 5000;
const FILTERS = ['feature', 'contact', 'outcome', 'from', 'to'];

export function decisionsRoutes(options: { sql: postgres.Sql } & KnownFeatures): Hono<ApiEnv> {
  const { sql } = options;
  const api = new Hono<ApiEnv>();
  // Whether a tail must read the pauses again: announced changes, not a poll (pause-changes.ts).
  const pauseChanges = makePauseChanges(sql);
  const known = (name: string | undefined) =>
    checkFeatureFilter(options, name, (feature) => hasDecisions(sql, feature));

  api.get('/', takes(...FILTERS, 'before', 'limit'), async (c) => {
    const filter = filterOf(c.req.query());
    const limit = limitOf(c.req.query('limit'), DEFAULT_LIMIT);
    const before = wholeNumber(c.req.query('before'), 'before');
    const { page, next } = pageOf(
      await readDecisions(sql, filter, {
        ...(before !== undefined ? { before } : {}),
        limit: limit + 1,
      }),
      limit,
    );
    if (page.length === 0) {
      await known(filter.feature);
      await checkContactFilter(sql, filter.contact);
    }
    const [replays, paused] = await Promise.all([
      replaysOf(sql, page),
      livePauses(sql, filter.feature),
    ]);
    return c.json({
      items: page.flatMap((row) => itemsOf(row, filter.feature, replays)),
      next,
      paused,
    } satisfies DecisionPage);
  });

  api.get('/stream', takes(...FILTERS, 'after'), async (c) => {
    const filter = filterOf(c.req.query());
    // Refused before the stream starts: a tail of a typo would wait forever.
    await known(filter.feature);
    const after = wholeNumber(c.req.query('after'), 'after') ?? (await newestDecisionId(sql));
    return streamSSE(c, async (stream) => {
      let open = true;
      stream.onAbort(() => {
        open = false;
      });
      const pauses = await pauseChanges.watch();
      try {
        await stream.writeSSE({ event: 'ready', data: stringifyJson({ after }) });
        await tail({
          sql,
          stream,
          filter,
          after,
          pauses,
          open: () => open,
          stillValid: c.get('stillValid'),
        });
      } finally {
        await pauses.close();
      }
    });
  });
  return api;
}

/**
 * The live tail's loop, until the client goes: the decisions after `after`
 * every TAIL_POLL_MS, and the live pauses whenever they may have changed
 * (pause-changes.ts) — each sent when it differs from the last sent.
 */
async function tail(options: {
  sql: postgres.Sql;
  stream: SSEStreamingApi;
  filter: DecisionFilter;
  after: number;
  pauses: PauseWatch;
  open: () => boolean;
  /** The request's credential, asked again every CREDENTIAL_CHECK_MS (auth.ts). */
  stillValid: (() => Promise<boolean>) | undefined;
}): Promise<void> {
  const { sql, stream, filter, pauses, stillValid } = options;
  let after = options.after;
  let quietFor = 0;
  let checkedAt = Date.now();
  // The pauses as last sent (none yet: the first look sends them).
  let pausesSent: string | undefined;
  while (options.open()) {
    // A key revoked or a session signed out after the tail opened ends it:
    // no decision (nor a contact's email in it) reaches it afterwards.
    if (stillValid && Date.now() - checkedAt >= CREDENTIAL_CHECK_MS) {
      checkedAt = Date.now();
      if (!(await stillValid())) {
        await stream.writeSSE({
          event: 'ended',
          data: stringifyJson({ reason: 'the key was revoked or the session ended' }),
        });
        return;
      }
    }
    if (pauses.due()) {
      const paused = stringifyJson({ paused: await livePauses(sql, filter.feature) });
      if (paused !== pausesSent) {
        await stream.writeSSE({ event: 'paused', data: paused });
        pausesSent = paused;
      }
    }
    const rows = await readDecisions(sql, filter, { after });
    const replays = await replaysOf(sql, rows);
    for (const row of rows) {
      after = row.id;
      for (const item of itemsOf(row, filter.feature, replays)) {
        await stream.writeSSE({
          event: 'decision',
          id: String(row.id),
          data: stringifyJson(item),
        });
      }
    }
    quietFor = rows.length ? 0 : quietFor + TAIL_POLL_MS;
    // A comment now and then keeps proxies from closing a quiet stream.
    if (quietFor >= 15_000) {
      await stream.write(': keep-alive\n\n');
      quietFor = 0;
    }
    await stream.sleep(TAIL_POLL_MS);
  }
}

/**
 * The features paused live now (nudge_engine.feature_pauses: the row `nudge
 * pause`, the dashboard and the API write, and resume deletes), only
 * `feature`'s when the log is filtered by it. The switch's moves themselves,
 * past ones too, are decisions among the others (outcomes `paused` and
 * `resumed`, written by pauseFeature / resumeFeature); this says one in
 * effect now however far back it was made.
 */
async function livePauses(sql: postgres.Sql, feature: string | undefined): Promise<LivePause[]> {
  return (await featurePauses(sql))
    .filter((pause) => feature === undefined || pause.feature === feature)
    .map((pause) => ({
      feature: pause.feature,
      at: new Date(pause.paused_at).toISOString(),
      by: pause.paused_by,
    }));
}

/** `replays`: which replay of its run each attempt was made after (replaysOf). */
function itemsOf(
  row: DecisionRow,
  feature: string | undefined,
  replays: Map<number, number>,
): DecisionItem[] {
  return decisionLines(row, feature).map((line) => ({
    key: line.feature !== row.feature ? `${row.id}:${line.feature}` : String(row.id),
    id: row.id,
    at: new Date(row.at).toISOString(),
    feature: line.feature,
    contact_id: row.contact_id,
    contact: line.contact,
    outcome: row.outcome,
    reason: line.reason,
    event: row.event,
    action:
      row.outcome === 'action' && row.status
        ? { status: row.status, attempts: row.attempts ?? 0, last_error: row.last_error }
        : null,
    attempt: row.outcome === 'attempt' ? attemptOf(row.detail, replays.get(row.id) ?? 0) : null,
  }));
}

/** An attempt's detail (actions/task.ts): the run's key, which attempt, its status and time. */
function attemptOf(
  detail: Record<string, unknown> | null,
  replay: number,
): DecisionItem['attempt'] {
  if (!detail || typeof detail.key !== 'string') return null;
  return {
    key: detail.key,
    number: typeof detail.attempt === 'number' ? detail.attempt : 0,
    status: typeof detail.status === 'string' ? detail.status : 'unknown',
    ms: typeof detail.ms === 'number' ? detail.ms : null,
    replay,
  };
}

const KNOWN_OUTCOMES = new Set<string>(OUTCOMES);

function filterOf(query: Record<string, string>): DecisionFilter {
  const { feature, contact, outcome } = query;
  const from = timeOf(query.from, 'from');
  const to = timeOf(query.to, 'to');
  // Nothing can match a window that ends before it starts: said, not "no decisions".
  if (from && to && from.getTime() >= to.getTime()) {
    throw new HttpError(
      400,
      'bad_query',
      `to: ${query.to} is not later than from (${query.from}); nothing can fall between them`,
    );
  }
  if (outcome && !KNOWN_OUTCOMES.has(outcome)) {
    throw new HttpError(
      400,
      'bad_query',
      `outcome: expected one of ${OUTCOMES.join(', ')}, got "${outcome}"`,
    );
  }
  return {
    ...(feature ? { feature } : {}),
    ...(contact ? { contact } : {}),
    ...(outcome ? { outcome } : {}),
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
  };
}

/**
 * An ISO 8601 time (`2026-03-01T09:00:00Z`, or a date) as readIsoTime reads
 * it, or undefined when absent. A time of the right shape that is none is
 * refused naming what is wrong, as the sync's `since` names it
 * (`the calendar has no 2026-02-30`): "expected an ISO 8601 time" alone
 * would not say what to fix.
 */
export function timeOf(text: string | undefined, name: string): Date | undefined {
  if (text === undefined || text === '') return undefined;
  const at = readIsoTime(text);
  if (at instanceof Date) return at;
  throw new HttpError(
    400,
    'bad_query',
    `${name}: expected an ISO 8601 time such as 2026-03-01T09:00:00Z, got "${text}"${at ? ` (${at})` : ''}`,
  );
}
