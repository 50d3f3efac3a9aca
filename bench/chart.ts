/**
 * @module bench/chart
 * A horizontal bar chart as hand-written SVG (no dependency): one bar per row with its label on
 * the left and its value at the bar's end, on a log scale (decades, for per-call costs that
 * span three orders of magnitude) or a linear one (for ratios), optional vertical marker lines
 * (e.g. an acceptance limit), a colour per group and a legend.
 */

export interface Bar {
  label: string;
  value: number;
  group: string;
  /** Text after the bar (default: the value). */
  text?: string;
}

export interface ChartSpec {
  title: string;
  subtitle: string[];
  /** Axis caption, e.g. "µs per getpid call (log scale)". */
  axis: string;
  scale: 'log' | 'linear';
  bars: Bar[];
  groups: { id: string; label: string; color: string }[];
  markers?: { value: number; label: string }[];
  /** Blank space before the bar at this index (visual grouping). */
  gapsBefore?: number[];
  /** Room right of the plot for the value texts (default 110 px). */
  valueWidth?: number;
  /** Total width (default 980 px). */
  width?: number;
}

const LABEL_W = 370;
const ROW_H = 24;
const BAR_H = 16;
const GAP_H = 12;
const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function tickLabel(v: number): string {
  return v >= 1 ? String(v) : v.toPrecision(1).replace(/^0\./, '0.');
}

export function barChartSvg(spec: ChartSpec): string {
  const W = spec.width ?? 980;
  const vals = spec.bars.map((b) => b.value).filter((v) => Number.isFinite(v) && v > 0);
  const top = 28 + 18 * spec.subtitle.length + 16;
  const plotX = LABEL_W;
  const plotW = W - LABEL_W - (spec.valueWidth ?? 110);
  let lo: number;
  let hi: number;
  const ticks: number[] = [];
  if (spec.scale === 'log') {
    lo = 10 ** Math.floor(Math.log10(Math.min(...vals, ...(spec.markers ?? []).map((m) => m.value))));
    hi = 10 ** Math.ceil(Math.log10(Math.max(...vals, ...(spec.markers ?? []).map((m) => m.value))));
    if (hi <= lo) hi = lo * 10;
    for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(Number(t.toPrecision(1)));
  } else {
    lo = 0;
    const max = Math.max(...vals, ...(spec.markers ?? []).map((m) => m.value));
    const step = max <= 2 ? 0.25 : max <= 5 ? 0.5 : max <= 10 ? 1 : 10 ** Math.floor(Math.log10(max / 2));
    hi = Math.ceil((max * 1.05) / step) * step;
    for (let t = 0; t <= hi + 1e-9; t += step) ticks.push(Number(t.toFixed(4)));
  }
  const x = (v: number): number => {
    const f = spec.scale === 'log' ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : v / hi;
    return plotX + Math.max(0, Math.min(1, f)) * plotW;
  };

  const gaps = new Set(spec.gapsBefore ?? []);
  const ys: number[] = [];
  let y = top + 10;
  spec.bars.forEach((_, i) => {
    if (gaps.has(i)) y += GAP_H;
    ys.push(y);
    y += ROW_H;
  });
  const plotBottom = y + 4;
  const height = plotBottom + 34 + 26;
  const color = new Map(spec.groups.map((g) => [g.id, g.color]));

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="${FONT}" font-size="13">`);
  out.push(`<rect width="${W}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="16" y="26" font-size="17" font-weight="bold" fill="#111">${esc(spec.title)}</text>`);
  spec.subtitle.forEach((s, i) => out.push(`<text x="16" y="${46 + 18 * i}" font-size="12" fill="#555">${esc(s)}</text>`));

  // Grid and ticks.
  for (const t of ticks) {
    const tx = x(t).toFixed(1);
    out.push(`<line x1="${tx}" y1="${top}" x2="${tx}" y2="${plotBottom}" stroke="#e2e2e2"/>`);
    out.push(`<text x="${tx}" y="${plotBottom + 16}" font-size="11" fill="#444" text-anchor="middle">${tickLabel(t)}</text>`);
  }
  out.push(`<line x1="${plotX}" y1="${top}" x2="${plotX}" y2="${plotBottom}" stroke="#888"/>`);
  out.push(`<text x="${plotX + plotW / 2}" y="${plotBottom + 32}" font-size="12" fill="#333" text-anchor="middle">${esc(spec.axis)}</text>`);

  // Markers behind the bars; value texts get a white halo where they cross a line.
  for (const m of spec.markers ?? []) {
    const mx = x(m.value).toFixed(1);
    out.push(`<line x1="${mx}" y1="${top}" x2="${mx}" y2="${plotBottom}" stroke="#c0392b" stroke-dasharray="5,4" stroke-width="1.5"/>`);
    out.push(`<text x="${mx}" y="${top - 4}" font-size="11" fill="#c0392b" text-anchor="middle">${esc(m.label)}</text>`);
  }

  const halo = 'paint-order="stroke" stroke="#ffffff" stroke-width="3" stroke-linejoin="round"';
  spec.bars.forEach((b, i) => {
    const by = ys[i]!;
    const cy = by + ROW_H / 2;
    out.push(`<text x="${plotX - 8}" y="${cy + 4}" text-anchor="end" fill="#222">${esc(b.label)}</text>`);
    if (Number.isFinite(b.value) && b.value > 0) {
      const x1 = x(b.value);
      out.push(`<rect x="${plotX}" y="${(cy - BAR_H / 2).toFixed(1)}" width="${Math.max(1, x1 - plotX).toFixed(1)}" height="${BAR_H}" fill="${color.get(b.group) ?? '#888'}"/>`);
      out.push(`<text x="${(x1 + 5).toFixed(1)}" y="${cy + 4}" fill="#222" ${halo}>${esc(b.text ?? String(b.value))}</text>`);
    } else {
      out.push(`<text x="${plotX + 5}" y="${cy + 4}" fill="#888" font-style="italic">${esc(b.text ?? 'n/a')}</text>`);
    }
  });

  // Legend.
  let lx = 16;
  const ly = height - 14;
  for (const g of spec.groups) {
    if (!spec.bars.some((b) => b.group === g.id)) continue;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${g.color}"/>`);
    out.push(`<text x="${lx + 17}" y="${ly}" font-size="12" fill="#333">${esc(g.label)}</text>`);
    lx += 17 + 7.2 * g.label.length + 22;
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
