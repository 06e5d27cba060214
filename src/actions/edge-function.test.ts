// What a function action lacks to reach its Edge Function: one answer for
// the run (which refuses itself) and for plan (which refuses the action).
import { describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../config/load.js';
import { functionConnectorProblem } from './edge-function.js';

const connector = (fields: { project_url?: string; key?: string }) =>
  fields as LoadedConfig['supabase'];

describe('functionConnectorProblem', () => {
  it('is nothing with the project URL and a key', () => {
    expect(
      functionConnectorProblem(connector({ project_url: 'https://x.supabase.co', key: 'k' })),
    ).toBeUndefined();
  });

  it('names what connectors.supabase lacks, and whether it is there at all', () => {
    expect(functionConnectorProblem(undefined)).toEqual({
      missing: ['project_url', 'service_role_key'],
      connector: false,
    });
    expect(functionConnectorProblem(connector({ project_url: 'https://x.supabase.co' }))).toEqual({
      missing: ['service_role_key'],
      connector: true,
    });
    expect(functionConnectorProblem(connector({ key: 'k', project_url: '' }))).toEqual({
      missing: ['project_url'],
      connector: true,
    });
  });
});
