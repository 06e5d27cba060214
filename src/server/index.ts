// Nudge's HTTP server: the Hono app (GET /health, GET /metrics, POST /ingest,
// /email, /v1 — mounted at the paths in mounts.ts — and the dashboard) and
// listen(). Small on purpose: each route lives in its own file, every error
// goes through the one handler in http-error.ts. Every route but /health
// needs a credential (test/security/doors.test.ts walks them all).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import type postgres from 'postgres';
import type { LoadedConfig } from '../config/load.js';
import { type BackgroundSyncs, makeBackgroundSyncs } from '../contacts/sync/background.js';
import { type KeySource, keySourceOf } from '../db/secrets.js';
import type { Router } from '../engine/intake/inbox.js';
import { allowedMethods, methodNotAllowed, noRoute } from './allowed-methods.js';
import { loopbackOrApiKey } from './api/auth.js';
import { makeApi } from './api/index.js';
import type { OverviewApiOptions } from './api/overview.js';
import { limitDeclaredBody } from './body.js';
import { type DashboardAccess, makeDashboardAccess } from './dashboard/access.js';
import { makeDashboard } from './dashboard/index.js';
import { emailLinkRoutes } from './email/links.js';
import { makeResendIngest } from './email/resend-webhooks.js';
import { makeEngineGauges } from './engine-gauges.js';
import { errorBody, HttpError, makeErrorHandler } from './http-error.js';
import { makeIngestHandler } from './ingest.js';
import { type IngestSecrets, resolveIngestSecrets } from './ingest-secrets.js';
import { exactJsonAnswers } from './json-answers.js';
import { makeMetrics, processMetrics, type ServerMetrics } from './metrics.js';
import { MOUNTS } from './mounts.js';

export { HttpError } from './http-error.js';
export type { IngestSecrets } from './ingest-secrets.js';
export {
  ingestSecret,
  ingestSharedSecret,
  resolveIngestSecrets,
} from './ingest-secrets.js';

export interface ServerOptions {
  /** The engine store: the inbox is written here. */
  sql: postgres.Sql;
  project: LoadedConfig;
  /** Picks each event's partition (see engine/inbox.ts). */
  route: Router;
  log: Logger;
  /** Called after rows were added to the inbox: wake the engine. */
  onEvents?: () => void;
  /** Where the master key for stored secrets comes from (default: the project's). */
  keys?: KeySource;
  /** What the dashboard shows (default: the engine store as the source, no features). */
  dashboard?: Partial<Pick<OverviewApiOptions, 'source' | 'sourceUrl' | 'features' | 'store'>> & {
    /** Whether the dashboard may move the engine clock (nudge dev). */
    movableClock?: boolean;
  };
}

export interface RunningServer {
  url: string;
  /**
   * Stops listening, then stops the contact syncs the server started
   * (POST /v1/sync) and waits until each has saved its end and closed its
   * connections, as `nudge sync` does on Ctrl-C; the requests in flight are
   * answered (a start being checked: 503 server_stopping) before their
   * connections close.
   */
  close(): Promise<void>;
}

export interface NudgeServer {
  app: Hono;
  metrics: ServerMetrics;
  /** The secrets /ingest accepts; print them for the user, never log them. */
  secrets: IngestSecrets;
  /** Who may open the dashboard; its link() is printed at start. */
  dashboard: DashboardAccess;
  /** Listens on server.host:server.port from nudge.yaml unless told otherwise (port 0: any). */
  listen(at?: { host?: string; port?: number }): Promise<RunningServer>;
}

const HEALTH_TIMEOUT_MS = 2000;

