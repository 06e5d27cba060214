// `nudge init` copies the email templates its feature sends (and the partials
// they render), not every premade one, and says where the others are and how
// to add a premade feature with its own. (test/templates/init.test.ts checks
// each premade feature is written with the templates its emails name.)
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rendererFor } from '../../src/actions/render.js';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/load.js';

const PREMADE_TEMPLATES = path.resolve('examples/demo/nudge/templates');

let cwd: string | undefined;
afterEach(async () => {
  if (cwd) await rm(cwd, { recursive: true, force: true });
  cwd = undefined;
});

async function init(...args: string[]) {
  cwd ??= await mkdtemp(path.join(tmpdir(), 'nudge-init-'));
  const m = memoryIo({ cwd });
  const code = await run(['init', ...args], m.io);
  expect(code, m.stderr()).toBe(0);
  return m.stdout();
}

const templatesIn = async (dir: string) =>
  (await readdir(path.join(dir, 'nudge/templates'))).sort();

describe('nudge init', () => {
  it('copies the email templates the starter feature sends, and says where the others are', async () => {
    const out = await init();
    // With the partial they render: the opt-out links at their foot.
    expect(await templatesIn(cwd!)).toEqual(['day-two.liquid', 'opt-out.liquid', 'welcome.liquid']);
    expect(out).not.toContain('cart-reminder.liquid');
    expect(out).toContain(
      'Email templates: the ones welcome-drip sends, in nudge/templates. An email action names its template without the extension: { email: { template: welcome } } renders nudge/templates/welcome.liquid.',
    );
    expect(out).toMatch(
      /More premade features, each with its templates: nudge init --template <name> \(abandoned-cart, .*weekly-digest\)\./,
    );
    const where = /Every premade email template: (\S+)/.exec(out)?.[1];
    expect(where && path.resolve(cwd!, where)).toBe(PREMADE_TEMPLATES);
  });

  it("names the reference of nudge.yaml where the project's npm link nudge puts it", async () => {
    await init();
    const yaml = await readFile(path.join(cwd!, 'nudge.yaml'), 'utf8');
    const reference = /^# Nudge configuration\. Every field: (\S+)$/m.exec(yaml)?.[1];
    expect(reference).toBe('node_modules/nudge/docs/configuration.md');
    // npm link nudge makes node_modules/nudge this repository.
    expect(existsSync(path.resolve(reference!.replace('node_modules/nudge/', '')))).toBe(true);
  });

  it('copies the partials a template renders, so the email renders in the new project', async () => {
    await init('--template', 'order-confirmation');
    expect(await templatesIn(cwd!)).toEqual(['money.liquid', 'order-confirmation.liquid']);
    const project = await loadConfig({ cwd: cwd!, env: { DATABASE_URL: 'postgres://x/y' } });
    const { html } = await rendererFor(project).template('order-confirmation', {
      contact: { first_name: 'Ada' },
      new: { id: 7, total: 42.5, currency: 'eur', items: [] },
    });
    expect(html).toContain('Total: 42.50 EUR');
  });

  it('copies no template for a feature that sends no email, and says so', async () => {
    const out = await init('--template', 'heartbeat');
    // The folder nudge.yaml names is there for the first one written.
    expect(await templatesIn(cwd!)).toEqual([]);
    expect(out).toContain('heartbeat sends no email: no email template copied.');
  });

  it('adds another premade feature with its templates to a project, leaving what exists', async () => {
    await init();
    const out = await init('--template', 'weekly-digest');
    expect(out).toContain('= nudge.yaml (exists, left as is)');
    expect(out).toContain('+ nudge/templates/weekly-digest.liquid');
    expect(await templatesIn(cwd!)).toEqual([
      'day-two.liquid',
      'money.liquid',
      'opt-out.liquid',
      'weekly-digest.liquid',
      'welcome.liquid',
    ]);
  });

  it('says what to do next only when it wrote something, and not to set a URL that .env sets', async () => {
    const first = await init();
    expect(first).toContain('  1. put DATABASE_URL=postgres://... in .env');
    const again = await init();
    expect(again).toContain('Nothing written: every file exists already');
    expect(again).not.toContain('Next:');
    await writeFile(path.join(cwd!, '.env'), 'DATABASE_URL=postgres://x/y\n');
    const more = await init('--template', 'heartbeat');
    expect(more).toContain('Next:\n  1. nudge doctor');
    expect(more).not.toContain('put DATABASE_URL');
  });
});
