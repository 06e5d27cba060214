import { describe, expect, it } from 'vitest';
import { SecretError } from '../db/secrets.js';
import { demoKeyHint } from './checks.js';

const noKey = new SecretError('secret "ingest" cannot be decrypted: no master key here', 'hint');

describe("doctor's Secrets line on nudge dev's demo database", () => {
  it('names the folder whose key nudge dev made, not nudge secret reset', () => {
    const hint = demoKeyHint(noKey, true);
    expect(hint).toContain('.nudge/secret.key in the folder it runs in');
    expect(hint).toContain('run this in that folder');
  });

  it('keeps the general hint on another database, or for another error', () => {
    expect(demoKeyHint(noKey, false)).toBeUndefined();
    expect(demoKeyHint(new Error('connection refused'), true)).toBeUndefined();
  });
});
