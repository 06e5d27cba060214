// Where the stage diagram puts its boxes and arrows: stages top to bottom in
// the order written, then an "end" box; an arrow to the next box goes
// straight down, any other (a skip, a loop back, an early end) curves on the
// right, each a little further out so they do not overlap. Pure, tested in
// test/web/diagram-layout.test.ts.
import type { StageView } from '../../src/client/index.js';

export const BOX = { x: 16, width: 260, height: 60, gap: 44 } as const;

export interface Box {
  name: string;
  kind: 'stage' | 'end';
  y: number;
}

export interface Arrow {
  from: string;
  to: string;
  /** SVG path from the source box to the target box. */
  path: string;
  label: string;
  labelX: number;
  labelY: number;
}

export function transitionLabel(t: StageView['transitions'][number]): string {
  const parts: string[] = [];
  if (t.after) parts.push(`after ${t.after}`);
  if (t.when) parts.push(`when ${t.when}`);
  if (t.until) parts.push(`until ${t.until}`);
  if (t.within) parts.push(`within ${t.within}`);
  return parts.join(', ') || 'then';
}

export function layout(stages: StageView[]): {
  boxes: Box[];
  arrows: Arrow[];
  width: number;
  height: number;
} {
  const step = BOX.height + BOX.gap;
  const boxes: Box[] = stages.map((stage, i) => ({
    name: stage.name,
    kind: 'stage',
    y: 12 + i * step,
  }));
  const endY = 12 + stages.length * step;
  boxes.push({ name: 'end', kind: 'end', y: endY });
  const index = new Map(boxes.map((box, i) => [box.kind === 'end' ? '\u0000end' : box.name, i]));
  const arrows: Arrow[] = [];
  let lane = 0;
  stages.forEach((stage, i) => {
    const transitions = stage.transitions.length
      ? stage.transitions
      : [{ to: null, when: null, after: null, until: null, within: null }];
    for (const t of transitions) {
      const j = index.get(t.to === null ? '\u0000end' : t.to) ?? boxes.length - 1;
      const from = boxes[i]!;
      const to = boxes[j]!;
      const label = stage.transitions.length ? transitionLabel(t) : 'done';
      const centre = BOX.x + BOX.width / 2;
      if (j === i + 1) {
        const y1 = from.y + BOX.height;
        const y2 = to.y - 4;
        arrows.push({
          from: stage.name,
          to: to.name,
          path: `M${centre},${y1} L${centre},${y2}`,
          label,
          labelX: centre + 10,
          labelY: (y1 + y2) / 2 + 4,
        });
        continue;
      }
      lane++;
      const right = BOX.x + BOX.width;
      const out = right + 14 + lane * 16;
      const y1 = from.y + BOX.height / 2;
      const y2 = to.y + BOX.height / 2;
      arrows.push({
        from: stage.name,
        to: to.name,
        path: `M${right},${y1} C${out},${y1} ${out},${y2} ${right + 4},${y2}`,
        label,
        labelX: out + 4,
        labelY: (y1 + y2) / 2 + 4,
      });
    }
  });
  return {
    boxes,
    arrows,
    width: BOX.x + BOX.width + 40 + lane * 16 + 230,
    height: endY + BOX.height / 2 + 16,
  };
}
