// Where the stage diagram puts its boxes, arrows and labels: stages top to
// bottom in the order written, then an "end" box. A stage's first arrow to
// the next box goes straight down with its label in the gap; every other
// arrow (a skip, a loop back, an early end, a second arrow to the next box)
// curves on the right in a lane of its own, shorter arrows inside longer
// ones. Pure, tested in test/web/diagram-layout.test.ts.
//
// No two labels, and no label and box, share a place, whatever the feature:
// a straight arrow's label has its gap to itself, and a curved arrow's label
// starts beside the middle of its curve, then slides along the curve and, if
// that is full, further right, until it meets nothing placed before it. The
// place a label takes comes from an estimate of its width that is never short
// for the fonts the dashboard asks for (labelWidth), as the layout cannot
// measure text.
import type { StageView } from '../../src/client/index.js';

export const BOX = { x: 16, width: 260, height: 60, gap: 44 } as const;
export const END = { width: 80, height: 28 } as const;
/**
 * Edge labels: 11px text (styles.css), clipped to `max` characters; a label
 * takes `height` with its baseline `baseline` below its top.
 */
export const LABEL = { max: 34, fontSize: 11, height: 14, baseline: 11 } as const;
/** How far apart the lanes of curved arrows are, right of the boxes. */
const LANE = 16;
/** Room kept between a label and anything else. */
const CLEAR = 2;

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Box extends Rect {
  name: string;
  kind: 'stage' | 'end';
}

export interface Arrow {
  /** Unique in the diagram: the stage and the place of the transition in it. */
  id: string;
  from: string;
  to: string;
  /** SVG path from the source box to the target box. */
  path: string;
  /** What moves a journey on, in full (the tooltip). */
  label: string;
  /** The label as drawn, clipped to LABEL.max characters. */
  text: string;
  /** Where the text's baseline starts. */
  labelX: number;
  labelY: number;
  /** The space the drawn text takes. */
  labelBox: Rect;
}

export function transitionLabel(t: StageView['transitions'][number]): string {
  const parts: string[] = [];
  if (t.after) parts.push(`after ${t.after}`);
  if (t.when) parts.push(`when ${t.when}`);
  if (t.until) parts.push(`until ${t.until}`);
  if (t.within) parts.push(`within ${t.within}`);
  return parts.join(', ') || 'then';
}

export const clipLabel = (label: string) =>
  label.length > LABEL.max ? `${label.slice(0, LABEL.max - 1)}…` : label;

// Characters by width, in em: at most these in DejaVu Sans (what system-ui is
// on Linux, and wider than the system fonts of macOS and Windows); the rest
// of ASCII is at most 0.66em, anything else at most 1em.
const NARROW = new Set(" !'(),-./:;I[\\]Jfijlrt|"); // ≤ 0.42em
const BROAD = new Set('#&+<=>^~ABCDEFGHKLNOPQRSTUVXYZw'); // ≤ 0.84em
const WIDE = /[^\x20-\x7e]|[%@MWm]/; // ≤ 1em

/** How wide `text` is drawn as an edge label: never less than Chromium draws it. */
export function labelWidth(text: string): number {
  let em = 0;
  for (const ch of text) {
    em += NARROW.has(ch) ? 0.42 : BROAD.has(ch) ? 0.84 : WIDE.test(ch) ? 1 : 0.66;
  }
  return Math.ceil(em * LABEL.fontSize);
}

const meets = (a: Rect, b: Rect) =>
  a.x < b.x + b.width + CLEAR &&
  b.x < a.x + a.width + CLEAR &&
  a.y < b.y + b.height + CLEAR &&
  b.y < a.y + a.height + CLEAR;

/**
 * The first free place for a label of `width` whose top may be anywhere from
 * `top` to `bottom` (nearest the middle first), at `x` or, when that column
 * is full, one lane further right at a time. It always ends: right of every
 * rect taken, the first place tried is free.
 */
function freePlace(x: number, top: number, bottom: number, width: number, taken: Rect[]): Rect {
  const middle = (top + bottom) / 2;
  const tops = [middle];
  for (let d = 2; d <= (bottom - top) / 2; d += 2) tops.push(middle + d, middle - d);
  for (let left = x; ; left += LANE) {
    for (const y of tops) {
      const place = { x: left, y, width, height: LABEL.height };
      if (!taken.some((rect) => meets(rect, place))) return place;
    }
  }
}

interface Pending {
  id: string;
  /** Its place among all the transitions, the order arrows are drawn in. */
  order: number;
  from: number;
  to: number;
  label: string;
  /** The rows the arrow spans, top and bottom. */
  low: number;
  high: number;
  lane: number;
}

