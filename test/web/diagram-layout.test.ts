// The stage diagram's layout: stages top to bottom, then "end"; an arrow to
// the next box goes straight down, others curve out on the right, each in
// its own lane.
import { describe, expect, it } from 'vitest';
import type { StageView } from '../../src/client/index.js';
import { layout, transitionLabel } from '../../web/src/diagram-layout.js';

const stage = (
  name: string,
  transitions: Partial<StageView['transitions'][number]>[],
): StageView => ({
  name,
  guard: null,
  actions: [],
  transitions: transitions.map((t) => ({
    to: null,
    when: null,
    after: null,
    until: null,
    within: null,
    ...t,
  })),
});

describe('diagram layout', () => {
  it('draws a chain straight down, ending in "end"', () => {
    const { boxes, arrows } = layout([
      stage('welcomed', [{ to: 'nudged', after: '2d' }]),
      stage('nudged', []),
    ]);
    expect(boxes.map((b) => [b.name, b.kind])).toEqual([
      ['welcomed', 'stage'],
      ['nudged', 'stage'],
      ['end', 'end'],
    ]);
    expect(arrows.map((a) => [a.from, a.to, a.label])).toEqual([
      ['welcomed', 'nudged', 'after 2d'],
      ['nudged', 'end', 'done'],
    ]);
    for (const arrow of arrows) expect(arrow.path).toMatch(/^M[\d.]+,[\d.]+ L/);
  });

  it('curves skips, loops and early ends on the right, each further out', () => {
    const { arrows, width } = layout([
      stage('a', [
        { to: 'b', when: 'new.x eq.1' },
        { to: 'c', until: 'contact.paid is.true', within: '3d' },
        { to: null, when: 'new.x eq.2' },
      ]),
      stage('b', [{ to: 'a' }]),
      stage('c', []),
    ]);
    const curved = arrows.filter((a) => a.path.includes('C'));
    expect(curved.map((a) => [a.from, a.to])).toEqual([
      ['a', 'c'],
      ['a', 'end'],
      ['b', 'a'],
    ]);
    const outs = curved.map((a) => Number(/C([\d.]+),/.exec(a.path)![1]));
    expect(outs).toEqual([...outs].sort((x, y) => x - y));
    expect(new Set(outs).size).toBe(3);
    expect(width).toBeGreaterThan(Math.max(...outs));
    expect(
      transitionLabel({
        to: 'c',
        when: null,
        after: null,
        until: 'contact.paid is.true',
        within: '3d',
      }),
    ).toBe('until contact.paid is.true, within 3d');
    expect(arrows.find((a) => a.from === 'b')!.label).toBe('then');
  });
});
