// The shape of nudge.yaml. It accepts the `connectors: supabase:` block of the
// reference connector document as written there; see docs/configuration.md.
// The JSON Schema in schema/nudge.schema.json is generated from this file.
import { z } from 'zod';
import { isEmailAddress } from '../actions/params.js';
import { isTimeZone } from '../email/quiet-hours.js';
import { parseTableName } from '../source/names.js';
import { didYouMean } from '../suggest.js';
import { signingKeyOf } from '../webhook-secret.js';
import { durationSchema } from './duration.js';

/**
 * Rows per sync batch by default: a users sync of 300k users ran about a
 * quarter faster with 5,000 than with 1,000 (docs/benchmarks.md); a batch is
 * one transaction and a checkpoint.
 */
export const SYNC_BATCH_SIZE = 5000;

export const tableNameSchema = z
  .string({ error: 'expected a table name' })
  .refine((value) => parseTableName(value) !== undefined, {
    error: 'expected a table name such as orders, auth.users or "my-app"."Order Items"',
  });

const urlSchema = (what: string) =>
  z
    .string({ error: `expected ${what}` })
    .refine((value) => /^[a-z][a-z0-9+.-]*:\/\/./i.test(value), {
      error: `expected ${what}`,
    });

/** A Standard Webhooks secret, as the signing code reads one (src/webhook-secret.ts). */
/** An IANA time zone name the runtime knows (Europe/Paris, America/New_York, UTC). */
export const timeZoneSchema = z.string().refine((zone) => isTimeZone(zone), {
  error: 'expected an IANA time zone such as Europe/Paris',
});

/** A daily window of local time, HH:MM to HH:MM (wrapping midnight when to is earlier). */
export const dailyWindowSchema = z
  .strictObject({
    from: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'expected HH:MM, e.g. 21:00' }),
    to: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'expected HH:MM, e.g. 08:00' }),
  })
  .refine((window) => window.from !== window.to, {
    error: 'from and to are the same time: the window would be empty',
  });

const webhookSecretSchema = z
  .string()
  .min(1)
  .refine(
    (value) => {
      try {
        signingKeyOf(value);
        return true;
      } catch {
        return false;
      }
    },
    { error: 'expected a Standard Webhooks secret: whsec_ followed by base64, at least 16 bytes' },
  );

export const attributeTypeSchema = z.enum([
  'text',
  'integer',
  'numeric',
  'boolean',
  'timestamptz',
  'date',
  'uuid',
  'jsonb',
]);

/**
 * An attribute name. Names every JavaScript object already has
 * (`constructor`, `__proto__`, `toString`, ...) would read or replace that
 * instead of the attribute, so they are refused.
 */
const attributeName = z
  .string({ error: 'expected an attribute name' })
  .min(1)
  .refine((name) => !(name in Object.prototype), {
    error: (issue) =>
      `"${String(issue.input)}" is reserved (every JavaScript object has it); choose another attribute name`,
  });

/** Columns mapped to contact attributes, or a table synced as events. */
export const tableMappingSchema = z
  .object({
    sync_as: z.enum(['attributes', 'events']).optional(),
    event_name: z.string().min(1).optional(),
    properties: z.record(z.string(), z.string({ error: 'expected a column name' })).optional(),
    contact: z
      .strictObject({
        email: z.string().optional(),
        user_id: z.string().optional(),
      })
      .optional()
      .describe('How a row finds its contact: by an email column or a user-id column'),
  })
  .catchall(attributeName)
  .describe('column: ATTRIBUTE pairs, or sync_as: events with event_name and properties');

export const supabaseConnectorSchema = z.strictObject({
  enabled: z.boolean().default(true),
  project_url: urlSchema('the project URL, e.g. https://xyzcompany.supabase.co').optional(),
  api_key: z
    .string()
    .min(1)
    .optional()
    .describe('service_role key (bypasses RLS); never the anon key'),
  service_role_key: z.string().min(1).optional().describe('alias of api_key'),
  anon_key: z
    .string()
    .min(1)
    .optional()
    .describe('optional: lets `nudge doctor` check what RLS hides'),
  sync: z
    .strictObject({
      users: z.boolean().default(false),
      tables: z.array(tableNameSchema).default([]),
      storage: z.boolean().default(false),
      realtime: z.boolean().default(false),
    })
    .default({ users: false, tables: [], storage: false, realtime: false }),
  user_mapping: z.record(z.string(), attributeName).optional(),
  table_mapping: z.record(z.string(), tableMappingSchema).optional(),
  debug: z.boolean().default(false),
  log_level: z.enum(['error', 'warn', 'info', 'verbose', 'debug']).default('info'),
  log_queries: z.boolean().default(false),
  log_realtime: z.boolean().default(false),
  rate_limit: z
    .strictObject({
      requests_per_second: z.number().positive().default(10),
      burst: z.number().int().positive().default(20),
    })
    .default({ requests_per_second: 10, burst: 20 })
    .describe('for the Supabase HTTP APIs (API mode syncs)'),
  batch_size: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(SYNC_BATCH_SIZE)
    .describe('rows per sync batch'),
});

