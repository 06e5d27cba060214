import { describe, expect, it } from 'vitest';
import type { Plan, PlanItem } from '../../capture/plan.js';
import { undeployed } from './launch.js';

const item = (action: PlanItem['action'], kind: string, subject: string): PlanItem => ({
  action,
  kind,
  subject,
  sql: [],
});

describe('what a deployment lacks for the feature files here', () => {
  it('names what a deploy would create or change, not what it would drop', () => {
    const plan = {
      items: [
        item('unchanged', 'schema', 'nudge'),
        item('create', 'capture', 'public.orders insert'),
        item('replace', 'capture', 'auth.users update'),
        // Between a transport switch's commit and its slot's drop.
        item('drop', 'slot', 'nudge_slot'),
        item('drop', 'capture', 'public.carts insert'),
        item('replace', 'feature list', 'features'),
      ],
    } as unknown as Plan;
    expect(undeployed(plan)).toEqual([
      '+ capture public.orders insert',
      '~ capture auth.users update',
    ]);
  });
});