export async function makeServer(options: ServerOptions): Promise<NudgeServer> {
  const { sql, project, log } = options;
  const secrets = await resolveIngestSecrets(sql, project, options.keys ?? keySourceOf(project));
  const metrics = makeMetrics();
  const access = makeDashboardAccess(sql, project.env);
  // The contact syncs POST /v1/sync runs in this process, stopped when the server closes.
  const syncs = makeBackgroundSyncs({ project, sql });
  const app = new Hono();

  app.onError(
    makeErrorHandler(log, (error, c) => {
      if (c.req.path !== MOUNTS.ingest) return;
      metrics.rejected.inc({ reason: error.code });
      log.warn(
        { status: error.status, reason: error.code, detail: error.detail },
        'ingest refused',
      );
    }),
  );
  // First: every JSON answer after it, refusals included, writes long numbers exactly.
  app.use('*', exactJsonAnswers);
  app.use('*', limitDeclaredBody(project.config.ingest.max_body_bytes));
  const dashboard = makeDashboard({
    access,
    maxBodyBytes: project.config.ingest.max_body_bytes,
    ...(project.config.server.public_url ? { publicUrl: project.config.server.public_url } : {}),
  });
  // A browser's page load goes to the dashboard; a path the server has, asked
  // with a method it does not take, is a 405 naming those it takes; else 404.
  app.notFound((c) => {
    const page = dashboard.notFound(c);
    if (page) return page;
    const allowed = allowedMethods(app, c.req.path);
    const refusal = allowed.length > 0 ? methodNotAllowed(c, allowed) : noRoute(c);
    return c.json(errorBody(refusal.code, refusal.detail), refusal.status, refusal.headers);
  });

  app.get(MOUNTS.health, async (c) => {
    const reachable = await Promise.race([
      sql`select 1`.then(
        () => true,
        (error: unknown) => {
          log.warn({ err: error }, 'health: engine store unreachable');
          return false;
        },
      ),
      new Promise<false>((resolve) => setTimeout(resolve, HEALTH_TIMEOUT_MS, false).unref()),
    ]);
    if (!reachable) {
      throw new HttpError(503, 'engine_store_unreachable', 'the engine store does not answer');
    }
    return c.json({ ok: true, engine_store: 'ok' });
  });

  const readEngine = makeEngineGauges(metrics.registry, {
    sql,
    project,
    source: options.dashboard?.source ?? sql,
    features: options.dashboard?.features ?? [],
  });
  app.get(MOUNTS.metrics, loopbackOrApiKey(sql), async (c) => {
    await readEngine();
    const text = (await processMetrics().metrics()) + (await metrics.registry.metrics());
    return c.body(text, 200, { 'content-type': metrics.registry.contentType });
  });

  app.post(
    MOUNTS.ingest,
    makeIngestHandler({
      sql,
      route: options.route,
      secrets,
      maxBodyBytes: project.config.ingest.max_body_bytes,
      metrics,
      ...(options.onEvents ? { onEvents: options.onEvents } : {}),
    }),
  );

  // Resend's delivery webhooks, and the unsubscribe and preference links in emails (docs/email.md).
  app.post(
    `${MOUNTS.ingest}/resend`,
    makeResendIngest({
      sql,
      secret: project.config.email.resend?.webhook_secret,
      maxBodyBytes: project.config.ingest.max_body_bytes,
    }),
  );
  app.route(
    MOUNTS.email,
    emailLinkRoutes({ sql, project, maxBodyBytes: project.config.ingest.max_body_bytes }),
  );

  app.route(
    MOUNTS.api,
    makeApi({
      sql,
      attributes: project.config.contacts.attributes,
      route: options.route,
      maxBodyBytes: project.config.ingest.max_body_bytes,
      perMinute: project.config.server.rate_limit.per_minute,
      ...(options.onEvents ? { onEvents: options.onEvents } : {}),
      dashboard: {
        access,
        sql,
        project,
        source: options.dashboard?.source ?? sql,
        sourceUrl: options.dashboard?.sourceUrl ?? project.databaseUrl ?? 'postgres://localhost/',
        features: options.dashboard?.features ?? [],
        store: options.dashboard?.store ?? 'the source database',
        movableClock: options.dashboard?.movableClock ?? false,
        syncs,
      },
    }),
  );
  app.route('/', dashboard.routes);

  return {
    app,
    metrics,
    secrets,
    dashboard: access,
    listen: async (at = {}) => {
      const host = at.host ?? project.config.server.host;
      access.checkBind(host);
      return listen(app, host, at.port ?? project.config.server.port, syncs);
    },
  };
}

function listen(
  app: Hono,
  host: string,
  port: number,
  syncs: BackgroundSyncs,
): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, (info: AddressInfo) => {
      server.off('error', reject);
      const shown = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${shown}:${info.port}`,
        close: () => closeServer(server, answering, syncs),
      });
    }) as Server;
    const answering = trackAnswers(server);
    server.once('error', reject);
  });
}

/** How long close() waits for the answers of requests in flight once the syncs have stopped. */
const ANSWER_GRACE_MS = 5000;

/**
 * The requests being answered, each until its response is sent or its
 * connection is gone. Kept as little as that: every request passes here,
 * POST /ingest's too, and only a stopping server waits on them.
 */
function trackAnswers(server: Server): Set<ServerResponse> {
  const answering = new Set<ServerResponse>();
  // One listener for every response (a response closes once): `this` is the one that closed.
  function answered(this: ServerResponse) {
    answering.delete(this);
  }
  // Before Hono's listener, which may answer at once.
  server.prependListener('request', (_request: IncomingMessage, response: ServerResponse) => {
    // Stopping (close() stops listening at once): no request comes after this one.
    if (!server.listening) response.setHeader('connection', 'close');
    answering.add(response);
    response.on('close', answered);
  });
  return answering;
}

/**
 * A server stops as a request in flight can still be answered: it stops
 * listening (its idle connections close with it), then stops the syncs —
 * a POST /v1/sync being checked is then refused, the 503 server_stopping,
 * and a run goes on to its end saved interrupted — and waits, for
 * ANSWER_GRACE_MS at most, until the requests not yet answered when it
 * began stopping are; each such connection closes once answered (never
 * kept alive). What is left then, a live tail's stream among them, is cut.
 */
async function closeServer(
  server: Server,
  answering: ReadonlySet<ServerResponse>,
  syncs: BackgroundSyncs,
): Promise<void> {
  const unanswered: Promise<void>[] = [];
  for (const response of answering) {
    if (response.headersSent) continue;
    response.setHeader('connection', 'close');
    unanswered.push(
      new Promise<void>((ended) => {
        response.once('close', ended);
      }),
    );
  }
  const closed = new Promise<Error | undefined>((done) => {
    server.close(done);
  });
  try {
    await syncs.stop();
  } finally {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(unanswered),
      new Promise<void>((done) => {
        timer = setTimeout(done, ANSWER_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    server.closeAllConnections();
  }
  const error = await closed;
  if (error) throw error;
}
