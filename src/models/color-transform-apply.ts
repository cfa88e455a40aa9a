/**
 * The colour transform of the `global` / `pct` generators (color-transform.ts) on plain arrays: θ's
 * layout and the apply at any resolution (the inference path). No TensorFlow.js here, so ONNX Runtime
 * inference (src/models/onnx.ts, the pipeline) runs without it; color-transform.ts re-exports these.
 */
import { HarmoniaError } from '../errors.ts';
import { loadNativeAddon } from '../engine/native/addon.ts';

/** Knots of each per-channel curve. */
export const CURVE_KNOTS = 8;
/** θ layout: 3·K curve log-slopes, 9 affine deltas, 3 offsets, 1 gate logit. */
export const TRANSFORM_PARAMS = 3 * CURVE_KNOTS + 12 + 1;
/** Affine field channels of `pct`: 9 matrix deltas + 3 offsets. */
export const FIELD_CHANNELS = 12;

/** The predicted transform of one image: θ (TRANSFORM_PARAMS values) and, for pct, the affine field. */
export interface ColorTransformParams {
  theta: Float32Array;
  /** pct only: h×w×12 field at the backbone's resolution. */
  field?: { width: number; height: number; data: Float32Array };
}

/** Half-pixel-centre bilinear taps (tf.image.resizeBilinear with halfPixelCenters, upsampling). */
function taps(inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; f: Float32Array } {
  const i0 = new Int32Array(outSize), i1 = new Int32Array(outSize), f = new Float32Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = Math.max(0, (o + 0.5) * scale - 0.5);
    const lo = Math.min(Math.floor(src), inSize - 1);
    i0[o] = lo;
    i1[o] = Math.min(lo + 1, inSize - 1);
    f[o] = src - lo;
  }
  return { i0, i1, f };
}

/** How applyColorTransformArrays runs: 'auto' (the native addon for images of ≥ 64k pixels when it is built and this is Node, else JavaScript), or one of them. */
export type ApplyEngine = 'auto' | 'js' | 'native';

/** Images smaller than this run the JavaScript loop under 'auto' (no addon to load for small images). */
const NATIVE_MIN_PIXELS = 1 << 16;

/** θ's per-image constants in the form both loops use (double precision, as the original loop computed them). */
interface Coefficients {
  /** [slopes 3K (float-rounded), prefix sums 3(K+1), ΔA 9, b 3, gate] */
  coef: Float64Array;
  slope: Float64Array;
  prefix: Float64Array;
  K: number;
}

function coefficients(th: Float32Array): Coefficients {
  const K = CURVE_KNOTS;
  const coef = new Float64Array(3 * K + 3 * (K + 1) + 13);
  const slope = coef.subarray(0, 3 * K), prefix = coef.subarray(3 * K, 3 * K + 3 * (K + 1));
  for (let i = 0; i < 3 * K; i++) slope[i] = Math.fround(Math.exp(Math.min(4, Math.max(-4, th[i]))));
  // prefix[c][j] = the loop's sum over the first j (full) segments: (1/K)·s_0 + … + (1/K)·s_{j−1}, added in order
  for (let c = 0; c < 3; c++) {
    let acc = 0;
    prefix[c * (K + 1)] = 0;
    for (let j = 0; j < K; j++) {
      acc += (1 / K) * slope[c * K + j];
      prefix[c * (K + 1) + j + 1] = acc;
    }
  }
  const rest = coef.subarray(3 * K + 3 * (K + 1));
  for (let i = 0; i < 12; i++) rest[i] = th[3 * K + i];
  rest[12] = 1 / (1 + Math.exp(-th[3 * K + 12]));
  return { coef, slope, prefix, K };
}

/**
 * applyColorTransform on plain arrays, for any resolution (the inference path: no tensors, one pass,
 * one output array). `rgb` is H×W×3 in [0,1], `mask` H×W in [0,1]. Matches the tensor version to
 * float rounding (test/models/color-transform.test.ts); pixels with mask 0 are copied exactly.
 *
 * One pass per pixel in double precision: the curve of a value in segment j is the sum of the first
 * j full segments (precomputed per channel, in the order the term-by-term loop adds them) plus the
 * partial one, which is exactly what the loop over all K segments computes (later segments add 0),
 * so the output is bit-identical to that loop (test/engine/color-apply.test.ts keeps it as the
 * reference). With the native addon (Node, `npm run build:native`), the same arithmetic runs in C++
 * over row bands on every core (compiled without fused multiply-adds): bit-identical as well.
 */
