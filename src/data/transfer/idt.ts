/**
 * Iterative distribution transfer (Pitié, Kokaram & Dahyot 2005/2007) with regraining.
 *
 * IDT: repeat `iterations` times: draw a random 3-D rotation, project source and reference colours on
 * the three rotated axes, match each 1-D marginal with cumulative histogram matching, and move the
 * source by the rotated-back difference. The source's full 3-D colour distribution converges to the
 * reference's.
 *
 * Regraining (Pitié 2007 §5): IDT can stretch the colour distribution and amplify grain/JPEG noise. The
 * regrained image J keeps the gradients of the original image I and the colours of the transferred
 * image T by minimising, per channel, Σ_p ψ (J_p − T_p)² + Σ_{p~q} φ_p ((J_p − J_q) − (I_p − I_q))² with
 * φ_p = 30 / (1 + 10 |∇I|_p), |∇I| in units of 16 grey levels (strong gradient fidelity in flat regions, weak
 * across edges) and ψ = 1,
 * over the masked pixels only (4-neighbours, Neumann boundary at the mask edge), by Jacobi iterations
 * started from T.
 */
import type { Rng } from '../../util/random.ts';
import type { FloatImage, Mask } from '../../image/types.ts';
import { HarmoniaError } from '../../errors.ts';
import { matchHistogram1D } from './histogram.ts';
import { randomRotation, clip01 } from './stats.ts';

/** IDT on n×3 colour sets; returns the moved source colours, clipped to [0,1]. */
export function idtTransfer(src: Float32Array, ref: Float32Array, rng: Rng, opts: { iterations?: number; bins?: number } = {}): Float32Array {
  const iterations = opts.iterations ?? 12;
  const bins = opts.bins ?? 300;
  const n = src.length / 3, m = ref.length / 3;
  const x = Float64Array.from(src);
  const pa = new Float64Array(n), pb = new Float64Array(m);
  const delta = new Float64Array(n * 3);
  for (let it = 0; it < iterations; it++) {
    const R = randomRotation(rng);
    delta.fill(0);
    for (let k = 0; k < 3; k++) {
      const r0 = R[k * 3], r1 = R[k * 3 + 1], r2 = R[k * 3 + 2];
      for (let i = 0; i < n; i++) pa[i] = r0 * x[i * 3] + r1 * x[i * 3 + 1] + r2 * x[i * 3 + 2];
      for (let i = 0; i < m; i++) pb[i] = r0 * ref[i * 3] + r1 * ref[i * 3 + 1] + r2 * ref[i * 3 + 2];
      const matched = matchHistogram1D(pa, pb, bins);
      // accumulate Rᵀ (matched − projected): row k of R is the k-th axis
      for (let i = 0; i < n; i++) {
        const d = matched[i] - pa[i];
        delta[i * 3] += r0 * d; delta[i * 3 + 1] += r1 * d; delta[i * 3 + 2] += r2 * d;
      }
    }
    for (let i = 0; i < x.length; i++) x[i] += delta[i];
  }
  return clip01(Float32Array.from(x));
}

/**
 * Regrains `transferred` against `original` inside `mask` (> 0.5); pixels outside the mask are copied
 * from `transferred`. Both images are sRGB RGB in [0,1] of the same size. Returns a new clipped image.
 */
export function regrain(original: FloatImage, transferred: FloatImage, mask: Mask, opts: { iterations?: number } = {}): FloatImage {
  const { width: W, height: H } = original;
  if (transferred.width !== W || transferred.height !== H || mask.width !== W || mask.height !== H || original.channels !== 3 || transferred.channels !== 3) {
    throw new HarmoniaError('regrain: original, transferred and mask must be RGB images / a mask of the same size');
  }
  const iterations = opts.iterations ?? 40;
  const out = new Float32Array(transferred.data);
  let x0 = W, y0 = H, x1 = -1, y1 = -1;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    if (mask.data[y * W + x] > 0.5) { if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y; }
  }
  if (x1 < 0) return { width: W, height: H, channels: 3, data: out };
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1, bn = bw * bh;
  const inside = new Uint8Array(bn);
  const phi = new Float32Array(bn);
  for (let y = 0; y < bh; y++) for (let x = 0; x < bw; x++) {
    const gi = (y + y0) * W + (x + x0);
    inside[y * bw + x] = mask.data[gi] > 0.5 ? 1 : 0;
    // gradient magnitude of the original's mean intensity (central differences, clamped at the border)
    const at = (xx: number, yy: number): number => {
      const j = (Math.min(H - 1, Math.max(0, yy)) * W + Math.min(W - 1, Math.max(0, xx))) * 3;
      return (original.data[j] + original.data[j + 1] + original.data[j + 2]) / 3;
    };
    const gx = (at(x + x0 + 1, y + y0) - at(x + x0 - 1, y + y0)) / 2;
    const gy = (at(x + x0, y + y0 + 1) - at(x + x0, y + y0 - 1)) / 2;
    phi[y * bw + x] = 30 / (1 + 10 * Math.hypot(gx, gy) * 255 / 16);
  }
  const J = new Float64Array(bn), Jn = new Float64Array(bn), T = new Float64Array(bn), I = new Float64Array(bn);
  const nb = [[1, 0], [-1, 0], [0, 1], [0, -1]];
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < bh; y++) for (let x = 0; x < bw; x++) {
      const gi = ((y + y0) * W + (x + x0)) * 3 + c;
      T[y * bw + x] = transferred.data[gi];
      I[y * bw + x] = original.data[gi];
    }
    J.set(T);
    for (let it = 0; it < iterations; it++) {
      for (let y = 0; y < bh; y++) for (let x = 0; x < bw; x++) {
        const p = y * bw + x;
        if (!inside[p]) { Jn[p] = J[p]; continue; }
        let num = T[p], den = 1;
        for (const [dx, dy] of nb) {
          const xx = x + dx, yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= bw || yy >= bh) continue;
          const q = yy * bw + xx;
          if (!inside[q]) continue;
          const w = (phi[p] + phi[q]) / 2;
          num += w * (J[q] + I[p] - I[q]);
          den += w;
        }
        Jn[p] = num / den;
      }
      J.set(Jn);
    }
    for (let y = 0; y < bh; y++) for (let x = 0; x < bw; x++) {
      const p = y * bw + x;
      if (!inside[p]) continue;
      const v = J[p];
      out[((y + y0) * W + (x + x0)) * 3 + c] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return { width: W, height: H, channels: 3, data: out };
}
