// The parts of the /v1 API the MCP tools read — decisions, action runs,
// contacts — mounted in-process on the engine store, so an assistant gets the
// same answers (and the same 400/404 details) as the dashboard and API
// clients. The store opens on first use and stays open until close().
import { Hono } from 'hono';
import type { LoadedConfig } from '../config/load.js';
import { displayPath } from '../config/yaml.js';
import { type EngineStore, openEngineStore } from '../db/engine.js';
import { NudgeError } from '../errors.js';
import { loadFeatures } from '../features/load.js';
import { makeLog } from '../log.js';
import { actionsRoutes } from '../server/api/actions.js';
import type { ApiEnv } from '../server/api/auth.js';
import { contactsRoutes } from '../server/api/contacts.js';
import { decisionsRoutes } from '../server/api/decisions.js';
import { makeErrorHandler } from '../server/http-error.js';

export interface EngineApi {
  /** GET `path` (e.g. `/decisions?feature=x`); the JSON answer, or a NudgeError with the API's detail. */
  get(project: LoadedConfig, path: string): Promise<unknown>;
  close(): Promise<void>;
}

export function makeEngineApi(): EngineApi {
  let opened: Promise<{ store: EngineStore; app: Hono<ApiEnv> }> | undefined;
  const open = (project: LoadedConfig) => {
    opened ??= openEngineStore(project, { max: 2 }).then(async (store) => {
      const { sql } = store;
      // A feature filter no file has (and nothing recorded) is refused with
      // the known ones, as the API does; with feature files that do not
      // load, names are not checked.
      const known = {
        features: await loadFeatures(project.featuresDir, project.env, project.cwd).catch(
          () => undefined,
        ),
        featuresDir: displayPath(project.featuresDir, project.cwd),
      };
      const app = new Hono<ApiEnv>();
      app.route('/decisions', decisionsRoutes({ sql, ...known }));
      app.route('/actions', actionsRoutes({ sql, ...known }));
      app.route(
        '/contacts',
        contactsRoutes({
          sql,
          attributes: project.config.contacts.attributes,
          maxBodyBytes: project.config.ingest.max_body_bytes,
        }),
      );
      app.onError(makeErrorHandler(makeLog()));
      return { store, app };
    });
    // A failed open (no database yet) is tried again on the next call.
    opened.catch(() => {
      opened = undefined;
    });
    return opened;
  };
  return {
    async get(project, path) {
      const { app } = await open(project);
      const response = await app.request(path);
      const body = (await response.json()) as { error?: string; detail?: string };
      if (!response.ok) {
        throw new NudgeError(`${response.status} ${body.error ?? ''}: ${body.detail ?? ''}`);
      }
      return body;
    },
    async close() {
      const current = opened;
      opened = undefined;
      if (current) await (await current.catch(() => undefined))?.store.close();
    },
  };
}
