/**
 * A small PNG line-plot renderer (no dependencies): lines are rasterised into a FloatImage with a
 * built-in 5×7 bitmap font for titles, tick labels and the legend, then saved with writeImage.
 * Used for loss curves.
 */
import { HarmoniaError } from '../errors.ts';
import { createImage } from '../image/types.ts';
import type { FloatImage } from '../image/types.ts';
import { writeImage } from '../image/io.ts';

export type Rgb = readonly [number, number, number];

export interface PlotSeries {
  name: string;
  /** [x, y] points; non-finite values are skipped (the line breaks there). */
  points: ReadonlyArray<readonly [number, number]>;
  color?: Rgb;
}

export interface PlotOptions {
  width?: number;
  height?: number;
  title?: string;
  xLabel?: string;
  /** Logarithmic y axis (falls back to linear when a value is ≤ 0). */
  logY?: boolean;
  /** Moving-average window (points) applied before drawing; 1 = raw. */
  smooth?: number;
}

export const PALETTE: readonly Rgb[] = [
  [0.12, 0.47, 0.71], [1.0, 0.5, 0.05], [0.17, 0.63, 0.17], [0.84, 0.15, 0.16],
  [0.58, 0.4, 0.74], [0.55, 0.34, 0.29], [0.89, 0.47, 0.76], [0.5, 0.5, 0.5],
];

// 5×7 glyphs, column-major: 5 bytes per glyph, bit 0 = top row.
const GLYPHS: Record<string, number[]> = {
  '0': [0x3e, 0x51, 0x49, 0x45, 0x3e], '1': [0x00, 0x42, 0x7f, 0x40, 0x00], '2': [0x42, 0x61, 0x51, 0x49, 0x46],
  '3': [0x21, 0x41, 0x45, 0x4b, 0x31], '4': [0x18, 0x14, 0x12, 0x7f, 0x10], '5': [0x27, 0x45, 0x45, 0x45, 0x39],
  '6': [0x3c, 0x4a, 0x49, 0x49, 0x30], '7': [0x01, 0x71, 0x09, 0x05, 0x03], '8': [0x36, 0x49, 0x49, 0x49, 0x36],
  '9': [0x06, 0x49, 0x49, 0x29, 0x1e], A: [0x7e, 0x11, 0x11, 0x11, 0x7e], B: [0x7f, 0x49, 0x49, 0x49, 0x36],
  C: [0x3e, 0x41, 0x41, 0x41, 0x22], D: [0x7f, 0x41, 0x41, 0x22, 0x1c], E: [0x7f, 0x49, 0x49, 0x49, 0x41],
  F: [0x7f, 0x09, 0x09, 0x09, 0x01], G: [0x3e, 0x41, 0x49, 0x49, 0x7a], H: [0x7f, 0x08, 0x08, 0x08, 0x7f],
  I: [0x00, 0x41, 0x7f, 0x41, 0x00], J: [0x20, 0x40, 0x41, 0x3f, 0x01], K: [0x7f, 0x08, 0x14, 0x22, 0x41],
  L: [0x7f, 0x40, 0x40, 0x40, 0x40], M: [0x7f, 0x02, 0x1c, 0x02, 0x7f], N: [0x7f, 0x04, 0x08, 0x10, 0x7f],
  O: [0x3e, 0x41, 0x41, 0x41, 0x3e], P: [0x7f, 0x09, 0x09, 0x09, 0x06], Q: [0x3e, 0x41, 0x51, 0x21, 0x5e],
  R: [0x7f, 0x09, 0x19, 0x29, 0x46], S: [0x26, 0x49, 0x49, 0x49, 0x32], T: [0x03, 0x01, 0x7f, 0x01, 0x03],
  U: [0x3f, 0x40, 0x40, 0x40, 0x3f], V: [0x1f, 0x20, 0x40, 0x20, 0x1f], W: [0x3f, 0x40, 0x38, 0x40, 0x3f],
  X: [0x63, 0x14, 0x08, 0x14, 0x63], Y: [0x03, 0x04, 0x78, 0x04, 0x03], Z: [0x61, 0x59, 0x49, 0x4d, 0x43],
  '.': [0x00, 0x60, 0x60, 0x00, 0x00], '-': [0x08, 0x08, 0x08, 0x08, 0x08], _: [0x40, 0x40, 0x40, 0x40, 0x40],
  ':': [0x00, 0x36, 0x36, 0x00, 0x00], '/': [0x20, 0x10, 0x08, 0x04, 0x02], '(': [0x00, 0x1c, 0x22, 0x41, 0x00],
  ')': [0x00, 0x41, 0x22, 0x1c, 0x00], '+': [0x08, 0x08, 0x3e, 0x08, 0x08], '=': [0x14, 0x14, 0x14, 0x14, 0x14],
  ',': [0x00, 0x50, 0x30, 0x00, 0x00], '%': [0x23, 0x13, 0x08, 0x64, 0x62], ' ': [0, 0, 0, 0, 0],
  '?': [0x02, 0x01, 0x51, 0x09, 0x06], '*': [0x14, 0x08, 0x3e, 0x08, 0x14],
};

