import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../config/load.js';
import { SecretError } from '../db/secrets.js';
import { DEMO_CONFIG } from '../dev/demo.js';
import { demoKeyHint } from './checks.js';

const elsewhere = { cwd: '/tmp/my-app', file: undefined } as unknown as LoadedConfig;
const noKey = new SecretError('secret "ingest" cannot be decrypted: no master key here', 'hint');

describe("doctor's Secrets line on nudge dev's demo database", () => {
  it('names the demo project to run with, not nudge secret reset', () => {
    expect(demoKeyHint(noKey, true, elsewhere)).toBe(
      `this is nudge dev's demo database, whose secrets are under the demo project's key: run this with --config ${path.relative('/tmp/my-app', DEMO_CONFIG)} (as nudge dev printed for another terminal)`,
    );
  });

  it('keeps the general hint on another database, with the demo project, or for another error', () => {
    expect(demoKeyHint(noKey, false, elsewhere)).toBeUndefined();
    const demo = { cwd: '/tmp/my-app', file: DEMO_CONFIG } as unknown as LoadedConfig;
    expect(demoKeyHint(noKey, true, demo)).toBeUndefined();
    expect(demoKeyHint(new Error('connection refused'), true, elsewhere)).toBeUndefined();
  });
});
