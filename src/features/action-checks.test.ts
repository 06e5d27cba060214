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
  const problemsOf = (to: string) => actionProblems({ stages: [{ do: [{ email: { to } }] }] });

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
