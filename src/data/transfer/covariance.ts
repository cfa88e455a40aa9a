/**
 * Global colour transfer in correlated RGB (Xiao & Ma 2006): match the mean and the full 3×3
 * covariance of the reference. The linear map is the Monge–Kantorovich solution (Pitié & Kokaram
 * 2007), T = Σs^-½ (Σs^½ Σr Σs^½)^½ Σs^-½, which maps N(μs, Σs) exactly onto N(μr, Σr) with the least
 * displacement. Works on the sRGB-encoded values, as the HFlickr construction did.
 */
import { mean3, cov3, symFn3, matMul3, clip01, type Mat3 } from './stats.ts';

/** Regularisation added to both covariances' diagonals (keeps flat objects well-posed). */
export const COV_EPS = 1e-5;

/** The Monge–Kantorovich linear map between two covariances. */
export function mongeKantorovich(covSrc: Mat3, covRef: Mat3): Mat3 {
  const s = covSrc.slice(), r = covRef.slice();
  for (const k of [0, 4, 8]) { s[k] += COV_EPS; r[k] += COV_EPS; }
  const sHalf = symFn3(s, Math.sqrt);
  const sInvHalf = symFn3(s, (x) => 1 / Math.sqrt(x));
  const mid = symFn3(matMul3(matMul3(sHalf, r), sHalf), Math.sqrt);
  return matMul3(matMul3(sInvHalf, mid), sInvHalf);
}

/** Recolours `src` (n×3 sRGB in [0,1]) to the mean and covariance of `ref`; returns a new clipped array. */
export function covarianceTransfer(src: Float32Array, ref: Float32Array): Float32Array {
  const ms = mean3(src), mr = mean3(ref);
  const T = mongeKantorovich(cov3(src, ms), cov3(ref, mr));
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i += 3) {
    const d0 = src[i] - ms[0], d1 = src[i + 1] - ms[1], d2 = src[i + 2] - ms[2];
    for (let k = 0; k < 3; k++) out[i + k] = T[k * 3] * d0 + T[k * 3 + 1] * d1 + T[k * 3 + 2] * d2 + mr[k];
  }
  return clip01(out);
}