export function applyColorTransformArrays(rgb: Float32Array, mask: Float32Array, width: number, height: number, p: ColorTransformParams, engine: ApplyEngine = 'auto'): Float32Array {
  if (rgb.length !== width * height * 3 || mask.length !== width * height) throw new HarmoniaError(`applyColorTransformArrays: expected ${width}×${height} RGB and mask`);
  if (p.theta.length !== TRANSFORM_PARAMS) throw new HarmoniaError(`applyColorTransformArrays: expected ${TRANSFORM_PARAMS} parameters, got ${p.theta.length}`);
  const field = p.field;
  if (field && (field.data.length !== field.width * field.height * FIELD_CHANNELS || field.width < 1 || field.height < 1)) {
    throw new HarmoniaError(`applyColorTransformArrays: the field must hold ${FIELD_CHANNELS} values per pixel of ${field.width}×${field.height}`);
  }
  const c = coefficients(p.theta);
  const tx = field ? taps(field.width, width) : undefined, ty = field ? taps(field.height, height) : undefined;
  const useNative = engine === 'native' || (engine === 'auto' && width * height >= NATIVE_MIN_PIXELS);
  const addon = useNative ? loadNativeAddon() : undefined;
  if (addon?.ok) {
    const out = new Float32Array(rgb.length); // the addon writes every pixel (the unmasked ones copied)
    const both = (t: { i0: Int32Array; i1: Int32Array }) => { const a = new Int32Array(2 * t.i0.length); a.set(t.i0); a.set(t.i1, t.i0.length); return a; };
    addon.addon.colorApplyImage(rgb, mask, out, Int32Array.from([width, height, c.K, field?.width ?? 0, field?.height ?? 0]), c.coef,
      field ? field.data : null, tx ? both(tx) : null, ty ? both(ty) : null, tx ? tx.f : null, ty ? ty.f : null);
    return out;
  }
  if (engine === 'native') throw new HarmoniaError(`applyColorTransformArrays: the native addon is not available (${addon ? addon.reason : 'not loaded'})`);
  const out = new Float32Array(rgb);
  applyRowsJs(rgb, mask, out, width, 0, height, c, field, tx, ty);
  return out;
}

/** Math.min(1, Math.max(0, t)), the same value in every case (NaN stays NaN, −0 becomes +0). */
function clip01(t: number): number {
  return t !== t ? t : t > 1 ? 1 : t <= 0 ? 0 : t;
}

/** The JavaScript loop over rows [y0, y1) (what the C++ kernel does, operation for operation). */
function applyRowsJs(rgb: Float32Array, mask: Float32Array, out: Float32Array, width: number, y0: number, y1: number, cf: Coefficients,
  field: ColorTransformParams['field'], tx: ReturnType<typeof taps> | undefined, ty: ReturnType<typeof taps> | undefined): void {
  const { K, slope, prefix, coef } = cf;
  const base = 3 * K + 3 * (K + 1);
  const a0 = coef[base], a1 = coef[base + 1], a2 = coef[base + 2], a3 = coef[base + 3], a4 = coef[base + 4], a5 = coef[base + 5];
  const a6 = coef[base + 6], a7 = coef[base + 7], a8 = coef[base + 8], b0 = coef[base + 9], b1 = coef[base + 10], b2 = coef[base + 11];
  const gate = coef[base + 12];
  const invK = 1 / K, K1 = K + 1;
  const fv = new Float32Array(FIELD_CHANNELS);
  const curve = (x: number, c: number): number => {
    if (x >= 0 && x <= 1e30) {
      let j = Math.floor(x * K);
      if (j > K - 1) j = K - 1;
      const d = x - j / K; // ≥ 0 exactly (+0 on a knot): Math.min(Math.max(d, 0), 1/K) is this
      return prefix[c * K1 + j] + (d < invK ? d : invK) * slope[c * K + j];
    }
    let acc = 0; // negative, NaN or huge: the plain loop
    for (let k = 0; k < K; k++) acc += Math.min(Math.max(x - k / K, 0), invK) * slope[c * K + k];
    return acc;
  };
  for (let py = y0; py < y1; py++) {
    for (let px = 0; px < width; px++) {
      const pi = py * width + px;
      const m = mask[pi];
      if (!(m > 0)) continue;
      const o = pi * 3;
      const x0 = rgb[o], x1 = rgb[o + 1], x2 = rgb[o + 2];
      const y0c = curve(x0, 0), y1c = curve(x1, 1), y2c = curve(x2, 2);
      let v0 = y0c + a0 * y0c + a1 * y1c + a2 * y2c + b0;
      let v1 = y1c + a3 * y0c + a4 * y1c + a5 * y2c + b1;
      let v2 = y2c + a6 * y0c + a7 * y1c + a8 * y2c + b2;
      if (field && tx && ty) {
        const fx0 = tx.i0[px], fx1 = tx.i1[px], fx = tx.f[px], fy0 = ty.i0[py], fy1 = ty.i1[py], fy = ty.f[py];
        const fw = field.width, d = field.data;
        for (let k = 0; k < FIELD_CHANNELS; k++) {
          const a00 = d[(fy0 * fw + fx0) * FIELD_CHANNELS + k], a01 = d[(fy0 * fw + fx1) * FIELD_CHANNELS + k];
          const a10 = d[(fy1 * fw + fx0) * FIELD_CHANNELS + k], a11 = d[(fy1 * fw + fx1) * FIELD_CHANNELS + k];
          const top = a00 + (a01 - a00) * fx, bot = a10 + (a11 - a10) * fx;
          fv[k] = top + (bot - top) * fy;
        }
        v0 += fv[0] * y0c + fv[1] * y1c + fv[2] * y2c + fv[9];
        v1 += fv[3] * y0c + fv[4] * y1c + fv[5] * y2c + fv[10];
        v2 += fv[6] * y0c + fv[7] * y1c + fv[8] * y2c + fv[11];
      }
      out[o] = x0 + m * (clip01(x0 + gate * (v0 - x0)) - x0);
      out[o + 1] = x1 + m * (clip01(x1 + gate * (v1 - x1)) - x1);
      out[o + 2] = x2 + m * (clip01(x2 + gate * (v2 - x2)) - x2);
    }
  }
}
