// How `nudge plan` prints: a change first and in full, what stays after it
// a line each; with no change, everything in full.
import { describe, expect, it } from 'vitest';
import { memoryIo } from '../cli/io.js';
import type { Plan, PlanItem } from './plan.js';
import { renderPlan } from './print-plan.js';

const columns = {
  copied: ['id', 'email'],
  excluded: [{ column: 'encrypted_password', reason: 'credential' }],
};

function planOf(items: PlanItem[]): Plan {
  const counts = { create: 0, replace: 0, drop: 0, unchanged: 0 };
  for (const item of items) counts[item.action]++;
  return {
    items,
    desired: [] as unknown as Plan['desired'],
    counts,
    driftCount: 0,
    hasChanges: items.some((item) => item.action !== 'unchanged'),
  };
}

const capture = (action: PlanItem['action'], subject: string): PlanItem => ({
  action,
  kind: 'capture',
  subject,
  detail: 'statement trigger',
  columns,
  sql: [],
});

function printed(plan: Plan): string[] {
  const { io, stdout } = memoryIo();
  renderPlan(plan, io);
  return stdout().split('\n');
}

describe('renderPlan', () => {
  it('puts the changes first, in full, and what stays after them a line each', () => {
    const lines = printed(
      planOf([
        capture('unchanged', 'auth.users insert'),
        capture('create', 'public.orders insert'),
        capture('unchanged', 'public.orders update'),
      ]),
    );
    expect(lines).toEqual([
      '  + capture public.orders insert  statement trigger',
      '      captures id, email (what its features read)',
      '      left out: encrypted_password (credentials)',
      '  = capture auth.users insert     statement trigger',
      '  = capture public.orders update  statement trigger',
      '',
      'Plan: 1 to create, 0 to replace, 0 to drop, 2 unchanged.',
    ]);
  });

  it('shows every item in full when nothing changes', () => {
    const lines = printed(planOf([capture('unchanged', 'auth.users insert')]));
    expect(lines).toEqual([
      '  = capture auth.users insert  statement trigger',
      '      captures id, email (what its features read)',
      '      left out: encrypted_password (credentials)',
      '',
      'No changes. The database matches the features (1 unchanged).',
    ]);
  });
});
