// The doors of the links in every non-transactional email: the one-click
// unsubscribe (RFC 8058: a POST of `List-Unsubscribe=One-Click` with no
// cookie or login, answered 200, idempotent, effective for the next send)
// and the preference page (GET shows it, POST saves it). The signed token in
// the path is the only credential (email/links.ts); a bad one is a 401.
import { type Context, Hono } from 'hono';
import type postgres from 'postgres';
import type { LoadedConfig } from '../../config/load.js';
import { preferencesOf, setPreferences } from '../../contacts/preferences.js';
import { type LinkClaim, linkSignerFor, linkUrl } from '../../email/links.js';
import { ALL_TOPICS, type Topic, topicsOf } from '../../email/topics.js';
import { readCapped } from '../body.js';
import { HttpError } from '../http-error.js';
import { badLinkPage, confirmPage, preferencesPage, unsubscribedPage } from './pages.js';

const BAD_LINK =
  'this link is not valid: it was changed, or signed with a key no longer in email.link_keys';

export interface EmailLinkOptions {
  sql: postgres.Sql;
  project: LoadedConfig;
  maxBodyBytes: number;
}

export function emailLinkRoutes(options: EmailLinkOptions): Hono {
  const { sql, project } = options;
  const app = new Hono();
  const claimOf = (token: string | undefined, purpose: LinkClaim['purpose']): LinkClaim => {
    const claim = token ? linkSignerFor(project).verify(token) : undefined;
    if (!claim || claim.purpose !== purpose) throw new HttpError(401, 'bad_link', BAD_LINK);
    return claim;
  };
  // The pages a person opens from an email answer a bad link with a page, not JSON.
  const forPeople =
    (handler: (c: Context) => Promise<Response> | Response) => async (c: Context) => {
      try {
        return await handler(c);
      } catch (error) {
        if (error instanceof HttpError && error.code === 'bad_link')
          return c.html(badLinkPage(), 401);
        throw error;
      }
    };
  const preferencesUrl = (contactId: string) =>
    linkUrl(project, { purpose: 'preferences', contactId, topic: '' });
  const topicNamed = (name: string): Topic =>
    topicsOf(project.config.email).find((t) => t.name === name) ?? { name, label: name };

  app.get(
    '/unsubscribe/:token',
    forPeople((c) => {
      const claim = claimOf(c.req.param('token'), 'unsubscribe');
      return c.html(confirmPage(topicNamed(claim.topic), preferencesUrl(claim.contactId)));
    }),
  );

  // The body (List-Unsubscribe=One-Click, or the confirm page's form) says
  // nothing the token does not: read within the limit, never needed.
  app.post('/unsubscribe/:token', async (c) => {
    await readCapped(c.req.raw, options.maxBodyBytes);
    const claim = claimOf(c.req.param('token'), 'unsubscribe');
    await setPreferences(sql, claim.contactId, { [claim.topic]: false }, 'one-click');
    return c.html(unsubscribedPage(topicNamed(claim.topic), preferencesUrl(claim.contactId)));
  });

  const showPreferences = async (contactId: string, saved: boolean) => {
    const topics = topicsOf(project.config.email);
    const state = await preferencesOf(sql, contactId, [ALL_TOPICS, ...topics.map((t) => t.name)]);
    return preferencesPage(topics, state, !state[ALL_TOPICS], saved);
  };

  app.get(
    '/preferences/:token',
    forPeople(async (c) => {
      const claim = claimOf(c.req.param('token'), 'preferences');
      return c.html(await showPreferences(claim.contactId, false));
    }),
  );

  app.post(
    '/preferences/:token',
    forPeople(async (c) => {
      const body = await readCapped(c.req.raw, options.maxBodyBytes);
      const claim = claimOf(c.req.param('token'), 'preferences');
      const form = new URLSearchParams(body);
      const checked = new Set(form.getAll('topic'));
      // "Unsubscribe from all" wins over the boxes ticked beside it.
      const all = form.get('all') !== 'off';
      const changes: Record<string, boolean> = { [ALL_TOPICS]: all };
      for (const topic of topicsOf(project.config.email)) {
        changes[topic.name] = all && checked.has(topic.name);
      }
      await setPreferences(sql, claim.contactId, changes, 'preference page');
      return c.html(await showPreferences(claim.contactId, true));
    }),
  );

  return app;
}
