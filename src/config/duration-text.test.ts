import { describe, expect, it } from 'vitest';
import { durationSuggestion } from './duration-text.js';

describe('durationSuggestion', () => {
  it.each([
    ['2days', '2d'],
    ['30 Minutes', '30m'],
    ['1 min', '1m'],
    ['12hrs', '12h'],
    ['45 seconds', '45s'],
    ['3 weeks', '3w'],
  ])('reads %s as %s', (text, near) => {
    expect(durationSuggestion(text)).toBe(near);
  });

  it('suggests nothing for a duration, or for what means none', () => {
    expect(durationSuggestion('2d')).toBeUndefined();
    expect(durationSuggestion('soon')).toBeUndefined();
    expect(durationSuggestion('2 months')).toBeUndefined();
  });
});
