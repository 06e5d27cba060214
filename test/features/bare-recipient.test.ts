// An email's `to` written bare, as DESIGN.md's sketch writes it
// (`to: contact.email`), is the address that field holds, the same as
// `to: "{{ contact.email }}"`: plan passes it, capture copies the new.*
// column it names, and the engine sends to that address. A `to` that is
// neither an address nor such a field is still refused.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../src/capture/deploy.js';
import { buildCaptureObjects } from '../../src/capture/triggers.js';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/load.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { checkFeatures } from '../../src/features/check.js';
import { loadFeatures } from '../../src/features/load.js';
import { silentLog } from '../../src/log.js';
import { readCatalog } from '../../src/source/catalog.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';

const db = useDatabase();

beforeAll(async () => {
  // A referral: its contact is the referrer; the friend's address is a column of the row.
  await db.sql`create table public.referrals (id bigserial primary key, referrer_email text not null,
    friend_email text not null, note text)`;
});

const TEMPLATES = {
  'thanks.liquid': '<title>Thanks</title><p>Thanks for the referral</p>\n',
  'invite.liquid': '<title>You are invited</title><p>Come along</p>\n',
};

const REFERRAL = `name: referral
trigger: { table: public.referrals, on: insert }
contact: { email: new.referrer_email }
stages:
  - name: sent
    do:
      - email: { template: thanks, to: contact.email }
      - email: { template: invite, to: new.friend_email, topic: transactional }
`;

async function project(files: Record<string, string>, config = ''): Promise<string> {
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-bare-to-'));
  await writeFile(path.join(cwd, 'nudge.yaml'), config);
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  for (const [name, text] of Object.entries(files))
    await writeFile(path.join(cwd, 'nudge/features', name), text);
  await mkdir(path.join(cwd, 'nudge/templates'), { recursive: true });
  for (const [name, text] of Object.entries(TEMPLATES))
    await writeFile(path.join(cwd, 'nudge/templates', name), text);
  return cwd;
}

async function plan(cwd: string) {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  const code = await run(['plan'], m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

describe('nudge plan: a bare field as an email’s to', () => {
  it('passes to: contact.email, and captures the column to: new.<column> names', async () => {
    const result = await plan(await project({ 'referral.yaml': REFERRAL }));
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    // friend_email is read by the `to` alone; note is read by nothing.
    expect(result.out).toContain(
      'captures id, referrer_email, friend_email (what its features read)\n      left out: note (not used)\n',
    );
  });

  it('still refuses a to that is neither an address nor a field', async () => {
    const result = await plan(
      await project({
        'referral.yaml': REFERRAL.replace('to: new.friend_email', 'to: friend'),
      }),
    );
    expect(result.code).toBe(2);
    expect(result.err.split('\n').filter((line) => line.startsWith('✗'))).toEqual([
      '✗ nudge/features/referral.yaml:8:40 stages[0].do[1].email.to: "friend" is not an email address',
    ]);
  });
});

describe('the engine with a bare to', () => {
  let running: Running | undefined;
  afterAll(async () => {
    await running?.stop();
  });

  it('sends to the address each field holds', async () => {
    const cwd = await project(
      { 'referral.yaml': REFERRAL },
      'email: { provider: dev, from: "Acme <hello@acme.example>" }\nengine: { partitions: 2 }\n',
    );
    const config = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
    const features = await loadFeatures(config.featuresDir, config.env, cwd);
    await deploy(db.sql, buildCaptureObjects(checkFeatures(features, await readCatalog(db.sql))));
    running = await launch(config, { http: false, log: silentLog, idleMs: 20 });
    await db.sql`insert into public.referrals (referrer_email, friend_email)
                 values ('ada@example.com', 'grace@example.com')`;
    const sent = await waitFor(async () => {
      const rows = await db.sql<{ to_address: string; subject: string }[]>`
        select to_address, subject from nudge_engine.mailbox order by subject`;
      return rows.length === 2 ? rows : undefined;
    }, 'both emails in the dev mailbox');
    expect(sent.map((m) => [m.subject, m.to_address])).toEqual([
      ['Thanks', 'ada@example.com'],
      ['You are invited', 'grace@example.com'],
    ]);
  });
});
