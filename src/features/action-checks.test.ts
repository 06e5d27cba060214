// A webhook URL is refused only when no rendering can make it an absolute
// http(s) URL: as written when it has no Liquid, else by what is written
// before its first tag.
import { describe, expect, it } from 'vitest';
import { actionProblems, urlProblem } from './action-checks.js';

describe('urlProblem', () => {
  it.each([
    'https://hooks.example.com/orders',
    'http://127.0.0.1:9999/x',
    '{{ new.callback_url }}',
    'https://{{ new.tenant }}.example.com/hooks',
    'https://hooks.example.com/orders/{{ new.id }}',
    'HTTPS://hooks.example.com/{% if new.test %}test{% endif %}',
    'http{{ new.secure }}://hooks.example.com',
  ])('passes %s', (url) => {
    expect(urlProblem(url)).toBeUndefined();
  });

  it.each([
    ['not a url', ''],
    ['hooks.example.com/orders', ''],
    ['ftp://example.com/x', ''],
    ['ftp://{{ new.host }}/x', 'the text before its first Liquid tag'],
    ['hooks.example.com/{{ new.id }}', 'the text before its first Liquid tag'],
    ['https://exa mple.com/{{ new.id }}', 'its host'],
  ])('refuses %s', (url, why) => {
    expect(urlProblem(url)).toMatch(/^expected an absolute http\(s\) URL such as /);
    expect(urlProblem(url)).toContain(why);
  });
});

describe('actionProblems: Liquid that does not parse', () => {
  const problemsOf = (action: object) => actionProblems({ stages: [{ do: [action] }] });

  it('leaves the engine’s place out of a one-line value, and says the line of a longer one', () => {
    const [subject] = problemsOf({
      email: { subject: 'Hi {{ contact.first_name | defualt: "friend" }}' },
    });
    expect(subject?.problem).toBe('undefined filter: defualt (did you mean "default"?)');
    const [body] = problemsOf({
      webhook: { url: 'https://example.com', body: { text: 'Hello\n{% if new.paid %}paid' } },
    });
    expect(body?.problem).toBe('tag {% if new.paid %} not closed (line 2 of the text)');
  });
});

describe('actionProblems: an email’s to', () => {
  const problemsOf = (to: string) =>
    actionProblems({
      enrich: { profile: { table: 'public.profiles', match: { id: 'new.user_id' } } },
      stages: [{ do: [{ email: { to } }] }],
    });

  it.each([
    'ada@example.com',
    'Ada <ada@example.com>',
    '{{ contact.email }}',
    'contact.email',
    'new.email',
    'old.email',
    'enrichment.profile.email',
  ])('passes %s', (to) => {
    expect(problemsOf(to)).toEqual([]);
  });

  it.each(['ada', 'contact.', 'customer.email', 'new.meta->>email'])('refuses %s', (to) => {
    expect(problemsOf(to).map((p) => p.problem)).toEqual([`"${to}" is not an email address`]);
  });
});

describe('actionProblems: an email’s from', () => {
  const problemsOf = (from: string) => actionProblems({ stages: [{ do: [{ email: { from } }] }] });

  it.each(['hi@acme.com', 'Acme <hi@acme.com>', '{{ app.sender }}'])('passes %s', (from) => {
    expect(problemsOf(from)).toEqual([]);
  });

  it.each(['not-an-email', 'Acme'])(
    'refuses %s, where the provider would refuse every send',
    (from) => {
      expect(problemsOf(from).map((p) => p.problem)).toEqual([`"${from}" is not a sender address`]);
    },
  );
});

// A variable no run is given renders empty on every run: a typo of a root
// (`neww`), and `enrichment.*` once the feature has no such enrichment (its
// `enrich:` removed or renamed). Said at the field, with the name meant.
describe('actionProblems: variables that always render empty', () => {
  const ROOTS =
    'expected one of contact, new, old, enrichment, event, journey, feature, stage, app';
  const problemsOf = (params: object, more: object = {}) =>
    actionProblems({
      ...more,
      stages: [{ do: [{ email: { template: 'welcome', ...params } }] }],
    }).map(({ at, problem }) => `${at.slice(4).join('.')}: ${problem}`);

  it('refuses a root the renderer does not give, with the one meant', () => {
    expect(problemsOf({ subject: 'Hi {{ contact.frist_name }} {{ neww.id }}' })).toEqual([
      `email.subject: unknown variable "neww" (did you mean "new"?); ${ROOTS}`,
    ]);
    expect(
      problemsOf({ from: '{{ contct.email }}', subject: '{% if unsubscribe_url %}x{% endif %}' }),
    ).toEqual([
      `email.from: unknown variable "contct" (did you mean "contact"?); ${ROOTS}`,
      // The links are a template's, not a parameter's.
      `email.subject: unknown variable "unsubscribe_url"; ${ROOTS}`,
    ]);
  });

  it('refuses enrichment.* in a feature with no such enrichment', () => {
    const enrich = { enrich: { profile: { table: 'public.profiles', match: { id: 'new.id' } } } };
    expect(problemsOf({ subject: '{{ enrichment.profile.full_name }}' })).toEqual([
      'email.subject: enrichment.profile is always empty: this feature has no enrich',
    ]);
    expect(problemsOf({ to: 'enrichment.profile.email' })).toEqual([
      'email.to: enrichment.profile is always empty: this feature has no enrich',
    ]);
    expect(problemsOf({ subject: '{{ enrichment.profil.full_name }}' }, enrich)).toEqual([
      'email.subject: no enrichment "profil" in this feature\'s enrich (did you mean "profile"?) (enrich: profile)',
    ]);
    expect(problemsOf({ subject: '{{ enrichment.profile.full_name }}' }, enrich)).toEqual([]);
  });

  it('passes what runs are given, and the template’s own variables', () => {
    const subject = [
      '{{ contact.first_name | default: "friend" }} {{ new.id }} {{ old.status }}',
      '{{ event.name }} {{ journey.entered_at }} {{ feature }} {{ stage }} {{ app.url }}',
      '{% assign n = new.items | size %}{{ n }}{% for item in new.items %}{{ item.name }}{{ forloop.index }}{% endfor %}',
      '{% capture who %}{{ contact.email }}{% endcapture %}{{ who }}',
    ].join(' ');
    expect(problemsOf({ subject })).toEqual([]);
    // Not a parameter the renderer renders: the template's name, a goto.
    expect(
      actionProblems({ stages: [{ do: [{ email: { template: 'neww' } }, { goto: 'x' }] }] }),
    ).toEqual([]);
  });
});
