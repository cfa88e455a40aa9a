/**
 * The colour transform of the `global` / `pct` generators (color-transform.ts) on plain arrays: θ's
 * layout and the apply at any resolution (the inference path). No TensorFlow.js here, so ONNX Runtime
 * inference (src/models/onnx.ts, the pipeline) runs without it; color-transform.ts re-exports these.
 */
import { HarmoniaError } from '../errors.ts';

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

/**
 * applyColorTransform on plain arrays, for any resolution (the inference path: no tensors, one pass,
 * one output array). `rgb` is H×W×3 in [0,1], `mask` H×W in [0,1]. Matches the tensor version to
 * float rounding (test/models/color-transform.test.ts); pixels with mask 0 are copied exactly.
 */
export function applyColorTransformArrays(rgb: Float32Array, mask: Float32Array, width: number, height: number, p: ColorTransformParams): Float32Array {
  if (rgb.length !== width * height * 3 || mask.length !== width * height) throw new HarmoniaError(`applyColorTransformArrays: expected ${width}×${height} RGB and mask`);
  if (p.theta.length !== TRANSFORM_PARAMS) throw new HarmoniaError(`applyColorTransformArrays: expected ${TRANSFORM_PARAMS} parameters, got ${p.theta.length}`);
  const K = CURVE_KNOTS, th = p.theta;
  const slope = new Float32Array(3 * K);
  for (let i = 0; i < 3 * K; i++) slope[i] = Math.fround(Math.exp(Math.min(4, Math.max(-4, th[i]))));
  const A = th.subarray(3 * K, 3 * K + 9), b = th.subarray(3 * K + 9, 3 * K + 12);
  const gate = 1 / (1 + Math.exp(-th[3 * K + 12]));
  const out = new Float32Array(rgb);
  const field = p.field;
  const tx = field ? taps(field.width, width) : undefined, ty = field ? taps(field.height, height) : undefined;
  const fv = new Float32Array(FIELD_CHANNELS);
  const y = [0, 0, 0];
  for (let py = 0; py < height; py++) {
    for (let px = 0; px < width; px++) {
      const pi = py * width + px;
      const m = mask[pi];
      if (!(m > 0)) continue;
      const o = pi * 3;
      for (let c = 0; c < 3; c++) {
        const x = rgb[o + c];
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const seg = Math.min(Math.max(x - k / K, 0), 1 / K);
          acc += seg * slope[c * K + k];
        }
        y[c] = acc;
      }
      if (field && tx && ty) {
        const x0 = tx.i0[px], x1 = tx.i1[px], fx = tx.f[px], y0 = ty.i0[py], y1 = ty.i1[py], fy = ty.f[py];
        const fw = field.width, d = field.data;
        for (let k = 0; k < FIELD_CHANNELS; k++) {
          const a00 = d[(y0 * fw + x0) * FIELD_CHANNELS + k], a01 = d[(y0 * fw + x1) * FIELD_CHANNELS + k];
          const a10 = d[(y1 * fw + x0) * FIELD_CHANNELS + k], a11 = d[(y1 * fw + x1) * FIELD_CHANNELS + k];
          const top = a00 + (a01 - a00) * fx, bot = a10 + (a11 - a10) * fx;
          fv[k] = top + (bot - top) * fy;
        }
      }
      for (let c = 0; c < 3; c++) {
        let v = y[c] + A[c * 3] * y[0] + A[c * 3 + 1] * y[1] + A[c * 3 + 2] * y[2] + b[c];
        if (field) v += fv[c * 3] * y[0] + fv[c * 3 + 1] * y[1] + fv[c * 3 + 2] * y[2] + fv[9 + c];
        const x = rgb[o + c];
        const moved = Math.min(1, Math.max(0, x + gate * (v - x)));
        out[o + c] = x + m * (moved - x);
      }
    }
  }
  return out;
}