/**
 * The values of capture.transport, each in a few words for the schema's
 * description (and editor completion): a new transport adds its line here
 * (its implementation is registered in capture/transports/index.ts, which
 * config loading does not import).
 */
const TRANSPORT_WORDS = {
  outbox: 'the trigger writes to nudge.event_log',
  webhook: 'it posts through pg_net',
  replication: 'no trigger, a logical replication slot',
} as const;

type TransportName = keyof typeof TRANSPORT_WORDS;
export const TRANSPORTS = Object.keys(TRANSPORT_WORDS) as [TransportName, ...TransportName[]];

/** "outbox, webhook or replication". */
const TRANSPORT_LIST = `${TRANSPORTS.slice(0, -1).join(', ')} or ${TRANSPORTS.at(-1)}`;

/** What users call the transports by other names. */
const TRANSPORT_SYNONYMS: Record<string, (typeof TRANSPORTS)[number]> = {
  logical: 'replication',
  'logical replication': 'replication',
  wal: 'replication',
  cdc: 'replication',
  trigger: 'outbox',
  triggers: 'outbox',
  pg_net: 'webhook',
};

/** "expected outbox, webhook or replication (did you mean "replication"?)" */
function transportProblem(input: unknown): string {
  const synonym = typeof input === 'string' ? TRANSPORT_SYNONYMS[input.toLowerCase()] : undefined;
  const got = synonym
    ? ` (did you mean "${synonym}"?)`
    : typeof input === 'string'
      ? didYouMean(input, TRANSPORTS)
      : '';
  return `expected ${TRANSPORT_LIST}${got}`;
}

const transportSchema = z
  .enum(TRANSPORTS, { error: (issue) => transportProblem(issue.input) })
  .describe(TRANSPORTS.map((name) => `${name}: ${TRANSPORT_WORDS[name]}`).join('; '));

/** capture.replication (docs/replication.md). */
const REPLICATION_DEFAULTS = { slot: 'nudge', warn_retained_mb: 1024 };
const replicationSchema = z.strictObject({
  slot: z
    .string()
    .regex(/^[a-z0-9_]{1,50}$/, 'lower-case letters, digits and _ (at most 50)')
    .default(REPLICATION_DEFAULTS.slot)
    .describe('the replication slot; its publications are <slot>_insert, _update, _delete'),
  warn_retained_mb: z
    .number()
    .positive()
    .default(REPLICATION_DEFAULTS.warn_retained_mb)
    .describe(
      'warn (nudge doctor, /v1, the engine log) when the slot holds back more WAL than this',
    ),
});

/** capture.webhook (docs/webhook-transport.md). */
const webhookCaptureSchema = z
  .strictObject({
    url: urlSchema('the URL of Nudge’s /ingest'),
    secret: z.string().min(1).optional(),
    timeout_ms: z.number().int().positive().default(5000),
  })
  .describe('where pg_net posts each change: Nudge’s /ingest as the database server reaches it');

/** A transport's own section under capture: for that transport only. */
const TRANSPORT_SECTIONS = ['replication', 'webhook'] as const;

/**
 * The object form of capture. A transport's own section (replication:,
 * webhook:) under another transport is refused rather than ignored:
 * capturing by triggers while the file describes a slot would surprise
 * whoever wrote it. (load.ts validates this form on its own first, so that
 * its errors name their field.)
 */
export const captureObjectSchema = z
  .strictObject({
    transport: transportSchema.default('outbox'),
    replication: replicationSchema.optional(),
    webhook: webhookCaptureSchema.optional(),
    exclude_columns: z
      .record(tableNameSchema, z.array(z.string().min(1)).min(1))
      .default({})
      .describe(
        'Columns never captured, by table: { public.profiles: [ssn] }. Credentials of auth.* are always excluded',
      ),
  })
  .superRefine((capture, ctx) => {
    for (const section of TRANSPORT_SECTIONS)
      if (capture[section] && capture.transport !== section)
        ctx.addIssue({
          code: 'custom',
          path: [section],
          message: `is set but capture.transport is ${capture.transport}${capture.transport === 'outbox' ? ' (the default)' : ''}: add transport: ${section} under capture, or remove this section`,
        });
  });

