/**
 * Colour spaces. Pure per-value functions plus whole-image helpers (new images, inputs untouched).
 *
 * - sRGB ↔ linear, two curves: the piecewise IEC 61966-2-1 sRGB curve (`srgbToLinear`), and the pure
 *   2.2 power law the Intrinsic Compositing code uses everywhere (`gammaToLinear`, see
 *   docs intrinsic-compositing.md §1). Which one a caller needs is part of its spec: do not mix them.
 * - RGB ↔ Lαβ (Reinhard, Ashikhmin, Gooch & Shirley 2001): linear RGB → LMS → log10 → decorrelated lαβ.
 * - RGB ↔ HSV (hue in [0,1), saturation and value in [0,1]).
 * - Luminance (Rec. 709 weights, for linear RGB) and brightness (0.3/0.59/0.11, the intrinsic code's
 *   `get_brightness`).
 */
import { HarmoniaError } from '../errors.ts';
import type { FloatImage } from './types.ts';

export type LinearCurve = 'srgb' | 'gamma22';

/** Piecewise sRGB decode (IEC 61966-2-1): encoded [0,1] → linear [0,1]. Negative inputs map to 0. */
export function srgbToLinear(v: number): number {
  if (v <= 0) return 0;
  return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
}

/** Piecewise sRGB encode: linear → encoded. Values above 1 are encoded with the same curve (not clipped). */
export function linearToSrgb(v: number): number {
  if (v <= 0) return 0;
  return v <= 0.0031308 ? v * 12.92 : 1.055 * Math.pow(v, 1 / 2.4) - 0.055;
}

/** Pure power-law decode `v^gamma` (default 2.2, the Intrinsic Compositing convention). */
export function gammaToLinear(v: number, gamma = 2.2): number {
  return v <= 0 ? 0 : Math.pow(v, gamma);
}

/** Pure power-law encode `v^(1/gamma)`. */
export function linearToGamma(v: number, gamma = 2.2): number {
  return v <= 0 ? 0 : Math.pow(v, 1 / gamma);
}

function mapImage(img: FloatImage, f: (v: number) => number, keepAlpha: boolean): FloatImage {
  const out = new Float32Array(img.data.length);
  const c = img.channels;
  const alpha = keepAlpha && (c === 2 || c === 4);
  for (let i = 0; i < out.length; i++) {
    out[i] = alpha && i % c === c - 1 ? img.data[i] : f(img.data[i]);
  }
  return { width: img.width, height: img.height, channels: c, data: out };
}

/** Decodes an sRGB-encoded image to linear light with the chosen curve (alpha, if any, is kept as is). */
export function imageToLinear(img: FloatImage, curve: LinearCurve = 'srgb'): FloatImage {
  return mapImage(img, curve === 'srgb' ? srgbToLinear : (v) => gammaToLinear(v), true);
}

/** Encodes a linear image with the chosen curve; values are clipped to [0,1] first. */
export function imageFromLinear(img: FloatImage, curve: LinearCurve = 'srgb'): FloatImage {
  const enc = curve === 'srgb' ? linearToSrgb : (v: number) => linearToGamma(v);
  return mapImage(img, (v) => enc(v >= 1 ? 1 : v), true);
}

// ---------------------------------------------------------------------------------------------
// Lαβ (Reinhard et al. 2001). Input is LINEAR RGB.
// ---------------------------------------------------------------------------------------------

/** RGB → LMS cone response (Reinhard 2001, eq. 4 combined with the XYZ→LMS step). */
export const RGB_TO_LMS: readonly number[] = [
  0.3811, 0.5783, 0.0402,
  0.1967, 0.7244, 0.0782,
  0.0241, 0.1288, 0.8444,
];
/**
 * LMS → RGB: the exact inverse of RGB_TO_LMS (Reinhard's printed 4-digit eq. 9 matrix is only an
 * approximate inverse, off by up to 0.004 on a round trip; the exact one makes transfer lossless).
 */
