// A small per-minute chart in SVG (no chart library): one bar per minute,
// scaled to the largest, with the total and the peak in words for screen
// readers and on hover, and its first and last minute under it (dated when
// not today, as on a moved engine clock).
import { count, localTime } from './format.js';

export function Spark({
  label,
  values,
  from,
  kind = 'normal',
}: {
  label: string;
  values: number[];
  /** The first minute, ISO. */
  from: string;
  kind?: 'normal' | 'bad';
}) {
  const width = 240;
  const height = 48;
  const max = Math.max(1, ...values);
  const step = width / Math.max(1, values.length);
  const total = values.reduce((sum, n) => sum + n, 0);
  const start = new Date(from);
  const summary = `${label}: ${count(total)} in the last hour, at most ${count(Math.max(0, ...values))} a minute`;
  return (
    <figure className={`spark spark-${kind}`} data-testid={`spark-${label}`}>
      <figcaption>
        {label} <span className="muted small">{count(total)} / h</span>
      </figcaption>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={summary}
        preserveAspectRatio="none"
      >
        <title>{summary}</title>
        <line x1="0" x2={width} y1={height - 0.5} y2={height - 0.5} className="axis" />
        {values.map((n, i) => {
          const h = n === 0 ? 0 : Math.max(1.5, (n / max) * (height - 2));
          const minute = new Date(start.getTime() + i * 60_000);
          return (
            <rect
              key={minute.getTime()}
              x={i * step + 0.5}
              y={height - h}
              width={Math.max(1, step - 1)}
              height={h}
            >
              <title>{`${minuteLabel(minute)}: ${count(n)}`}</title>
            </rect>
          );
        })}
      </svg>
      <div className="spark-axis muted small" aria-hidden="true">
        <span>{minuteLabel(start)}</span>
        <span>{minuteLabel(new Date(start.getTime() + (values.length - 1) * 60_000))}</span>
      </div>
    </figure>
  );
}

/** "14:03" today, "9 Dec, 14:03" another day (the locale's order). */
const minuteLabel = (at: Date): string => localTime(at, new Date(), undefined, { seconds: false });
