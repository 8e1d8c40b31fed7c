// Quality against compression ratio as a hand-written SVG: two panels sharing a log2 x axis
// (ratio vs fp16), top-1 agreement on the left, KL divergence (log10) on the right.
import type { MethodSummary } from "./summarize.js";

const PANEL_W = 420;
const PANEL_H = 320;
const MARGIN = { left: 64, right: 16, top: 36, bottom: 48 };
const KIND_COLOR = { codec: "#1f77b4", policy: "#ff7f0e" } as const;

interface Axis {
  min: number;
  max: number;
  ticks: number[];
  label: (v: number) => string;
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** An axis covering [lo, hi] and every value, with ticks every `step` (doubled until at most 8). */
function axisFor(values: number[], lo: number, hi: number, step: number, label: (v: number) => string): Axis {
  const min = Math.floor(Math.min(lo, ...values) / step) * step;
  const max = Math.ceil(Math.max(hi, ...values) / step) * step;
  let s = step;
  while ((max - min) / s > 8) s *= 2;
  const ticks: number[] = [];
  for (let v = min; v <= max + 1e-9; v += s) ticks.push(v);
  return { min, max: Math.max(max, min + step), ticks, label };
}

function panel(ms: MethodSummary[], x0: number, title: string, yOf: (m: MethodSummary) => number, y: Axis, x: Axis): string {
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  const h = PANEL_H - MARGIN.top - MARGIN.bottom;
  const px = (v: number): number => x0 + MARGIN.left + ((v - x.min) / (x.max - x.min)) * w;
  const py = (v: number): number => MARGIN.top + h - ((v - y.min) / (y.max - y.min)) * h;
  const out: string[] = [];
  out.push(`<text x="${x0 + PANEL_W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  out.push(`<rect x="${x0 + MARGIN.left}" y="${MARGIN.top}" width="${w}" height="${h}" fill="none" stroke="#888"/>`);
  for (const t of x.ticks) {
    out.push(`<line x1="${px(t)}" y1="${MARGIN.top + h}" x2="${px(t)}" y2="${MARGIN.top + h + 4}" stroke="#888"/>`);
    out.push(`<text x="${px(t)}" y="${MARGIN.top + h + 16}" text-anchor="middle" font-size="11">${esc(x.label(t))}</text>`);
  }
  for (const t of y.ticks) {
    out.push(`<line x1="${x0 + MARGIN.left - 4}" y1="${py(t)}" x2="${x0 + MARGIN.left + w}" y2="${py(t)}" stroke="#eee"/>`);
    out.push(`<text x="${x0 + MARGIN.left - 6}" y="${py(t) + 4}" text-anchor="end" font-size="11">${esc(y.label(t))}</text>`);
  }
  out.push(
    `<text x="${x0 + MARGIN.left + w / 2}" y="${PANEL_H - 8}" text-anchor="middle" font-size="12">compression ratio vs fp16 (log2)</text>`,
  );
  for (const m of ms) {
    const cx = px(Math.log2(m.ratio_vs_fp16));
    const cy = py(Math.min(y.max, Math.max(y.min, yOf(m))));
    out.push(`<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="4" fill="${KIND_COLOR[m.kind]}"><title>${esc(m.id)}</title></circle>`);
    out.push(`<text x="${(cx + 6).toFixed(1)}" y="${(cy - 5).toFixed(1)}" font-size="10">${esc(m.id)}</text>`);
  }
  return out.join("\n");
}

/** Render the plot for the given method summaries. */
export function renderSvg(methods: readonly MethodSummary[]): string {
  const ms = methods.filter((m) => Number.isFinite(m.ratio_vs_fp16) && m.ratio_vs_fp16 > 0);
  const x = axisFor(
    ms.map((m) => Math.log2(m.ratio_vs_fp16)),
    0,
    3,
    1,
    (v) => `${2 ** v}x`,
  );
  const top1 = (m: MethodSummary): number => 100 * m.top1;
  const yTop = axisFor(ms.map(top1), 80, 100, 5, (v) => `${v}%`);
  const logKl = (m: MethodSummary): number => Math.log10(Math.max(m.kl, 1e-7));
  const yKl = axisFor(ms.map(logKl), -6, -1, 1, (v) => `1e${v}`);
  const width = 2 * PANEL_W;
  const legend = Object.entries(KIND_COLOR)
    .map(
      ([kind, color], i) =>
        `<circle cx="${width - 150 + i * 70}" cy="${PANEL_H + 12}" r="4" fill="${color}"/><text x="${width - 142 + i * 70}" y="${PANEL_H + 16}" font-size="11">${kind}</text>`,
    )
    .join("\n");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${PANEL_H + 24}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    panel(ms, 0, "top-1 agreement vs uncompressed", top1, yTop, x),
    panel(ms, PANEL_W, "next-token KL divergence (log10)", logKl, yKl, x),
    legend,
    "</svg>",
    "",
  ].join("\n");
}
