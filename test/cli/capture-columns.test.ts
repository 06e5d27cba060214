// Which columns `nudge plan` says each capture copies, and what it refuses:
// the demo project's features read a handful of auth.users and orders
// columns, so that is what their triggers copy; a feature or an exclusion
// naming a credential, an excluded or a missing column fails at its line.

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { useDatabase } from '../harness/db.js';
import { copyDemo } from '../harness/demo-project.js';

const db = useDatabase();
const _DEMO = path.resolve('examples/demo');

async function project(edit?: (files: Record<string, string>) => void): Promise<string> {
  const dir = await copyDemo({ prefix: 'nudge-columns-', firstFeatures: true });
  if (edit) {
    const names = [
      'nudge.yaml',
      'nudge/features/welcome-drip.yaml',
      'nudge/templates/welcome.liquid',
    ];
    const files: Record<string, string> = {};
    for (const name of names) files[name] = await readFile(path.join(dir, name), 'utf8');
    edit(files);
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  }
  return dir;
}

async function nudge(cwd: string, args: string[]) {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  const code = await run(args, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

beforeAll(async () => {
  await db.sql.unsafe(await readFile(path.resolve('src/dev/demo.sql'), 'utf8'));
  await db.sql`alter table public.orders add column card_token text`;
});

describe('nudge plan', () => {
  it('shows per capture the columns it copies and those it leaves out, and why', async () => {
    const planned = await nudge(await project(), ['plan']);
    expect(planned.code, planned.err).toBe(0);
    const lines = planned.out.split('\n');
    const after = (subject: string) => {
      const at = lines.findIndex((line) => line.includes(`capture ${subject}`));
      expect(at, `no capture ${subject} in:\n${planned.out}`).toBeGreaterThanOrEqual(0);
      return lines.slice(at + 1, at + 3).map((line) => line.trim());
    };
    // welcome-drip reads email, is_anonymous and id (its contact); the
    // templates read only contact.*.
    const [copied, left] = after('auth.users insert');
    expect(copied).toBe('captures id, email, is_anonymous (what its features read)');
    expect(left).toMatch(
      /^left out: encrypted_password, confirmation_token, recovery_token, email_change_token_new, .*reauthentication_token \(credentials\); \d+ more not used$/,
    );
    expect(planned.out).not.toMatch(/captures [^\n]*encrypted_password/);
  });

  it('reads Liquid variables in templates and params, and says when it must copy everything', async () => {
    const cwd = await project((files) => {
      files['nudge/templates/welcome.liquid'] += '<p>You signed up at {{ new.created_at }}.</p>\n';
      files['nudge/features/welcome-drip.yaml'] = files[
        'nudge/features/welcome-drip.yaml'
      ]!.replace(
        'do:\n      - email: { template: day-two',
        'do:\n      - webhook: { url: "https://example.com/hook" }\n      - email: { template: day-two',
      );
    });
    const planned = await nudge(cwd, ['plan']);
    expect(planned.code, planned.err).toBe(0);
    expect(planned.out).toMatch(
      /captures instance_id, id, aud, role, email, .* \(all it may: welcome-drip: stage nudged: webhook has no body, so it sends whole rows\)/,
    );
    expect(planned.out).not.toMatch(/captures [^\n]*encrypted_password/);

    const templated = await project((files) => {
      files['nudge/templates/welcome.liquid'] += '<p>You signed up at {{ new.created_at }}.</p>\n';
    });
    const withTemplate = await nudge(templated, ['plan']);
    expect(withTemplate.out).toContain(
      'captures id, email, created_at, is_anonymous (what its features read)',
    );
  });

  it('replaces a capture when its features read another column', async () => {
    const cwd = await project();
    const deployed = await nudge(cwd, ['deploy', '--yes']);
    expect(deployed.code, deployed.err).toBe(0);
    expect((await nudge(cwd, ['plan'])).out).toContain('No changes.');
    const template = path.join(cwd, 'nudge/templates/welcome.liquid');
    await writeFile(template, `${await readFile(template, 'utf8')}<p>{{ new.phone }}</p>\n`);
    const planned = await nudge(cwd, ['plan']);
    expect(planned.out).toMatch(
      /~ capture auth\.users insert\s+statement trigger · typed rows · used by welcome-drip · definition changed/,
    );
    expect(planned.out).toContain(
      'captures id, email, phone, is_anonymous (what its features read)',
    );
    await nudge(cwd, ['teardown', '--yes']);
  });

  it('refuses a feature that reads a credential or an excluded column, at its line', async () => {
    const cwd = await project((files) => {
      files['nudge/features/welcome-drip.yaml'] = files[
        'nudge/features/welcome-drip.yaml'
      ]!.replace('new.is_anonymous: is.false', 'new.recovery_token: is.null');
    });
    const credential = await nudge(cwd, ['plan']);
    expect(credential.code).toBe(2);
    expect(credential.err).toMatch(
      /nudge\/features\/welcome-drip\.yaml:\d+:\d+ trigger\.when\["new\.recovery_token"\]: recovery_token holds credentials: Nudge never captures it from auth\.users/,
    );

    const excluded = await project((files) => {
      files['nudge.yaml'] = files['nudge.yaml']!.replace(
        'capture: outbox',
        'capture:\n  transport: outbox\n  exclude_columns:\n    public.orders: [card_token, totl]\n    public.ordrs: [x]',
      );
    });
    const typos = await nudge(excluded, ['plan']);
    expect(typos.code).toBe(2);
    expect(typos.err).toMatch(
      /nudge\.yaml:\d+:\d+ capture\.exclude_columns\["public\.orders"\]\[1\]: column "totl" does not exist on public\.orders \(did you mean "total"\?\)/,
    );
    expect(typos.err).toMatch(
      /nudge\.yaml:\d+:\d+ capture\.exclude_columns\["public\.ordrs"\]: table public\.ordrs does not exist/,
    );

    // nudge.yaml's typos and a feature's problem come in one round, by file name.
    const both = await project((files) => {
      files['nudge.yaml'] = files['nudge.yaml']!.replace(
        'capture: outbox',
        'capture:\n  transport: outbox\n  exclude_columns:\n    public.orders: [totl]',
      );
      files['nudge/features/welcome-drip.yaml'] = files[
        'nudge/features/welcome-drip.yaml'
      ]!.replace('new.is_anonymous: is.false', 'new.recovery_token: is.null');
    });
    const round = await nudge(both, ['plan']);
    expect(round.code).toBe(2);
    const said = round.err
      .split('\n')
      .filter((line) => /^\S+\.yaml:\d+:\d+ /.test(line.replace(/^✗ /, '')));
    expect(said).toEqual([
      expect.stringMatching(
        /nudge\.yaml:\d+:\d+ capture\.exclude_columns\["public\.orders"\]\[0\]: column "totl" does not exist/,
      ),
      expect.stringMatching(
        /nudge\/features\/welcome-drip\.yaml:\d+:\d+ trigger\.when\["new\.recovery_token"\]: recovery_token holds credentials/,
      ),
    ]);
  });

  it('leaves an excluded column out of every capture, even one that copies everything', async () => {
    const cwd = await project((files) => {
      files['nudge.yaml'] = files['nudge.yaml']!.replace(
        'capture: outbox',
        'capture:\n  transport: outbox\n  exclude_columns:\n    public.orders: [card_token]',
      );
    });
    const planned = await nudge(cwd, ['plan']);
    expect(planned.code, planned.err).toBe(0);
    const orders = planned.out
      .split('\n')
      .filter((line) => line.includes('captures') || line.includes('left out'));
    expect(orders.some((line) => line.includes('card_token (capture.exclude_columns)'))).toBe(true);
    expect(orders.filter((line) => /captures .*card_token/.test(line))).toEqual([]);
  });
});
