// The stage diagram of a feature, drawn from its compiled state machine as
// SVG (layout in diagram-layout.ts, which also places the labels so none
// overlaps another or a box): each stage with its actions, its guard and the
// journeys now in it; arrows labelled with what moves a journey on.
import type { StageView } from '../../src/client/index.js';
import { layout } from './diagram-layout.js';
import { count } from './format.js';

const clip = (text: string, max: number) =>
  text.length > max ? `${text.slice(0, max - 1)}…` : text;

export function Diagram(props: {
  initial: string;
  stages: StageView[];
  counts: Record<string, number>;
}) {
  const { boxes, arrows, width, height } = layout(props.stages);
  const byName = new Map(props.stages.map((stage) => [stage.name, stage]));
  return (
    <figure className="diagram">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width={width}
        role="img"
        aria-label="Stages and transitions"
      >
        <defs>
          <marker
            id="arrow"
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M0,0 L10,5 L0,10 z" className="arrowhead" />
          </marker>
        </defs>
        {arrows.map((arrow) => (
          <g key={arrow.id} className="edge">
            <path d={arrow.path} markerEnd="url(#arrow)" />
            <text x={arrow.labelX} y={arrow.labelY}>
              <title>{arrow.label}</title>
              {arrow.text}
            </text>
          </g>
        ))}
        {boxes.map((box) => {
          const stage = byName.get(box.name);
          if (box.kind === 'end' || !stage) {
            return (
              <g key="end" className="node end">
                <rect
                  x={box.x}
                  y={box.y}
                  width={box.width}
                  height={box.height}
                  rx={box.height / 2}
                />
                <text x={box.x + box.width / 2} y={box.y + 18} textAnchor="middle">
                  end
                </text>
              </g>
            );
          }
          const now = props.counts[stage.name] ?? 0;
          return (
            <g
              key={box.name}
              className={`node${stage.name === props.initial ? ' initial' : ''}`}
              data-stage={stage.name}
            >
              <rect x={box.x} y={box.y} width={box.width} height={box.height} rx={8} />
              <text x={box.x + 10} y={box.y + 20} className="name">
                {clip(stage.name, 24)}
              </text>
              <text x={box.x + box.width - 10} y={box.y + 20} textAnchor="end" className="count">
                {count(now)} now
              </text>
              <text x={box.x + 10} y={box.y + 38} className="detail">
                {clip(stage.actions.length ? `do: ${stage.actions.join(', ')}` : 'no actions', 38)}
              </text>
              {stage.guard && (
                <text x={box.x + 10} y={box.y + 53} className="detail">
                  <title>{`only if ${stage.guard}`}</title>
                  {clip(`if ${stage.guard}`, 38)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
