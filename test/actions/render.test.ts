// Liquid in actions: strings in params (typed single outputs, nested values),
// email templates (escaping, partials, .html fallback), errors that name the
// field or the file, and the parse cache that follows file changes.
import { mkdir, mkdtemp, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeRenderer, type Renderer } from '../../src/actions/render.js';
import { PermanentError } from '../../src/actions/types.js';
import { JsonNumber } from '../../src/db/json.js';

const variables = {
  contact: { email: 'ada@example.com', first_name: '<Ada>', plan: 'pro' },
  new: { id: 42, total: 99.5, tags: ['a', 'b'] },
  old: null,
  enrichment: { profile: { plan: 'team', seats: 3 } },
  feature: 'welcome',
  stage: 'first',
  app: { url: 'https://app.example.com' },
};

let dir: string;
let renderer: Renderer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nudge-render-'));
  await mkdir(path.join(dir, 'partials'));
  await writeFile(
    path.join(dir, 'welcome.liquid'),
    '<title>Hi {{ contact.first_name }}</title><p>{{ contact.first_name }} {{ contact.first_name | raw }} ' +
      'order {{ new.id }} plan {{ enrichment.profile.plan }}</p>{% render "partials/footer", app: app %}',
  );
  await writeFile(path.join(dir, 'partials/footer.liquid'), '<footer>{{ app.url }}</footer>');
  await writeFile(path.join(dir, 'plain.html'), '<p>{{ new.total | times: 2 }}</p>');
  await writeFile(path.join(dir, 'broken.liquid'), '<p>\n{% if contact.plan %}unclosed</p>');
  await writeFile(path.join(dir, 'bad-filter.liquid'), '<p>{{ contact.email | shout }}</p>');
  renderer = makeRenderer(dir, dir);
});

describe('params', () => {
  it('renders every string, nested, and keeps the type of a single output', async () => {
    const out = await renderer.value(
      {
        subject: 'Welcome {{ contact.first_name }}, {{ contact.missing | default: "friend" }}',
        total: '{{ new.total }}',
        seats: '{{- enrichment.profile.seats -}}',
        tags: '{{ new.tags }}',
        missing: '{{ new.nothing }}',
        list: ['{{ new.id }}', 'id={{ new.id }}', 7, true, null],
        nested: { plan: '{{ enrichment.profile.plan | upcase }}', url: '{{ app.url }}/x' },
        untouched: 'no liquid here',
      },
      variables,
      'webhook',
    );
    expect(out).toEqual({
      subject: 'Welcome <Ada>, friend',
      total: 99.5,
      seats: 3,
      tags: ['a', 'b'],
      missing: null,
      list: [42, 'id=42', 7, true, null],
      nested: { plan: 'TEAM', url: 'https://app.example.com/x' },
      untouched: 'no liquid here',
    });
  });

  it('compares and writes a number a double cannot hold exactly', async () => {
    const big = { new: { id: new JsonNumber('9007199254740993') } };
    const near = { new: { id: 9007199254740992 } };
    // Against its digits in quotes, exact; against a number literal (a double), as doubles.
    const exact = '{% if new.id == "9007199254740993" %}same{% else %}other{% endif %}';
    expect(await renderer.value(exact, big, 'x')).toBe('same');
    expect(await renderer.value(exact, near, 'x')).toBe('other');
    const double = '{% if new.id == 9007199254740993 %}same{% else %}other{% endif %}';
    expect(await renderer.value(double, big, 'x')).toBe('same');
    expect(
      await renderer.value('{% if new.id > "9007199254740992" %}more{% endif %}', big, 'x'),
    ).toBe('more');
    expect(await renderer.value('{% if new.id != "abc" %}differs{% endif %}', big, 'x')).toBe(
      'differs',
    );
    expect(await renderer.value('{{ new | json }}', big, 'x')).toBe('{"id":9007199254740993}');
    expect(await renderer.value('body {{ new | json }}', big, 'x')).toBe(
      'body {"id":9007199254740993}',
    );
  });

  it('names the field when a string does not render', async () => {
    const error = await renderer
      .value({ body: { total: 'x {{ new.total | nonsense }}' } }, variables, 'webhook')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/^webhook\.body\.total: undefined filter: nonsense/);
    await expect(renderer.value(['{{ new.total | nonsense }}'], variables, 'set')).rejects.toThrow(
      /^set\[0\]: undefined filter: nonsense/,
    );
  });
});

describe('email templates', () => {
  it('renders a .liquid template with contact, new and enrichment, escaped, with partials', async () => {
    const { html, file } = await renderer.template('welcome', variables);
    expect(file).toBe(path.join(dir, 'welcome.liquid'));
    expect(html).toBe(
      '<title>Hi &lt;Ada&gt;</title><p>&lt;Ada&gt; <Ada> order 42 plan team</p>' +
        '<footer>https://app.example.com</footer>',
    );
  });

  it('falls back to <name>.html', async () => {
    expect((await renderer.template('plain', variables)).html).toBe('<p>199</p>');
  });

  it('names the files it looked for when a template is missing', async () => {
    await expect(renderer.template('nope', variables)).rejects.toThrow(
      new PermanentError('email template "nope" not found: no nope.liquid or nope.html'),
    );
  });

  it('names the file and line of a Liquid error', async () => {
    await expect(renderer.template('broken', variables)).rejects.toThrow(
      /^broken\.liquid: tag \{% if contact\.plan %\} not closed, line:2, col:1/,
    );
    await expect(renderer.template('bad-filter', variables)).rejects.toThrow(
      /^bad-filter\.liquid: undefined filter: shout/,
    );
  });

  it('refuses names that leave the templates directory', async () => {
    await expect(renderer.template('../secret', variables)).rejects.toThrow(
      /is not a template name/,
    );
  });

  it('caches the parsed template until the file changes', async () => {
    const file = path.join(dir, 'cached.liquid');
    const fixed = 1_700_000_000; // whole seconds: mtime round-trips exactly
    await writeFile(file, '<p>one {{ new.id }}</p>');
    await utimes(file, fixed, fixed);
    expect((await renderer.template('cached', variables)).html).toBe('<p>one 42</p>');
    // Same size and same mtime: the cached parse is used (the file is not re-read).
    await writeFile(file, '<p>two {{ new.id }}</p>');
    await utimes(file, fixed, fixed);
    expect((await stat(file)).mtimeMs).toBe(fixed * 1000);
    expect((await renderer.template('cached', variables)).html).toBe('<p>one 42</p>');
    // A real change (size differs): re-parsed.
    await writeFile(file, '<p>three {{ new.id }}!</p>');
    expect((await renderer.template('cached', variables)).html).toBe('<p>three 42!</p>');
  });
});