/** Width in pixels of `text` at `scale` (6 px per character incl. spacing). */
export function textWidth(text: string, scale = 1): number {
  return text.length * 6 * scale;
}

/** A mutable RGB canvas over a FloatImage. */
export class Canvas {
  readonly img: FloatImage;
  constructor(readonly width: number, readonly height: number, background: Rgb = [1, 1, 1]) {
    this.img = createImage(width, height, 3);
    const d = this.img.data;
    for (let i = 0; i < width * height; i++) { d[i * 3] = background[0]; d[i * 3 + 1] = background[1]; d[i * 3 + 2] = background[2]; }
  }
  /** Blends `c` into pixel (x, y) with coverage `a`. */
  blend(x: number, y: number, c: Rgb, a = 1): void {
    x = Math.round(x); y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || !(a > 0)) return;
    const i = (y * this.width + x) * 3, d = this.img.data;
    const k = Math.min(1, a);
    d[i] += (c[0] - d[i]) * k; d[i + 1] += (c[1] - d[i + 1]) * k; d[i + 2] += (c[2] - d[i + 2]) * k;
  }
  rect(x0: number, y0: number, w: number, h: number, c: Rgb): void {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) this.blend(x, y, c);
  }
  /** An anti-aliased line (Xiaolin Wu), `thickness` 1 or 2 px. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
    const steep = Math.abs(y1 - y0) > Math.abs(x1 - x0);
    if (steep) { [x0, y0] = [y0, x0]; [x1, y1] = [y1, x1]; }
    if (x0 > x1) { [x0, x1] = [x1, x0]; [y0, y1] = [y1, y0]; }
    const dx = x1 - x0, dy = y1 - y0;
    const grad = dx === 0 ? 1 : dy / dx;
    const plot = (x: number, y: number, a: number) => {
      for (let t = 0; t < thickness; t++) {
        if (steep) this.blend(y + t, x, c, a); else this.blend(x, y + t, c, a);
      }
    };
    const xs = Math.round(x0), xe = Math.round(x1);
    let y = y0 + grad * (xs - x0);
    for (let x = xs; x <= xe; x++) {
      const fy = Math.floor(y), frac = y - fy;
      plot(x, fy, 1 - frac);
      plot(x, fy + 1, frac);
      y += grad;
    }
  }
  /** Draws text (upper-cased; unknown characters become '?') with its top-left at (x, y). */
  text(x: number, y: number, s: string, c: Rgb = [0, 0, 0], scale = 1): void {
    let cx = x;
    for (const ch of s.toUpperCase()) {
      const g = GLYPHS[ch] ?? GLYPHS['?'];
      for (let col = 0; col < 5; col++) {
        for (let row = 0; row < 7; row++) {
          if (g[col] & (1 << row)) this.rect(cx + col * scale, y + row * scale, scale, scale, c);
        }
      }
      cx += 6 * scale;
    }
  }
}

/** "Nice" tick values covering [lo, hi] (about `count` of them). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

export function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e5 || a < 1e-3) return v.toExponential(0).replace('+', '');
  return String(Number(v.toPrecision(3)));
}

/** Moving average over a centred window of `w` points (w ≤ 1: unchanged). */
export function movingAverage(points: ReadonlyArray<readonly [number, number]>, w: number): Array<[number, number]> {
  if (w <= 1) return points.map(([x, y]) => [x, y]);
  const half = Math.floor(w / 2);
  return points.map(([x], i) => {
    let s = 0, n = 0;
    for (let j = Math.max(0, i - half); j <= Math.min(points.length - 1, i + half); j++) {
      if (Number.isFinite(points[j][1])) { s += points[j][1]; n++; }
    }
    return [x, n ? s / n : NaN];
  });
}