export const LMS_TO_RGB: readonly number[] = invert3(RGB_TO_LMS);

/** Inverse of a row-major 3×3 matrix. */
export function invert3(m: readonly number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (Math.abs(det) < 1e-300) throw new HarmoniaError('invert3: singular matrix');
  return [
    A / det, -(b * i - c * h) / det, (b * f - c * e) / det,
    B / det, (a * i - c * g) / det, -(a * f - c * d) / det,
    C / det, -(a * h - b * g) / det, (a * e - b * d) / det,
  ];
}
/** Floor applied before log10 so black pixels stay finite. */
export const LAB_EPS = 1e-4;

const S3 = Math.sqrt(3);
const S6 = Math.sqrt(6);
const S2 = Math.sqrt(2);

/** One linear RGB triple → [l, α, β]. */
export function linearRgbToLalphabeta(r: number, g: number, b: number, out: number[] | Float32Array = [0, 0, 0]): number[] | Float32Array {
  const m = RGB_TO_LMS;
  const L = Math.log10(Math.max(LAB_EPS, m[0] * r + m[1] * g + m[2] * b));
  const M = Math.log10(Math.max(LAB_EPS, m[3] * r + m[4] * g + m[5] * b));
  const S = Math.log10(Math.max(LAB_EPS, m[6] * r + m[7] * g + m[8] * b));
  out[0] = (L + M + S) / S3;
  out[1] = (L + M - 2 * S) / S6;
  out[2] = (L - M) / S2;
  return out;
}

/** One [l, α, β] triple → linear RGB (not clipped). */
export function lalphabetaToLinearRgb(l: number, a: number, bb: number, out: number[] | Float32Array = [0, 0, 0]): number[] | Float32Array {
  const L = Math.pow(10, l / S3 + a / S6 + bb / S2);
  const M = Math.pow(10, l / S3 + a / S6 - bb / S2);
  const S = Math.pow(10, l / S3 - (2 * a) / S6);
  const m = LMS_TO_RGB;
  out[0] = m[0] * L + m[1] * M + m[2] * S;
  out[1] = m[3] * L + m[4] * M + m[5] * S;
  out[2] = m[6] * L + m[7] * M + m[8] * S;
  return out;
}

function assertRgb(img: FloatImage, fn: string): void {
  if (img.channels !== 3) throw new HarmoniaError(`${fn}: needs a 3-channel RGB image, got ${img.channels} channels`);
}

