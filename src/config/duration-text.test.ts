import { describe, expect, it } from 'vitest';
import { advanceProblem, durationProblem, durationSuggestion } from './duration-text.js';

describe('durationSuggestion', () => {
  it.each([
    ['2days', '2d'],
    ['30 Minutes', '30m'],
    ['1 min', '1m'],
    ['12hrs', '12h'],
    ['45 seconds', '45s'],
    ['3 weeks', '3w'],
    ['2dd', '2d'],
    ['3dys', '3d'],
    ['10 mintues', '10m'],
    ['4hurs', '4h'],
    // One unit for what needs two, or a fraction.
    ['1d12h', '36h'],
    ['1.5d', '36h'],
    ['1h 30m', '90m'],
    ['2w7d', '3w'],
    ['0.5s', undefined],
  ])('reads %s as %s', (text, near) => {
    expect(durationSuggestion(text)).toBe(near);
  });

  it('suggests nothing for a duration, or for what means none', () => {
    expect(durationSuggestion('2d')).toBeUndefined();
    expect(durationSuggestion('soon')).toBeUndefined();
    expect(durationSuggestion('2 months')).toBeUndefined();
    expect(durationSuggestion('2 mo')).toBeUndefined();
    expect(durationSuggestion('2 years')).toBeUndefined();
    expect(durationSuggestion('2xx')).toBeUndefined();
  });
});

describe('durationProblem', () => {
  it('suggests the duration meant when the unit is spelled out, as the YAML schema does', () => {
    expect(durationProblem('2days')).toBe(
      'expected a duration such as 2h or 7d (did you mean "2d"?)',
    );
    expect(durationProblem('soon')).toBe('expected a duration such as 2h or 7d');
    expect(durationProblem('-1d')).toBe('durations are positive');
    expect(durationProblem('99999999d')).toBe('expected at most 36500d');
    expect(durationProblem('0d')).toBeUndefined();
    expect(durationProblem('36500d')).toBeUndefined();
  });
});

describe('advanceProblem', () => {
  it('is durationProblem, and refuses nothing at all as it refuses going back', () => {
    expect(advanceProblem('0d')).toBe('durations are positive');
    expect(advanceProblem('-1d')).toBe('durations are positive');
    expect(advanceProblem('2days')).toBe(durationProblem('2days'));
    expect(advanceProblem('1000000d')).toBe('expected at most 36500d');
    expect(advanceProblem('1s')).toBeUndefined();
  });
});