export function layout(stages: StageView[]): {
  boxes: Box[];
  arrows: Arrow[];
  width: number;
  height: number;
} {
  const step = BOX.height + BOX.gap;
  const centre = BOX.x + BOX.width / 2;
  const right = BOX.x + BOX.width;
  const boxes: Box[] = stages.map((stage, i) => ({
    name: stage.name,
    kind: 'stage',
    x: BOX.x,
    y: 12 + i * step,
    width: BOX.width,
    height: BOX.height,
  }));
  boxes.push({
    name: 'end',
    kind: 'end',
    x: centre - END.width / 2,
    y: 12 + stages.length * step,
    width: END.width,
    height: END.height,
  });
  const index = new Map(boxes.map((box, i) => [box.kind === 'end' ? '\u0000end' : box.name, i]));

  // Which arrows go straight down (a stage's first to the next box) and which curve.
  const straight: Pending[] = [];
  const curved: Pending[] = [];
  stages.forEach((stage, i) => {
    const transitions = stage.transitions.length
      ? stage.transitions
      : [{ to: null, when: null, after: null, until: null, within: null }];
    transitions.forEach((t, n) => {
      const j = index.get(t.to === null ? '\u0000end' : t.to) ?? boxes.length - 1;
      const label = stage.transitions.length ? transitionLabel(t) : 'done';
      const order = straight.length + curved.length;
      const arrow = { id: `${stage.name}:${n}`, order, from: i, to: j, label, lane: 0 };
      const row = { low: Math.min(i, j), high: Math.max(i, j) };
      const down = j === i + 1 && !straight.some((s) => s.from === i);
      (down ? straight : curved).push({ ...arrow, ...row });
    });
  });

  // Lanes: shortest arrows first, each in the innermost lane where it meets
  // no arrow whose rows overlap or touch its own (so none crosses another's
  // end, and a long arrow passes outside the short ones it spans).
  const lanes: Pending[][] = [];
  const byLength = [...curved].sort((a, b) => a.high - a.low - (b.high - b.low));
  for (const arrow of byLength) {
    let lane = lanes.findIndex((taken) =>
      taken.every((other) => arrow.high < other.low || arrow.low > other.high),
    );
    if (lane < 0) lane = lanes.push([]) - 1;
    lanes[lane]!.push(arrow);
    arrow.lane = lane;
  }

  const taken: Rect[] = [...boxes];
  const arrows: Arrow[] = [];
  const draw = (arrow: Pending, path: string, labelBox: Rect) => {
    taken.push(labelBox);
    arrows[arrow.order] = {
      id: arrow.id,
      from: stages[arrow.from]!.name,
      to: boxes[arrow.to]!.name,
      path,
      label: arrow.label,
      text: clipLabel(arrow.label),
      labelX: labelBox.x,
      labelY: labelBox.y + LABEL.baseline,
      labelBox,
    };
  };
  for (const arrow of straight) {
    const y1 = boxes[arrow.from]!.y + BOX.height;
    const y2 = boxes[arrow.to]!.y - 4;
    const width = labelWidth(clipLabel(arrow.label));
    const top = (y1 + y2) / 2 - LABEL.height / 2;
    draw(
      arrow,
      `M${centre},${y1} L${centre},${y2}`,
      freePlace(centre + 10, top, top, width, taken),
    );
  }
  let far = right;
  for (const arrow of byLength) {
    const from = boxes[arrow.from]!;
    const to = boxes[arrow.to]!;
    const out = right + 14 + (arrow.lane + 1) * LANE;
    // A loop to the same stage leaves from its upper part and comes back lower.
    const self = arrow.from === arrow.to;
    const y1 = from.y + from.height * (self ? 0.3 : 0.5);
    const y2 = to.y + to.height * (self ? 0.7 : 0.5);
    const x2 = to.x + to.width + 4;
    // The curve's rightmost point; the label starts just right of it.
    let peak = 0;
    for (let t = 0; t <= 1; t += 1 / 32) {
      peak = Math.max(peak, (1 - t) ** 3 * right + 3 * (1 - t) * t * out + t ** 3 * x2);
    }
    const width = labelWidth(clipLabel(arrow.label));
    const middle = (y1 + y2) / 2 - LABEL.height / 2;
    const half = Math.max(0, (Math.abs(y2 - y1) - LABEL.height) / 2);
    const place = freePlace(Math.ceil(peak) + 6, middle - half, middle + half, width, taken);
    draw(arrow, `M${right},${y1} C${out},${y1} ${out},${y2} ${x2},${y2}`, place);
    far = Math.max(far, out);
  }
  const all = [...taken, { x: far, y: 0, width: 0, height: 0 }];
  return {
    boxes,
    arrows,
    width: Math.ceil(Math.max(...all.map((r) => r.x + r.width))) + 16,
    height: Math.ceil(Math.max(...all.map((r) => r.y + r.height))) + 16,
  };
}
