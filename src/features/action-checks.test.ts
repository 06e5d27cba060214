// A webhook URL is refused only when no rendering can make it an absolute
// http(s) URL: as written when it has no Liquid, else by what is written
// before its first tag.
import { describe, expect, it } from 'vitest';
import { urlProblem } from './action-checks.js';

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
