// A sample contact in the printed backtest report stays short: an event
// matched then skipped as already in the journey, again and again, is
// printed once with how many more times it came and until when; what
// happens once is printed as it is.
import { describe, expect, it } from 'vitest';
import { type BacktestReport, reportLines } from '../../src/backtest/index.js';

const at = (day: number) => `2026-03-${String(day).padStart(2, '0')}T09:00:00.000Z`;
/** As printed: UTC, to the second, as nudge logs prints times. */
const shown = (day: number) => `2026-03-${String(day).padStart(2, '0')} 09:00:00`;
const entry = (day: number, outcome: string, reason: string) => ({ at: at(day), outcome, reason });

function reportWith(timeline: BacktestReport['samples'][number]['timeline']): BacktestReport {
  return {
    feature: 'big-order',
    status: 'active',
    window: { from: at(1), to: at(31) },
    sources: [],
    events: { read: 0, matched: 0, notTrigger: 0, bySource: {} },
    contacts: { entered: 1, entries: 1 },
    stages: [],
    journeys: { completed: 0, exited: 0, waiting: {} },
    actions: {},
    skips: {},
    samples: [{ contact: 'ann@example.com', timeline }],
    simplifications: [],
    todaysValues: [],
    ms: 0,
  };
}

/** The sample's lines: from its contact to the Simplifications heading. */
function sampleLines(report: BacktestReport): string[] {
  const lines = reportLines(report);
  return lines.slice(lines.indexOf('  ann@example.com'), lines.indexOf('Simplifications:'));
}

describe('sample timelines', () => {
  it('prints a repeated matched / skipped pair once, with the count and the last time', () => {
    const timeline = [
      entry(1, 'matched', 'trigger matched'),
      entry(1, 'entered', 'entered (entry 1)'),
      entry(1, 'advanced', 'stage welcomed'),
    ];
    for (let day = 2; day <= 26; day++) {
      timeline.push(entry(day, 'matched', 'trigger matched'));
      timeline.push(entry(day, 'skipped', 'already in the journey at stage welcomed'));
    }
    timeline.push(entry(27, 'completed', 'completed'));
    expect(sampleLines(reportWith(timeline))).toEqual([
      '  ann@example.com',
      `    ${shown(1)}  matched   trigger matched`,
      `    ${shown(1)}  entered   entered (entry 1)`,
      `    ${shown(1)}  advanced  stage welcomed`,
      `    ${shown(2)}  matched   trigger matched`,
      `    ${shown(2)}  skipped   already in the journey at stage welcomed`,
      `    … 24 more times, the last at ${shown(26)}`,
      `    ${shown(27)}  completed completed`,
    ]);
  });

  it('prints a line repeated alone once, and leaves a short repeat as it is', () => {
    const timeline = [
      entry(1, 'skipped', 'no contact'),
      entry(2, 'skipped', 'no contact'),
      entry(3, 'skipped', 'no contact'),
      entry(4, 'skipped', 'no contact'),
      entry(5, 'matched', 'trigger matched'),
      entry(6, 'matched', 'trigger matched'),
    ];
    expect(sampleLines(reportWith(timeline))).toEqual([
      '  ann@example.com',
      `    ${shown(1)}  skipped   no contact`,
      `    … 3 more times, the last at ${shown(4)}`,
      `    ${shown(5)}  matched   trigger matched`,
      `    ${shown(6)}  matched   trigger matched`,
    ]);
  });
});
