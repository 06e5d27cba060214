// The stage diagram's layout: stages top to bottom, then "end"; a stage's
// first arrow to the next box goes straight down, others curve out on the
// right, shorter inside longer; no label overlaps another label or a box, for
// the demo's features and for a feature made as crowded as can be.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StageView } from '../../src/client/index.js';
import { loadFeatures } from '../../src/features/load.js';
import { stageViews } from '../../src/server/api/features.js';
import {
  type Arrow,
  LABEL,
  labelWidth,
  layout,
  type Rect,
  transitionLabel,
} from '../../web/src/diagram-layout.js';

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

const meet = (a: Rect, b: Rect) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

const named = (arrow: Arrow) => `"${arrow.text}" (${arrow.from} → ${arrow.to})`;

/** Every label that overlaps another label or a box, or lies outside the drawing. */
function crowding(stages: StageView[]): string[] {
  const { boxes, arrows, width, height } = layout(stages);
  const found: string[] = [];
  arrows.forEach((arrow, i) => {
    const box = arrow.labelBox;
    for (const other of arrows.slice(i + 1))
      if (meet(box, other.labelBox)) found.push(`${named(arrow)} over ${named(other)}`);
    for (const node of boxes) if (meet(box, node)) found.push(`${named(arrow)} over ${node.name}`);
    if (box.x < 0 || box.y < 0 || box.x + box.width > width || box.y + box.height > height)
      found.push(`${named(arrow)} outside the drawing`);
  });
  return found;
}

/** Where a curved arrow turns: the x of its first control point. */
const out = (arrow: Arrow) => Number(/C([\d.]+),/.exec(arrow.path)![1]);

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

  it('curves skips, loops and early ends on the right, shorter inside longer', () => {
    const { arrows, boxes, width } = layout([
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
    // b → a spans one gap, a → c two, a → end three: each passes outside the shorter.
    const [ac, aEnd, ba] = curved.map(out);
    expect(ba).toBeLessThan(ac!);
    expect(ac).toBeLessThan(aEnd!);
    expect(width).toBeGreaterThan(aEnd!);
    // An early end comes into the side of the end box.
    const end = boxes.at(-1)!;
    expect(curved[1]!.path).toMatch(
      new RegExp(` ${end.x + end.width + 4},${end.y + end.height / 2}$`),
    );
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

  it('shares a lane between arrows whose rows do not meet, and curves a second arrow to the next stage', () => {
    const { arrows } = layout([
      stage('a', [{ to: 'b', after: '1h' }, { to: 'b', when: 'new.x eq.1' }, { to: 'c' }]),
      stage('b', []),
      stage('c', [{ to: 'e' }]),
      stage('d', []),
      stage('e', []),
    ]);
    const [first, second, skip] = arrows;
    expect(first!.path).toContain(' L');
    expect(second!.path).toContain(' C');
    // a → b (rows 0–1) and a → c (0–2) overlap; c → e (2–4) touches a → c, so gets a lane of its own.
    expect(out(second!)).toBeLessThan(out(skip!));
    expect(out(arrows.find((a) => a.from === 'c')!)).toBe(out(second!));
  });

  it('estimates label widths by the characters in them', () => {
    expect(labelWidth('illi')).toBeLessThan(labelWidth('abcd'));
    expect(labelWidth('abcd')).toBeLessThan(labelWidth('ABCD'));
    expect(labelWidth('ABCD')).toBeLessThan(labelWidth('mWmW'));
    expect(labelWidth('mmmm')).toBe(Math.ceil(4 * LABEL.fontSize));
  });

  it('puts no label over another or over a box, for each demo feature', async () => {
    const dir = path.resolve('examples/demo/nudge/features');
    const features = await loadFeatures(dir, {}, path.dirname(dir));
    expect(features.map((f) => f.name)).toContain('abandoned-cart');
    for (const feature of features) expect(crowding(stageViews(feature)), feature.name).toEqual([]);
  });

  it('puts no label over another or over a box, however crowded the feature', () => {
    // Every stage goes to itself, to every stage, twice to the next one and to the end,
    // with the same label from every stage and labels long enough to be clipped.
    const names = ['carted', 'reminded', 'recovered', 'lost', 'won', 'archived'];
    const stages = names.map((name, i) =>
      stage(name, [
        ...(names[i + 1] ? [{ to: names[i + 1]!, after: '1h' }] : []),
        ...names.map((to) => ({ to, when: `new.status eq.${to}` })),
        { to: null, until: 'new.status eq.checked_out' },
        { to: null, when: 'new.total gt.1000 and new.currency eq.EUR', within: '2d' },
      ]),
    );
    expect(crowding(stages)).toEqual([]);
    // Each curved arrow's label stays level with its curve.
    const { arrows } = layout(stages);
    for (const arrow of arrows.filter((a) => a.path.includes('C'))) {
      const ys = [...arrow.path.matchAll(/,([\d.]+)/g)].map((m) => Number(m[1]));
      expect(arrow.labelBox.y + LABEL.height / 2, named(arrow)).toBeGreaterThanOrEqual(
        Math.min(...ys),
      );
      expect(arrow.labelBox.y + LABEL.height / 2, named(arrow)).toBeLessThanOrEqual(
        Math.max(...ys),
      );
    }
  });
});
