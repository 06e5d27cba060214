import { describe, expect, it } from 'vitest';
import { type SlotUnread, stillMeasured } from './unread.js';

const measured: SlotUnread = {
  slot: 'nudge',
  active: false,
  bytes: 4096,
  changes: 0,
  window: { from: '0/1000', to: '0/2000' },
};
const now = (change: Partial<SlotUnread>): SlotUnread => ({
  ...measured,
  changes: null,
  ...change,
});

describe('stillMeasured: when deploy trusts the measure the user accepted', () => {
  it('trusts it while the window has not moved', () => {
    expect(stillMeasured(measured, now({}))).toBe(true);
  });

  it('measures again when anything was written, even with the same byte count', () => {
    expect(stillMeasured(measured, now({ window: { from: '0/1000', to: '0/2100' } }))).toBe(false);
    // An engine read as much as was written since: same bytes, other changes.
    expect(stillMeasured(measured, now({ window: { from: '0/1100', to: '0/2100' } }))).toBe(false);
  });

  it('measures again when a session started or stopped streaming, or for another slot', () => {
    expect(stillMeasured(measured, now({ active: true }))).toBe(false);
    expect(stillMeasured(measured, now({ slot: 'other' }))).toBe(false);
    const { window: _window, ...unmeasured } = measured;
    expect(stillMeasured(unmeasured, now({}))).toBe(false);
  });
});
