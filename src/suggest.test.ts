import { describe, expect, it } from 'vitest';
import { closest, didYouMean, editDistance } from './suggest.js';

describe('did you mean', () => {
  it('counts a transposition as one edit, and ignores case', () => {
    expect(editDistance('nwe', 'new')).toBe(1);
    expect(editDistance('gtt', 'gt')).toBe(1);
    expect(editDistance('emial', 'email')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('Email', 'email')).toBe(0);
  });

  it('suggests only close candidates', () => {
    expect(closest('contcat', ['new', 'old', 'contact'])).toBe('contact');
    expect(closest('ilik', ['like', 'ilike'])).toBe('ilike');
    expect(closest('zz', ['eq', 'gt'])).toBeUndefined();
    expect(closest('gt', ['eq'])).toBeUndefined();
    // Two of three letters changed is no typo: a webhook's GET is not a PUT.
    expect(closest('GET', ['POST', 'PUT', 'PATCH'])).toBeUndefined();
    expect(closest('PUTT', ['POST', 'PUT', 'PATCH'])).toBe('PUT');
    expect(closest('databse_ulr', ['database_url', 'api'])).toBe('database_url');
    expect(closest('welcome', ['abandoned-cart'])).toBeUndefined();
  });

  it('says nothing when nothing is close', () => {
    expect(didYouMean('insrt', ['insert', 'update', 'delete'])).toBe(' (did you mean "insert"?)');
    expect(didYouMean('truncate', ['insert', 'update', 'delete'])).toBe('');
  });
});