export const configSchema = z.strictObject({
  database_url: z
    .string()
    .optional()
    .describe('The Supabase/Postgres database. Falls back to $DATABASE_URL.'),
  access: z
    .enum(['read-write', 'read-only'])
    .default('read-write')
    .describe('read-only: analyze and plan work, deploy refuses, nothing is written'),
  capture: z
    .union([transportSchema, captureObjectSchema], {
      // The string form's typo: the allowed values and the closest one.
      error: (issue) =>
        typeof issue.input === 'string' ? transportProblem(issue.input) : undefined,
    })
    .default('outbox')
    .transform((value) =>
      typeof value === 'string'
        ? {
            transport: value,
            exclude_columns: {},
            replication: REPLICATION_DEFAULTS,
            webhook: undefined,
          }
        : { ...value, replication: value.replication ?? REPLICATION_DEFAULTS },
    )
    .describe(
      `How capture hands events to Nudge: ${TRANSPORT_LIST}, or { transport, replication, webhook, exclude_columns }`,
    ),
  features: z.string().default('nudge/features').describe('Directory of feature files'),
  templates: z.string().default('nudge/templates').describe('Directory of email templates'),
  // The webhook transport's settings were here, one letter from webhooks:
  // (the signing of the webhooks features send); they live under capture
  // now, as every transport's own settings do. Refused with the way there.
  webhook: z
    .never({
      error:
        'moved under capture: write capture: { transport: webhook, webhook: { url: … } } (webhooks:, with an s, signs the webhooks features send)',
    })
    .optional()
    .describe('moved: the webhook transport’s settings are capture.webhook'),
  engine: z
    .strictObject({
      database_url: z.string().optional().describe('A separate Postgres for Nudge’s own state'),
      partitions: z
        .number()
        .int()
        .min(1)
        .max(64)
        .default(2)
        .describe(
          'lanes: one contact’s events always go to one, in order; the same in every process',
        ),
      retention: z
        .strictObject({
          ingest_log: durationSchema
            .default('7d')
            .describe(
              'processed inbox rows: the ingest log, and the history nudge backtest replays (about 380 MiB per million events; docs/backtest.md)',
            ),
          decisions: durationSchema.default('7d'),
          outbox: durationSchema
            .default('0s')
            .describe('keep consumed outbox rows this long (0s: delete at once)'),
        })
        .default({ ingest_log: '7d', decisions: '7d', outbox: '0s' }),
    })
    .default({ partitions: 2, retention: { ingest_log: '7d', decisions: '7d', outbox: '0s' } }),
  server: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8787),
      public_url: urlSchema('the URL this server is reachable at').optional(),
      rate_limit: z
        .strictObject({ per_minute: z.number().int().positive().default(1200) })
        .default({ per_minute: 1200 })
        .describe('requests each API key may make to /v1 per minute (bursts up to that many)'),
    })
    .default({ host: '127.0.0.1', port: 8787, rate_limit: { per_minute: 1200 } }),
  ingest: z
    .strictObject({
      secret: z
        .string()
        .min(1)
        .optional()
        .describe('Standard Webhooks secret (whsec_...) for POST /ingest'),
      max_body_bytes: z.number().int().positive().default(1_048_576),
    })
    .default({ max_body_bytes: 1_048_576 }),
  email: z
    .strictObject({
      provider: z
        .enum(['dev', 'resend', 'smtp'])
        .default('dev')
        .describe('dev keeps mail in the engine store'),
      from: z
        .string()
        .refine(isEmailAddress, {
          error: 'expected a sender address, alone or as "Acme <hello@acme.com>"',
        })
        .optional(),
      resend: z
        .strictObject({
          api_key: z.string().min(1),
          base_url: urlSchema('the Resend API URL').default('https://api.resend.com'),
          webhook_secret: webhookSecretSchema
            .optional()
            .describe(
              'the whsec_ signing secret of the Resend webhook that posts to /ingest/resend',
            ),
        })
        .optional(),
      smtp: z.strictObject({ url: urlSchema('an smtp:// or smtps:// URL') }).optional(),
      topics: z
        .record(
          z
            .string()
            .regex(/^[a-z][a-z0-9_-]{0,62}$/, {
              error: 'expected a topic name: lower-case letters, digits, _ and -',
            })
            .refine((name) => name !== 'transactional', {
              error: 'transactional is not a topic: it is what an email names to have none',
            }),
          z
            .strictObject({
              label: z.string().min(1).optional(),
              description: z.string().optional(),
            })
            .nullable()
            .transform((topic) => topic ?? {}),
        )
        .default({})
        .describe(
          'what contacts can opt out of, e.g. { product: {}, marketing: { label: News } }; an email names one, or transactional',
        ),
      link_keys: z
        .array(z.string().min(32, { error: 'expected a key of at least 32 characters' }))
        .min(1)
        .optional()
        .describe(
          'keys that sign unsubscribe and preference links: the first signs, every one verifies (rotate by putting a new key first). Default: derived from the master key',
        ),
      unsubscribe_mailto: z
        .string()
        .regex(/^[^@\s<>]+@[^@\s<>]+$/, { error: 'expected an email address' })
        .optional()
        .describe('the mailto: address in List-Unsubscribe (default: the sender’s address)'),
      quiet_hours: dailyWindowSchema
        .optional()
        .describe(
          'no non-transactional email between from and to in the contact’s time zone, e.g. { from: "21:00", to: "08:00" }',
        ),
      time_zone: timeZoneSchema
        .default('UTC')
        .describe('the zone of contacts whose time zone attribute is missing or unknown'),
      time_zone_attribute: z
        .string()
        .min(1)
        .default('timezone')
        .describe('the contact attribute holding its IANA time zone, e.g. Europe/Paris'),
    })
    // Without its section the provider refuses every email when it is sent
    // (each run dead): said here, at the line, before anything runs.
    .refine((email) => email.provider !== 'resend' || email.resend, {
      path: ['provider'],
      error: `provider resend needs its API key: add resend: { api_key: \${RESEND_API_KEY} }`,
    })
    .refine((email) => email.provider !== 'smtp' || email.smtp, {
      path: ['provider'],
      error: `provider smtp needs its server: add smtp: { url: \${SMTP_URL} }`,
    })
    .default({ provider: 'dev', topics: {}, time_zone: 'UTC', time_zone_attribute: 'timezone' }),
  webhooks: z
    .strictObject({
      secret: webhookSecretSchema
        .optional()
        .describe('Standard Webhooks secret (whsec_...) outgoing webhooks are signed with'),
      timeout_ms: z.number().int().positive().default(10_000),
    })
    .default({ timeout_ms: 10_000 }),
  actions: z
    .strictObject({
      max_attempts: z.number().int().min(1).max(50).default(8),
      backoff_base_ms: z.number().int().positive().default(1000),
      backoff_max_ms: z.number().int().positive().default(3_600_000),
      frequency_cap: z
        .strictObject({ max: z.number().int().positive(), per: durationSchema })
        .optional()
        .describe('at most max messages per contact per window, across all features'),
    })
    .default({ max_attempts: 8, backoff_base_ms: 1000, backoff_max_ms: 3_600_000 }),
  contacts: z
    .strictObject({
      attributes: z
        .record(attributeName, attributeTypeSchema)
        .default({})
        .describe('types of contact attributes, for conditions on contact.*'),
    })
    .default({ attributes: {} }),
  // `nudge new`: an OpenAI-compatible Chat Completions endpoint (src/ai/, docs/ai.md).
  ai: z
    .strictObject({
      base_url: urlSchema(
        'the API base URL, e.g. https://api.openai.com/v1 or http://localhost:11434/v1',
      ),
      model: z.string({ error: 'expected a model name' }).min(1),
      api_key_env: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' })
        .default('NUDGE_AI_API_KEY')
        .describe('the environment variable holding the API key (none needed for local servers)'),
      timeout_ms: z.number().int().positive().default(120_000),
      max_retries: z
        .number()
        .int()
        .min(0)
        .max(10)
        .default(3)
        .describe('retries after 429/5xx, honouring Retry-After'),
    })
    .optional()
    .describe('the model `nudge new` drafts features with; only the schema is sent, never rows'),
  connectors: z
    .strictObject({
      supabase: supabaseConnectorSchema.optional(),
    })
    .optional(),
});

export type Config = z.output<typeof configSchema>;
export type SupabaseConnector = z.output<typeof supabaseConnectorSchema>;
export type TableMapping = z.output<typeof tableMappingSchema>;
