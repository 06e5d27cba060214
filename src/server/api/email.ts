// /v1/email: a contact's email preferences, read and written by an app that
// shows its own settings page (the same store the unsubscribe links write),
// and what became of the emails each feature sent (docs/email.md). A
// feature or template no file has, with nothing ever queued for it either,
// is refused with the known ones (feature-filter.ts).
import { Hono } from 'hono';
import type postgres from 'postgres';
import { z } from 'zod';
import { hasActionRuns, hasEmailRuns } from '../../actions/runs-exist.js';
import type { LoadedConfig } from '../../config/load.js';
import { preferencesOf, setPreferences } from '../../contacts/preferences.js';
import { emailStats } from '../../email/stats.js';
import { ALL_TOPICS, topicsOf } from '../../email/topics.js';
import type { ApiEnv } from './auth.js';
import { findContact } from './contacts.js';
import { checkFeatureFilter, checkTemplateFilter, type KnownFeatures } from './feature-filter.js';
import { expectedObject, invalid, readJson, takes, validate } from './input.js';

export interface EmailApiOptions extends KnownFeatures {
  sql: postgres.Sql;
  project: LoadedConfig;
  maxBodyBytes: number;
}

const preferencesSchema = z.strictObject(
  {
    topics: z
      .record(z.string(), z.boolean({ error: 'expected true or false' }))
      .optional()
      .describe('topic → subscribed'),
    all: z
      .boolean({ error: 'expected true or false' })
      .optional()
      .describe('false: unsubscribed from every topic; true: clears that'),
  },
  { error: expectedObject('expected a JSON object with topics and/or all') },
);

export function emailRoutes(options: EmailApiOptions): Hono<ApiEnv> {
  const { sql, project } = options;
  const app = new Hono<ApiEnv>();

  const preferencesJson = async (contactId: string) => {
    const topics = topicsOf(project.config.email);
    const state = await preferencesOf(sql, contactId, [ALL_TOPICS, ...topics.map((t) => t.name)]);
    return {
      contact_id: contactId,
      all: state[ALL_TOPICS]!,
      topics: topics.map((t) => ({
        name: t.name,
        label: t.label,
        ...(t.description ? { description: t.description } : {}),
        subscribed: state[t.name]!,
      })),
    };
  };

  app.get('/preferences/:contact', takes(), async (c) => {
    const contact = await findContact(sql, c.req.param('contact'));
    return c.json(await preferencesJson(contact.id));
  });

  app.put('/preferences/:contact', async (c) => {
    const contact = await findContact(sql, c.req.param('contact'));
    const body = validate(preferencesSchema, await readJson(c, options.maxBodyBytes));
    const known = new Set(topicsOf(project.config.email).map((t) => t.name));
    const changes: Record<string, boolean> = {};
    if (body.all !== undefined) changes[ALL_TOPICS] = body.all;
    for (const [topic, subscribed] of Object.entries(body.topics ?? {})) {
      if (!known.has(topic)) {
        throw invalid(
          `topics.${topic}`,
          `no such topic; email.topics has ${[...known].join(', ')}`,
        );
      }
      changes[topic] = subscribed;
    }
    await setPreferences(sql, contact.id, changes, 'api');
    return c.json(await preferencesJson(contact.id));
  });

  app.get('/stats', takes('feature', 'template'), async (c) => {
    const feature = c.req.query('feature') || undefined;
    const template = c.req.query('template') || undefined;
    const stats = await emailStats(sql, {
      ...(feature ? { feature } : {}),
      ...(template ? { template } : {}),
    });
    // Nothing to count: a typo, or a feature or template that sent nothing yet.
    if (stats.length === 0) {
      await checkFeatureFilter(options, feature, (name) => hasActionRuns(sql, name));
      await checkTemplateFilter(project, template, (name) => hasEmailRuns(sql, name));
    }
    return c.json({ stats });
  });

  return app;
}
