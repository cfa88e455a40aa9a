/**
 * Reinhard et al. 2001 colour transfer: in Lαβ (computed from linear RGB, piecewise sRGB decode),
 * each channel is shifted and scaled to the reference's mean and standard deviation.
 */
import { linearRgbToLalphabeta, lalphabetaToLinearRgb, srgbToLinear, linearToSrgb } from '../../image/color.ts';
import { mean3, std3, clip01 } from './stats.ts';

function toLab(px: Float32Array): Float32Array {
  const out = new Float32Array(px.length);
  const t = new Float32Array(3);
  for (let i = 0; i < px.length; i += 3) {
    linearRgbToLalphabeta(srgbToLinear(px[i]), srgbToLinear(px[i + 1]), srgbToLinear(px[i + 2]), t);
    out[i] = t[0]; out[i + 1] = t[1]; out[i + 2] = t[2];
  }
  return out;
}

/** Recolours `src` (n×3 sRGB in [0,1]) to the Lαβ mean/std of `ref`; returns a new clipped array. */
export function reinhardTransfer(src: Float32Array, ref: Float32Array): Float32Array {
  const a = toLab(src), b = toLab(ref);
  const ma = mean3(a), mb = mean3(b);
  const sa = std3(a, ma), sb = std3(b, mb);
  const scale = [0, 1, 2].map((k) => (sa[k] > 1e-6 ? sb[k] / sa[k] : 1));
  const out = new Float32Array(src.length);
  const t = new Float32Array(3);
  for (let i = 0; i < a.length; i += 3) {
    lalphabetaToLinearRgb(
      (a[i] - ma[0]) * scale[0] + mb[0],
      (a[i + 1] - ma[1]) * scale[1] + mb[1],
      (a[i + 2] - ma[2]) * scale[2] + mb[2],
      t,
    );
    for (let k = 0; k < 3; k++) out[i + k] = linearToSrgb(Math.min(1, Math.max(0, t[k])));
  }
  return clip01(out);
}