/** Renders the series as a line plot with axes, ticks, title and legend. */
export function renderLinePlot(series: readonly PlotSeries[], opts: PlotOptions = {}): FloatImage {
  const width = opts.width ?? 640, height = opts.height ?? 360;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 160 || height < 100) {
    throw new HarmoniaError(`renderLinePlot: width and height must be integers ≥ 160×100, got ${width}×${height}`);
  }
  const cv = new Canvas(width, height);
  const data = series.map((s) => movingAverage(s.points, opts.smooth ?? 1));
  const finite = data.flat().filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const logY = Boolean(opts.logY) && finite.length > 0 && finite.every(([, y]) => y > 0);
  const ty = (y: number) => (logY ? Math.log10(y) : y);
  let xmin = Math.min(...finite.map((p) => p[0])), xmax = Math.max(...finite.map((p) => p[0]));
  let ymin = Math.min(...finite.map((p) => ty(p[1]))), ymax = Math.max(...finite.map((p) => ty(p[1])));
  if (!finite.length) { xmin = 0; xmax = 1; ymin = 0; ymax = 1; }
  if (xmax === xmin) { xmin -= 0.5; xmax += 0.5; }
  if (ymax === ymin) { ymin -= 0.5; ymax += 0.5; }
  const pad = (ymax - ymin) * 0.05; ymin -= pad; ymax += pad;
  const left = 58, right = 12, top = opts.title ? 22 : 10, bottom = opts.xLabel ? 34 : 22;
  const pw = width - left - right, ph = height - top - bottom;
  const px = (x: number) => left + ((x - xmin) / (xmax - xmin)) * pw;
  const py = (y: number) => top + ph - ((ty(y) - ymin) / (ymax - ymin)) * ph;
  const grid: Rgb = [0.9, 0.9, 0.9], axis: Rgb = [0.2, 0.2, 0.2];
  // y ticks (in transformed space for log axes: powers of ten and their multiples)
  const yTicks = niceTicks(ymin, ymax, 5);
  for (const t of yTicks) {
    const y = top + ph - ((t - ymin) / (ymax - ymin)) * ph;
    cv.line(left, y, left + pw, y, grid);
    const label = formatTick(logY ? Math.pow(10, t) : t);
    cv.text(left - 4 - textWidth(label), Math.round(y) - 3, label, axis);
  }
  for (const t of niceTicks(xmin, xmax, 6)) {
    const x = px(t);
    cv.line(x, top, x, top + ph, grid);
    const label = formatTick(t);
    cv.text(Math.round(x - textWidth(label) / 2), top + ph + 5, label, axis);
  }
  cv.line(left, top, left, top + ph, axis);
  cv.line(left, top + ph, left + pw, top + ph, axis);
  if (opts.title) cv.text(Math.round(left + pw / 2 - textWidth(opts.title) / 2), 6, opts.title, [0, 0, 0]);
  if (opts.xLabel) cv.text(Math.round(left + pw / 2 - textWidth(opts.xLabel) / 2), height - 11, opts.xLabel, axis);
  data.forEach((pts, k) => {
    const c = series[k].color ?? PALETTE[k % PALETTE.length];
    let prev: [number, number] | undefined;
    for (const [x, y] of pts) {
      if (!Number.isFinite(x) || !Number.isFinite(y) || (logY && y <= 0)) { prev = undefined; continue; }
      const p: [number, number] = [px(x), py(y)];
      if (prev) cv.line(prev[0], prev[1], p[0], p[1], c, 2);
      else cv.blend(p[0], p[1], c);
      prev = p;
    }
  });
  // legend, top right
  let ly = top + 4;
  const lw = Math.max(0, ...series.map((s) => textWidth(s.name))) + 22;
  for (let k = 0; k < series.length; k++) {
    const c = series[k].color ?? PALETTE[k % PALETTE.length];
    const lx = left + pw - lw - 4;
    cv.rect(lx, ly + 2, 12, 3, c);
    cv.text(lx + 16, ly, series[k].name, axis);
    ly += 10;
  }
  return cv.img;
}

/** Stacks images vertically (same width), white-padded. */
export function stackVertical(images: readonly FloatImage[]): FloatImage {
  const width = Math.max(...images.map((i) => i.width));
  const height = images.reduce((a, i) => a + i.height, 0);
  const out = new Canvas(width, height);
  let y0 = 0;
  for (const im of images) {
    for (let y = 0; y < im.height; y++) {
      for (let x = 0; x < im.width; x++) {
        const s = (y * im.width + x) * im.channels, d = ((y0 + y) * width + x) * 3;
        for (let c = 0; c < 3; c++) out.img.data[d + c] = im.data[s + Math.min(c, im.channels - 1)];
      }
    }
    y0 += im.height;
  }
  return out.img;
}

/** Renders and writes a line plot PNG atomically. */
export async function writeLinePlot(path: string, series: readonly PlotSeries[], opts: PlotOptions = {}): Promise<void> {
  await writeImage(path, renderLinePlot(series, opts), { mkdir: true });
}
