/**
 * @module web/bar-chart
 * A stacked bar chart drawn as SVG by React (no chart library, nothing from another origin,
 * no inline style: colours come from CSS classes). Accessible: the drawing is one `img` with
 * a label summarising it, a legend in text, and the same figures as a table in a disclosure
 * for screen readers and anyone who prefers numbers.
 */
import { useId } from 'react';

export interface Series {
  key: string;
  label: string;
  /** CSS class that colours the bars and the legend swatch. */
  className: string;
}

export interface BarChartProps {
  title: string;
  /** One sentence: what the chart shows, for the `img` label. */
  summary: string;
  series: readonly Series[];
  /** One entry per bar: its label (a date) and a value per series key. */
  rows: readonly { label: string; values: Readonly<Record<string, number>> }[];
}

const WIDTH = 720;
const HEIGHT = 220;
const PAD = { top: 12, right: 8, bottom: 28, left: 40 };

/** A round axis top at or above `max` (1, 2, 5 × 10^n). */
export function niceMax(max: number): number {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

function shortDate(iso: string): string {
  return iso.slice(5).replace('-', '/');
}

export function BarChart({ title, summary, series, rows }: BarChartProps) {
  const titleId = useId();
  const totals = rows.map((r) => series.reduce((n, s) => n + (r.values[s.key] ?? 0), 0));
  // Counts: at least 0–2, so small numbers get whole-number ticks.
  const top = niceMax(Math.max(2, ...totals));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, rows.length);
  const barW = Math.max(2, slot * 0.7);
  const y = (v: number) => PAD.top + plotH - (v / top) * plotH;
  const labelEvery = Math.ceil(rows.length / 10);
  const ticks = [0, top / 2, top];
  return (
    <figure className="chart" aria-labelledby={titleId}>
      <figcaption id={titleId} className="chart-title">
        {title}
      </figcaption>
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`${title}. ${summary}`}
        className="chart-svg"
      >
        <title>{`${title}. ${summary}`}</title>
        {ticks.map((t) => (
          <g key={t} aria-hidden="true">
            <line className="chart-grid" x1={PAD.left} x2={WIDTH - PAD.right} y1={y(t)} y2={y(t)} />
            <text className="chart-axis" x={PAD.left - 6} y={y(t) + 4} textAnchor="end">
              {Number.isInteger(t) ? t : t.toFixed(1)}
            </text>
          </g>
        ))}
        {rows.map((r, i) => {
          let base = 0;
          const x = PAD.left + i * slot + (slot - barW) / 2;
          return (
            <g key={r.label} aria-hidden="true">
              {series.map((s) => {
                const v = r.values[s.key] ?? 0;
                if (v <= 0) return null;
                const y0 = y(base);
                base += v;
                const y1 = y(base);
                return (
                  <rect
                    key={s.key}
                    className={s.className}
                    x={x}
                    y={y1}
                    width={barW}
                    height={Math.max(0, y0 - y1)}
                  />
                );
              })}
              {i % labelEvery === 0 && (
                <text className="chart-axis" x={x + barW / 2} y={HEIGHT - 8} textAnchor="middle">
                  {shortDate(r.label)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <ul className="legend" aria-label={`${title}: legend`}>
        {series.map((s) => (
          <li key={s.key}>
            <span className={`swatch ${s.className}`} aria-hidden="true" />
            {s.label}
          </li>
        ))}
      </ul>
      <details className="chart-data">
        <summary>{title}: the figures as a table</summary>
        <div className="table-scroll" role="region" aria-label={`${title}: figures`} tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th scope="col">Day</th>
                {series.map((s) => (
                  <th scope="col" key={s.key}>
                    {s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.label}>
                  <th scope="row">{r.label}</th>
                  {series.map((s) => (
                    <td key={s.key}>{r.values[s.key] ?? 0}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