/** sRGB-encoded image → Lαβ image (3 channels: l, α, β). The curve chooses the linearisation. */
export function rgbToLalphabeta(img: FloatImage, curve: LinearCurve = 'srgb'): FloatImage {
  assertRgb(img, 'rgbToLalphabeta');
  const dec = curve === 'srgb' ? srgbToLinear : (v: number) => gammaToLinear(v);
  const out = new Float32Array(img.data.length);
  const t = new Float32Array(3);
  for (let i = 0; i < out.length; i += 3) {
    linearRgbToLalphabeta(dec(img.data[i]), dec(img.data[i + 1]), dec(img.data[i + 2]), t);
    out[i] = t[0]; out[i + 1] = t[1]; out[i + 2] = t[2];
  }
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/** Lαβ image → sRGB-encoded image, clipped to [0,1]. */
export function lalphabetaToRgb(img: FloatImage, curve: LinearCurve = 'srgb'): FloatImage {
  assertRgb(img, 'lalphabetaToRgb');
  const enc = curve === 'srgb' ? linearToSrgb : (v: number) => linearToGamma(v);
  const out = new Float32Array(img.data.length);
  const t = new Float32Array(3);
  for (let i = 0; i < out.length; i += 3) {
    lalphabetaToLinearRgb(img.data[i], img.data[i + 1], img.data[i + 2], t);
    for (let k = 0; k < 3; k++) out[i + k] = enc(Math.min(1, Math.max(0, t[k])));
  }
  return { width: img.width, height: img.height, channels: 3, data: out };
}

// ---------------------------------------------------------------------------------------------
// HSV
// ---------------------------------------------------------------------------------------------

/** RGB in [0,1] → [h, s, v]; h in [0,1) (fraction of a turn), s and v in [0,1]. Gray has h = 0, s = 0. */
export function rgbToHsv(r: number, g: number, b: number, out: number[] | Float32Array = [0, 0, 0]): number[] | Float32Array {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const d = max - min;
  let h = 0;
  if (d > 0) {
    if (max === r) h = ((g - b) / d) % 6;
    else if (max === g) h = (b - r) / d + 2;
    else h = (r - g) / d + 4;
    h /= 6;
    if (h < 0) h += 1;
  }
  out[0] = h;
  out[1] = max > 0 ? d / max : 0;
  out[2] = max;
  return out;
}

/** [h, s, v] → RGB; h wraps (any real number), s and v in [0,1]. */
export function hsvToRgb(h: number, s: number, v: number, out: number[] | Float32Array = [0, 0, 0]): number[] | Float32Array {
  const hh = ((h % 1) + 1) % 1 * 6;
  const i = Math.floor(hh);
  const f = hh - i;
  const p = v * (1 - s);
  const q = v * (1 - s * f);
  const t = v * (1 - s * (1 - f));
  let r: number, g: number, b: number;
  switch (i % 6) {
    case 0: r = v; g = t; b = p; break;
    case 1: r = q; g = v; b = p; break;
    case 2: r = p; g = v; b = t; break;
    case 3: r = p; g = q; b = v; break;
    case 4: r = t; g = p; b = v; break;
    default: r = v; g = p; b = q; break;
  }
  out[0] = r; out[1] = g; out[2] = b;
  return out;
}

/** Applies a per-pixel 3-channel conversion `(a, b, c, out) => out` to a whole RGB image. */
function mapPixels3(img: FloatImage, what: string, convert: (a: number, b: number, c: number, out: Float32Array) => unknown): FloatImage {
  assertRgb(img, what);
  const out = new Float32Array(img.data.length);
  const t = new Float32Array(3);
  for (let i = 0; i < out.length; i += 3) {
    convert(img.data[i], img.data[i + 1], img.data[i + 2], t);
    out[i] = t[0]; out[i + 1] = t[1]; out[i + 2] = t[2];
  }
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/** Whole-image RGB → HSV. */
export function imageRgbToHsv(img: FloatImage): FloatImage {
  return mapPixels3(img, 'imageRgbToHsv', rgbToHsv);
}

/** Whole-image HSV → RGB. */
export function imageHsvToRgb(img: FloatImage): FloatImage {
  return mapPixels3(img, 'imageHsvToRgb', hsvToRgb);
}

// ---------------------------------------------------------------------------------------------
// Luminance
// ---------------------------------------------------------------------------------------------

/** Rec. 709 / sRGB relative luminance weights (apply to LINEAR RGB). */
export const REC709: readonly [number, number, number] = [0.2126, 0.7152, 0.0722];
/** The intrinsic code's brightness weights (`get_brightness`): 0.3 R + 0.59 G + 0.11 B. */
export const BRIGHTNESS: readonly [number, number, number] = [0.3, 0.59, 0.11];

/** Weighted sum of the colour channels as a 1-channel image (default Rec. 709 weights). */
export function luminance(img: FloatImage, weights: readonly [number, number, number] = REC709): FloatImage {
  if (img.channels < 3) throw new HarmoniaError(`luminance: needs an RGB(A) image, got ${img.channels} channel(s)`);
  const c = img.channels;
  const n = img.width * img.height;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = weights[0] * img.data[i * c] + weights[1] * img.data[i * c + 1] + weights[2] * img.data[i * c + 2];
  }
  return { width: img.width, height: img.height, channels: 1, data: out };
}
