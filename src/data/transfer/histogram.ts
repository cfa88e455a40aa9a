/**
 * Cumulative histogram matching: each RGB channel of the source is mapped through its CDF and the
 * reference's inverse CDF. `matchHistogram1D` is also the inner step of IDT.
 */
import { clip01 } from './stats.ts';

/**
 * Maps values `a` so that their distribution matches `b`'s: `bins` equal-width bins over the union of
 * both ranges, piecewise-linear CDFs, inverse CDF of `b` by linear interpolation. Returns a new array.
 * Monotone non-decreasing in the input.
 */
export function matchHistogram1D(a: ArrayLike<number>, b: ArrayLike<number>, bins = 256): Float64Array {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < a.length; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i]; }
  for (let i = 0; i < b.length; i++) { if (b[i] < lo) lo = b[i]; if (b[i] > hi) hi = b[i]; }
  const out = new Float64Array(a.length);
  if (!(hi > lo)) { out.fill(lo); return out; }
  const step = (hi - lo) / bins;
  const ha = new Float64Array(bins), hb = new Float64Array(bins);
  const bin = (v: number): number => Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / step)));
  for (let i = 0; i < a.length; i++) ha[bin(a[i])]++;
  for (let i = 0; i < b.length; i++) hb[bin(b[i])]++;
  // CDFs at the bin edges (bins + 1 values, from 0 to 1)
  const ca = new Float64Array(bins + 1), cb = new Float64Array(bins + 1);
  for (let k = 0; k < bins; k++) { ca[k + 1] = ca[k] + ha[k] / a.length; cb[k + 1] = cb[k] + hb[k] / b.length; }
  // edge value of a → value of b with the same CDF (inverse CDF of b, linear inside a bin)
  const map = new Float64Array(bins + 1);
  let j = 0;
  for (let k = 0; k <= bins; k++) {
    const c = ca[k];
    // first non-empty bin of b whose upper CDF reaches c
    while (j < bins - 1 && (cb[j + 1] < c || cb[j + 1] === cb[j])) j++;
    const c0 = cb[j], c1 = cb[j + 1];
    const f = c1 > c0 ? Math.min(1, Math.max(0, (c - c0) / (c1 - c0))) : 0;
    map[k] = lo + (j + f) * step;
  }
  for (let i = 0; i < a.length; i++) {
    const x = (a[i] - lo) / step;
    const k = Math.min(bins - 1, Math.max(0, Math.floor(x)));
    const f = Math.min(1, Math.max(0, x - k));
    out[i] = map[k] + (map[k + 1] - map[k]) * f;
  }
  return out;
}

/** Recolours `src` (n×3 sRGB in [0,1]) by per-channel cumulative histogram matching to `ref`. */
export function histogramTransfer(src: Float32Array, ref: Float32Array, bins = 256): Float32Array {
  const n = src.length / 3, m = ref.length / 3;
  const out = new Float32Array(src.length);
  const a = new Float64Array(n), b = new Float64Array(m);
  for (let k = 0; k < 3; k++) {
    for (let i = 0; i < n; i++) a[i] = src[i * 3 + k];
    for (let i = 0; i < m; i++) b[i] = ref[i * 3 + k];
    const r = matchHistogram1D(a, b, bins);
    for (let i = 0; i < n; i++) out[i * 3 + k] = r[i];
  }
  return clip01(out);
}
