/**
 * Relit composites (issue 24): the real foreground of a photo re-shaded under another light; the untouched
 * photo is the ground truth. They measure the one thing a colour transform cannot fix: a lighting mismatch
 * (direction, colour, shadows).
 *
 * INDEPENDENT of the intrinsic stage (src/intrinsic/*: nothing is imported from there, and the layers forbid
 * it), so that the benchmark does not measure the stage against its own model:
 * - geometry: a height field from a multi-scale box-blurred hard mask (a "pillow": flat inside, rounded over
 *   4–25 % of the object's size at the silhouette, continuing smoothly outside it) plus fine relief from the
 *   high-pass of the log-luminance (bright detail raised); normals from its gradient. The stage inflates the
 *   silhouette with a circular profile of an exact distance transform instead.
 * - shading: RGB. A key light with soft cast shadows marched through the height field, whose colour varies
 *   linearly across the object, a weaker unshadowed fill light of another colour, and a hemispherical ambient
 *   term (sky colour from above, ground colour from below). The stage's model is grayscale, one directional
 *   light plus a constant, no shadows.
 * - the change: ratio re-lighting in linear RGB, I' = I · S_new / S_neutral, with S_neutral the same model
 *   under NEUTRAL_RELIGHT (white frontal light, white ambient: what the photo is assumed to be lit by), scaled
 *   so that the foreground's median luminance ratio is `exposure`, each channel's ratio clipped to [1/5, 5].
 *   Linear = sRGB^2.2 (the project's pure power law).
 * Pixels with mask 0 are copied bit-exactly; 0 < mask < 1 blends the relit and the real pixel.
 *
 * makeRelitComposites writes such composites from a real-image source (src/data/sources.ts) in the iHarmony4
 * layout, atomically (src/data/atomic-subset.ts), deterministic in (seed, real, mask, variant, attempt).
 */
import { promises as fsp } from 'node:fs';
import { join, extname } from 'node:path';
import { HarmoniaError } from '../errors.ts';
import { Rng } from '../util/random.ts';
import { writeFileAtomic, removeStaleTempFiles, TEMP_FILE_PATTERN } from '../util/atomic.ts';
import { readImage, readMask, writeImage, probeImage } from '../image/io.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { illuminantColor } from './procedural.ts';
import { foregroundMse255, DEFAULT_MIN_FMSE, DEFAULT_MAX_FMSE } from './composites.ts';
import { readRealSource, limitPhotosPerSplit, type RealEntry } from './sources.ts';
import { compositeFileName, maskFileName, type Split } from './iharmony4.ts';
import { buildSubsetAtomically, pruneFolder } from './atomic-subset.ts';

type Vec3 = [number, number, number];

export interface RelightLight {
  /** Unit vector toward the light: x right, y up, z toward the camera. */
  direction: Vec3;
  intensity: number;
  /** Linear RGB, max channel 1. */
  color: Vec3;
}

export interface RelightParams {
  /** Key light: shadowed; its colour goes from `color` to `colorFar` along `colorAxis` across the foreground. */
  key: RelightLight & { colorFar: Vec3; /** Shadow penumbra as a fraction of the object's size (√area). */ softness: number };
  /** Fill light: unshadowed. */
  fill: RelightLight;
  /** Hemispherical ambient: `sky` for normals pointing up, `ground` for normals pointing down. */
  ambient: { intensity: number; sky: Vec3; ground: Vec3 };
  /** Image-plane unit vector (x right, y down) along which the key colour varies. */
  colorAxis: [number, number];
  /** Median luminance ratio of the foreground after re-lighting. */
  exposure: number;
}

/** The light the photo is assumed to be lit by: white, frontal, no variation. Re-lighting under it is the identity. */
export const NEUTRAL_RELIGHT: RelightParams = Object.freeze({
  key: { direction: [0, 0, 1] as Vec3, intensity: 0.65, color: [1, 1, 1] as Vec3, colorFar: [1, 1, 1] as Vec3, softness: 0.05 },
  fill: { direction: [0, 0, 1] as Vec3, intensity: 0, color: [1, 1, 1] as Vec3 },
  ambient: { intensity: 0.35, sky: [1, 1, 1] as Vec3, ground: [1, 1, 1] as Vec3 },
  colorAxis: [1, 0] as [number, number],
  exposure: 1,
}) as RelightParams;

export interface GeometryOptions {
  /** Blur scales as fractions of the object's size √area (default 0.04, 0.1, 0.25). */
  scales?: readonly number[];
  /** Their weights (default 0.2, 0.35, 0.45). */
  weights?: readonly number[];
  /** Height of the plateau as a fraction of the object's size (default 0.35). */
  relief?: number;
  /** Height (px per unit of log-luminance high-pass, at most ±1) of the luminance detail (default 1.5). */
  detail?: number;
}

/** Ratio clip: no channel is scaled by more than 5× or less than 1/5. */
export const RELIGHT_MAX_GAIN = 5;

function checkMask(img: FloatImage, mask: Mask, what: string): void {
  if (img.channels !== 3) throw new HarmoniaError(`${what}: the image must be RGB (3 channels), got ${img.channels}`);
  if (mask.width !== img.width || mask.height !== img.height) {
    throw new HarmoniaError(`${what}: the mask is ${mask.width}×${mask.height} but the image is ${img.width}×${img.height}`);
  }
}

function unit(v: readonly number[], what: string): Vec3 {
  const l = Math.hypot(v[0], v[1], v[2]);
  if (!(l > 0)) throw new HarmoniaError(`${what}: a light direction must be a non-zero vector, got [${v.join(', ')}]`);
  return [v[0] / l, v[1] / l, v[2] / l];
}

/** One box-filter pass of radius r along rows (horizontal) or columns, edges clamped. */
function boxPass(src: Float32Array, dst: Float32Array, W: number, H: number, r: number, horizontal: boolean): void {
  const len = horizontal ? W : H;
  const lines = horizontal ? H : W;
  const step = horizontal ? 1 : W;
  const inv = 1 / (2 * r + 1);
  for (let l = 0; l < lines; l++) {
    const base = horizontal ? l * W : l;
    let s = 0;
    for (let k = -r; k <= r; k++) s += src[base + Math.min(len - 1, Math.max(0, k)) * step];
    for (let i = 0; i < len; i++) {
      dst[base + i * step] = s * inv;
      s += src[base + Math.min(len - 1, i + r + 1) * step] - src[base + Math.max(0, i - r) * step];
    }
  }
}

/** Approximate Gaussian blur (three box passes each way, edges clamped) of a W×H field; sigma in pixels. */
export function blurField(data: Float32Array, W: number, H: number, sigma: number): Float32Array {
  const out = new Float32Array(data);
  if (!(sigma >= 0.5)) return out;
  const r = Math.max(1, Math.round((Math.sqrt(4 * sigma * sigma + 1) - 1) / 2));
  const tmp = new Float32Array(data.length);
  for (let p = 0; p < 3; p++) {
    boxPass(out, tmp, W, H, r, true);
    boxPass(tmp, out, W, H, r, false);
  }
  return out;
}

/** Hard foreground (mask > 0.5) as 0/1, its pixel count and the object's size √count. */
export function hardMask(mask: Mask): { m: Float32Array; count: number; size: number } {
  const m = new Float32Array(mask.data.length);
  let count = 0;
  for (let i = 0; i < m.length; i++) if (mask.data[i] > 0.5) { m[i] = 1; count++; }
  return { m, count, size: Math.sqrt(count) };
}

/** Linear luminance 0.3R + 0.59G + 0.11B of an sRGB-encoded image (power law 2.2). */
function linearLuminance(img: FloatImage): Float32Array {
  const n = img.width * img.height;
  const y = new Float32Array(n);
  const d = img.data;
  for (let i = 0; i < n; i++) {
    y[i] = 0.3 * Math.pow(Math.max(0, d[i * 3]), 2.2) + 0.59 * Math.pow(Math.max(0, d[i * 3 + 1]), 2.2) + 0.11 * Math.pow(Math.max(0, d[i * 3 + 2]), 2.2);
  }
  return y;
}

/**
 * Height field (pixels) of the foreground: relief·size·Σ w_k·blur(hard mask, scale_k·size), plus
 * detail·clip(log Y − blur(log Y), ±1) inside the mask when `image` is given (size = √area).
 */
export function heightField(mask: Mask, image?: FloatImage, opts: GeometryOptions = {}): Float32Array {
  const W = mask.width, H = mask.height;
  const scales = opts.scales ?? [0.05, 0.15, 0.4];
  const weights = opts.weights ?? [0.15, 0.35, 0.5];
  if (scales.length !== weights.length || scales.length === 0) throw new HarmoniaError('heightField: scales and weights must be non-empty lists of the same length');
  const relief = opts.relief ?? 0.8;
  const detail = opts.detail ?? 1.5;
  const { m, count, size } = hardMask(mask);
  const h = new Float32Array(W * H);
  if (count === 0) return h;
  for (let k = 0; k < scales.length; k++) {
    const b = blurField(m, W, H, scales[k] * size);
    const w = weights[k] * relief * size;
    for (let i = 0; i < h.length; i++) h[i] += w * b[i];
  }
  if (image && detail !== 0) {
    if (image.width !== W || image.height !== H) throw new HarmoniaError(`heightField: the image is ${image.width}×${image.height} but the mask is ${W}×${H}`);
    const y = linearLuminance(image);
    const l = new Float32Array(y.length);
    for (let i = 0; i < l.length; i++) l[i] = Math.log(y[i] + 0.01);
    const lb = blurField(l, W, H, Math.max(1, 0.02 * size));
    for (let i = 0; i < h.length; i++) if (m[i] > 0) h[i] += detail * Math.max(-1, Math.min(1, l[i] - lb[i]));
  }
  return h;
}

/** Unit normals (x right, y up, z toward the camera) of a height field: normalize(−∂h/∂x, ∂h/∂row, 1), central differences. */
export function normalsFromHeight(h: Float32Array, W: number, H: number): Float32Array {
  const n = new Float32Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    const y0 = Math.max(0, y - 1), y1 = Math.min(H - 1, y + 1);
    for (let x = 0; x < W; x++) {
      const x0 = Math.max(0, x - 1), x1 = Math.min(W - 1, x + 1);
      const gx = (h[y * W + x1] - h[y * W + x0]) / Math.max(1, x1 - x0);
      const gr = (h[y1 * W + x] - h[y0 * W + x]) / Math.max(1, y1 - y0);
      const l = Math.hypot(gx, gr, 1);
      const i = (y * W + x) * 3;
      n[i] = -gx / l; n[i + 1] = gr / l; n[i + 2] = 1 / l;
    }
  }
  return n;
}

function sampleBilinear(h: Float32Array, W: number, H: number, x: number, y: number): number {
  const x0 = Math.floor(x), y0 = Math.floor(y);
  const fx = x - x0, fy = y - y0;
  const x1 = Math.min(W - 1, x0 + 1), y1 = Math.min(H - 1, y0 + 1);
  const a = h[y0 * W + x0] + (h[y0 * W + x1] - h[y0 * W + x0]) * fx;
  const b = h[y1 * W + x0] + (h[y1 * W + x1] - h[y1 * W + x0]) * fx;
  return a + (b - a) * fy;
}

/**
 * Soft cast-shadow visibility in [0,1] of the light `direction` over the height field, at the pixels where
 * `where` is non-zero (1 elsewhere): the ray toward the light rises by l_z/|l_xy| px per px; the deepest
 * point at which the field is above it (up to `reach` px away) gives vis = smoothstep(1 − depth/penumbra).
 * A light within 0.06 rad of the view axis casts no shadow (vis 1).
 */
export function softShadow(h: Float32Array, W: number, H: number, direction: readonly number[], where: Float32Array, penumbra: number, reach: number): Float32Array {
  const [lx, ly, lz] = unit(direction, 'softShadow');
  const vis = new Float32Array(W * H).fill(1);
  const pl = Math.hypot(lx, ly);
  if (pl < 0.06) return vis;
  if (!(penumbra > 0) || !(reach > 0)) throw new HarmoniaError(`softShadow: penumbra and reach must be > 0, got ${penumbra} and ${reach}`);
  const sx = lx / pl, sy = -ly / pl;
  const rise = lz / pl;
  const stride = Math.max(1, reach / 48);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      if (where[i] === 0) continue;
      const h0 = h[i];
      let occ = 0;
      for (let t = stride; t <= reach; t += stride) {
        const qx = x + sx * t, qy = y + sy * t;
        if (qx < 0 || qy < 0 || qx > W - 1 || qy > H - 1) break;
        const d = sampleBilinear(h, W, H, qx, qy) - (h0 + rise * t);
        if (d > occ) occ = d;
      }
      const v = 1 - Math.min(1, occ / penumbra);
      vis[i] = v * v * (3 - 2 * v);
    }
  }
  return vis;
}

/** The foreground's bounding box centre and its extent along the colour axis. */
function axisFrame(m: Float32Array, W: number, H: number, axis: readonly number[]): { cx: number; cy: number; ax: number; ay: number; ext: number } {
  let x0 = W, x1 = -1, y0 = H, y1 = -1;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (m[y * W + x] > 0) { if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y; }
  const l = Math.hypot(axis[0], axis[1]);
  if (!(l > 0)) throw new HarmoniaError('relight: colorAxis must be a non-zero vector');
  const ax = axis[0] / l, ay = axis[1] / l;
  const ext = Math.max(1, Math.abs(ax) * (x1 - x0 + 1) + Math.abs(ay) * (y1 - y0 + 1));
  return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, ax, ay, ext };
}

/**
 * RGB shading (W·H·3) of the model in the file comment at the pixels where `where` is non-zero (0 elsewhere):
 * ambient·mix(ground, sky, (n_y+1)/2) + key·colour(position)·vis·max(0, n·l_key) + fill·colour·max(0, n·l_fill).
 */
export function relightShading(normals: Float32Array, vis: Float32Array, where: Float32Array, W: number, H: number, p: RelightParams): Float32Array {
  const lk = unit(p.key.direction, 'relight key light');
  const lf = unit(p.fill.direction, 'relight fill light');
  const fr = axisFrame(where, W, H, p.colorAxis);
  const s = new Float32Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      if (where[i] === 0) continue;
      const nx = normals[i * 3], ny = normals[i * 3 + 1], nz = normals[i * 3 + 2];
      const t = Math.max(0, Math.min(1, ((x - fr.cx) * fr.ax + (y - fr.cy) * fr.ay) / fr.ext + 0.5));
      const kd = p.key.intensity * vis[i] * Math.max(0, nx * lk[0] + ny * lk[1] + nz * lk[2]);
      const fd = p.fill.intensity * Math.max(0, nx * lf[0] + ny * lf[1] + nz * lf[2]);
      const hemi = (ny + 1) / 2;
      for (let c = 0; c < 3; c++) {
        const amb = p.ambient.intensity * (p.ambient.ground[c] + (p.ambient.sky[c] - p.ambient.ground[c]) * hemi);
        const kc = p.key.color[c] + (p.key.colorFar[c] - p.key.color[c]) * t;
        s[i * 3 + c] = amb + kd * kc + fd * p.fill.color[c];
      }
    }
  }
  return s;
}

export interface RelightResult {
  /** The re-lit image (sRGB-encoded); pixels with mask 0 are the input's, bit-exact. */
  image: FloatImage;
  /** Per-pixel, per-channel linear gain applied (1 outside the mask). */
  gain: FloatImage;
  normals: FloatImage;
  /** Key-light shadow visibility (1 channel). */
  visibility: FloatImage;
}

/** Re-lights the masked foreground of `real` under `params` (see the file comment). Pure and deterministic. */
export function relightImage(real: FloatImage, mask: Mask, params: RelightParams, geometry: GeometryOptions = {}): RelightResult {
  checkMask(real, mask, 'relight');
  const W = real.width, H = real.height, n = W * H;
  if (!(params.exposure > 0)) throw new HarmoniaError(`relight: exposure must be > 0, got ${params.exposure}`);
  const where = new Float32Array(n);
  for (let i = 0; i < n; i++) if (mask.data[i] > 0) where[i] = 1;
  const { count, size } = hardMask(mask);
  const out = new Float32Array(real.data);
  const gain = new Float32Array(n * 3).fill(1);
  const h = heightField(mask, real, geometry);
  const normals = normalsFromHeight(h, W, H);
  const reach = Math.max(2, 0.5 * size);
  const visKey = count > 0 ? softShadow(h, W, H, params.key.direction, where, Math.max(0.5, params.key.softness * size), reach) : new Float32Array(n).fill(1);
  const visRef = count > 0 ? softShadow(h, W, H, NEUTRAL_RELIGHT.key.direction, where, Math.max(0.5, NEUTRAL_RELIGHT.key.softness * size), reach) : new Float32Array(n).fill(1);
  const result = (): RelightResult => ({
    image: { width: W, height: H, channels: 3, data: out },
    gain: { width: W, height: H, channels: 3, data: gain },
    normals: { width: W, height: H, channels: 3, data: normals },
    visibility: { width: W, height: H, channels: 1, data: visKey },
  });
  if (count === 0) return result();
  const sNew = relightShading(normals, visKey, where, W, H, params);
  const sRef = relightShading(normals, visRef, where, W, H, NEUTRAL_RELIGHT);
  const lum: number[] = [];
  for (let i = 0; i < n; i++) {
    if (where[i] === 0) continue;
    for (let c = 0; c < 3; c++) gain[i * 3 + c] = sNew[i * 3 + c] / Math.max(1e-6, sRef[i * 3 + c]);
    if (mask.data[i] > 0.5) lum.push(0.3 * gain[i * 3] + 0.59 * gain[i * 3 + 1] + 0.11 * gain[i * 3 + 2]);
  }
  lum.sort((a, b) => a - b);
  const med = lum.length % 2 ? lum[(lum.length - 1) >> 1] : (lum[lum.length / 2 - 1] + lum[lum.length / 2]) / 2;
  const k = params.exposure / Math.max(1e-6, med);
  for (let i = 0; i < n; i++) {
    if (where[i] === 0) continue;
    const m = Math.min(1, mask.data[i]);
    for (let c = 0; c < 3; c++) {
      const g = Math.max(1 / RELIGHT_MAX_GAIN, Math.min(RELIGHT_MAX_GAIN, gain[i * 3 + c] * k));
      gain[i * 3 + c] = g;
      const x = real.data[i * 3 + c];
      const lin = Math.pow(Math.max(0, x), 2.2) * g;
      const v = lin >= 1 ? 1 : Math.pow(lin, 1 / 2.2);
      out[i * 3 + c] = m >= 1 ? v : m * v + (1 - m) * x;
    }
  }
  return result();
}

function lightDir(polar: number, azimuth: number): Vec3 {
  return [Math.sin(polar) * Math.cos(azimuth), Math.sin(polar) * Math.sin(azimuth), Math.cos(polar)];
}

/**
 * A random foreign lighting: a key light 35–80° off the view axis from any image-plane direction (colour on
 * the warm–cool axis of illuminantColor, drifting by up to ±0.5 of that axis across the object, intensity
 * 0.55–1, penumbra 2–10 % of the object's size); a fill light of 15–40 % of the key's intensity from the
 * opposite side (±50°) with its own colour; a hemispherical ambient of 0.12–0.3 with a sky tint; exposure
 * log-uniform in [0.75, 1.33].
 */
export function randomRelight(rng: Rng): RelightParams {
  const az = rng.uniform(0, 2 * Math.PI);
  const tKey = rng.uniform(-1, 1);
  const drift = rng.uniform(-1, 1);
  const keyIntensity = rng.uniform(0.7, 1);
  const axisAngle = rng.uniform(0, 2 * Math.PI);
  return {
    key: {
      direction: lightDir(rng.uniform(45, 85) * Math.PI / 180, az),
      intensity: keyIntensity,
      color: illuminantColor(tKey, rng.uniform(-0.05, 0.05)),
      colorFar: illuminantColor(Math.max(-1, Math.min(1, tKey + drift)), rng.uniform(-0.05, 0.05)),
      softness: rng.uniform(0.02, 0.1),
    },
    fill: {
      direction: lightDir(rng.uniform(20, 70) * Math.PI / 180, az + Math.PI + rng.uniform(-50, 50) * Math.PI / 180),
      intensity: keyIntensity * rng.uniform(0.15, 0.4),
      color: illuminantColor(rng.uniform(-1, 1), rng.uniform(-0.05, 0.05)),
    },
    ambient: { intensity: rng.uniform(0.05, 0.2), sky: illuminantColor(rng.uniform(0, 1), 0), ground: illuminantColor(rng.uniform(-0.6, 0.2), 0) },
    colorAxis: [Math.cos(axisAngle), Math.sin(axisAngle)],
    exposure: Math.exp(rng.uniform(Math.log(0.55), Math.log(1.8))),
  };
}

// ---------------------------------------------------------------------------------------------------------
// The dataset writer: `harmonia make-composites --relit`

export interface RelitOptions {
  /** Composites per (real, mask) pair (default 1). */
  variants?: number;
  seed?: number;
  /** Accepted foreground change, fMSE on the 0–255 scale after 8-bit quantisation (default 100–6000). */
  minFmse?: number;
  maxFmse?: number;
  /** At most this many real images per split (in name order). */
  limit?: number;
  format?: 'png' | 'jpg';
  /** Output subset folder name (default "Relit"). */
  subset?: string;
  /** Lightings tried per composite before the variant is given up (default 8). */
  maxAttempts?: number;
  onProgress?: (done: number, total: number, note: string) => void;
  /** Rebuild a subset in place even when it holds read-only files (default: refused). */
  overwrite?: boolean;
}

export interface RelitRecord {
  name: string;
  realName: string;
  maskIndex: number;
  variant: number;
  split: Split;
  category: string;
  method: 'relit';
  params?: RelightParams;
  /** Foreground MSE of composite vs real, 0–255 scale. */
  fmse?: number;
  attempts: number;
  rejected: boolean;
}

export interface RelitSummary {
  subset: string;
  train: number;
  test: number;
  rejected: number;
  skippedExisting: number;
  byMethod: Record<string, number>;
  records: RelitRecord[];
}

const RELIT_DIRS = ['composite_images', 'masks', 'real_images', 'synthesis'] as const;

async function exists(p: string): Promise<boolean> {
  try { await fsp.access(p); return true; } catch { return false; }
}

/** The lighting of attempt `attempt` of a composite: depends only on (seed, real, mask, variant, attempt). */
export function relitParamsFor(seed: number, realName: string, maskIndex: number, variant: number, attempt: number): RelightParams {
  return randomRelight(new Rng(`relit:${seed}:${realName}:${maskIndex}:${variant}:${attempt}`));
}

/**
 * Builds a relit iHarmony4 subset (`<out>/<subset>/`, default "Relit", both splits of the source) from a
 * real-image source: each composite is its real photo with the foreground re-lit by relightImage under
 * relitParamsFor(seed, …); a lighting whose foreground change falls outside [minFmse, maxFmse] is redrawn
 * (up to maxAttempts, then the variant is recorded as rejected). Real images are written as decoded (PNG)
 * so composite and real backgrounds are equal; masks are copied; synthesis/<name>.json holds the lighting.
 * Deterministic, atomic and resumable like makeComposites.
 */
export async function makeRelitComposites(sourceRoot: string, outDir: string, options: RelitOptions = {}): Promise<RelitSummary> {
  const variants = options.variants ?? 1;
  if (!Number.isInteger(variants) || variants < 1) throw new HarmoniaError(`variants must be a positive integer, got ${variants}`);
  const seed = options.seed ?? 0;
  const minFmse = options.minFmse ?? DEFAULT_MIN_FMSE;
  const maxFmse = options.maxFmse ?? DEFAULT_MAX_FMSE;
  if (!(minFmse >= 0) || !(maxFmse > minFmse)) throw new HarmoniaError(`fMSE bounds must satisfy 0 ≤ min < max, got ${minFmse} and ${maxFmse}`);
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1)) throw new HarmoniaError(`limit must be a positive integer, got ${options.limit}`);
  const format = options.format ?? 'png';
  if (format !== 'png' && format !== 'jpg') throw new HarmoniaError(`format must be png or jpg, got "${String(format)}"`);
  const subset = options.subset ?? 'Relit';
  if (!/^[A-Za-z0-9._-]+$/.test(subset)) throw new HarmoniaError(`subset name must be letters, digits, ".", "_" or "-", got "${subset}"`);
  const maxAttempts = options.maxAttempts ?? 8;
  const source = await readRealSource(sourceRoot);
  const work = limitPhotosPerSplit(source.entries, options.limit);
  // bad input stops the run before anything is written
  for (const e of work) {
    const r = await probeImage(e.real);
    const m = await probeImage(e.mask);
    if (m.width !== r.width || m.height !== r.height) throw new HarmoniaError(`mask is ${m.width}×${m.height} but real image ${e.real} is ${r.width}×${r.height}`, { file: e.mask });
  }
  const recipe = JSON.stringify({ generator: 'relit', version: 1, source: source.name, seed, minFmse, maxFmse, format, maxAttempts });
  return buildSubsetAtomically(outDir, subset, recipe, 'make-composites --relit', async (stage) => {
    for (const d of RELIT_DIRS) await fsp.mkdir(join(stage, d), { recursive: true });
    for (const d of [stage, ...RELIT_DIRS.map((x) => join(stage, x))]) await removeStaleTempFiles(d);
    const ext = format === 'png' ? '.png' : '.jpg';
    const total = work.length * variants;
    const records: RelitRecord[] = [];
    let done = 0, skippedExisting = 0;
    for (const e of work) {
      let loaded: { real: FloatImage; mask: Mask } | undefined;
      for (let v = 1; v <= variants; v++) {
        const name = compositeFileName(e.realName, e.maskIndex, v, ext);
        const sidecar = join(stage, 'synthesis', `${name.slice(0, -ext.length)}.json`);
        const compPath = join(stage, 'composite_images', name);
        if (await exists(sidecar)) {
          const rec = await fsp.readFile(sidecar, 'utf8').then((t) => JSON.parse(t) as RelitRecord, () => undefined);
          if (rec && rec.name === name && (rec.rejected || (await exists(compPath)))) {
            records.push(rec);
            skippedExisting++;
            options.onProgress?.(++done, total, 'existing');
            continue;
          }
        }
        if (!loaded) {
          const real = await readImage(e.real);
          loaded = { real, mask: await readMask(e.mask, { expect: { ...real, what: `real image ${e.real}` } }) };
        }
        const rec = await relitOne(e, v, name, loaded, { seed, minFmse, maxFmse, maxAttempts });
        if (rec.img) {
          const realOut = join(stage, 'real_images', `${e.realName}${ext}`);
          if (!(await exists(realOut))) {
            if (format === 'jpg' && /\.jpe?g$/i.test(extname(e.real))) await writeFileAtomic(realOut, await fsp.readFile(e.real));
            else await writeImage(realOut, loaded.real, { quality: 95 });
          }
          const maskOut = join(stage, 'masks', maskFileName(e.realName, e.maskIndex));
          if (!(await exists(maskOut))) await writeFileAtomic(maskOut, await fsp.readFile(e.mask));
        }
        await writeFileAtomic(sidecar, `${JSON.stringify(rec.record, null, 1)}\n`);
        if (rec.img) await writeImage(compPath, rec.img, { quality: 95 });
        records.push(rec.record);
        options.onProgress?.(++done, total, rec.record.rejected ? 'rejected' : `relit fMSE ${rec.record.fmse?.toFixed(0)}`);
      }
    }
    records.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const names = { train: [] as string[], test: [] as string[] };
    let rejected = 0;
    const keep: Record<(typeof RELIT_DIRS)[number], Set<string>> = { composite_images: new Set(), masks: new Set(), real_images: new Set(), synthesis: new Set() };
    for (const r of records) {
      keep.synthesis.add(`${r.name.slice(0, -ext.length)}.json`);
      if (r.rejected) { rejected++; continue; }
      names[r.split].push(r.name);
      keep.composite_images.add(r.name);
      keep.masks.add(maskFileName(r.realName, r.maskIndex));
      keep.real_images.add(`${r.realName}${ext}`);
    }
    for (const d of RELIT_DIRS) await pruneFolder(join(stage, d), (f) => keep[d].has(f));
    await pruneFolder(stage, (f) => !TEMP_FILE_PATTERN.test(f));
    const summary: RelitSummary = { subset, train: names.train.length, test: names.test.length, rejected, skippedExisting, byMethod: { relit: names.train.length + names.test.length }, records };
    const manifest = { source: source.name, options: { method: 'relit', seed, variants, minFmse, maxFmse, format, maxAttempts, limit: options.limit ?? null }, counts: { train: summary.train, test: summary.test, rejected } };
    await writeFileAtomic(join(stage, 'synthesis.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    return { names, result: summary };
  }, { overwrite: options.overwrite });
}

/** Draws lightings until the foreground change is within the bounds (the first accepted one wins). */
async function relitOne(
  e: RealEntry, variant: number, name: string, src: { real: FloatImage; mask: Mask },
  o: { seed: number; minFmse: number; maxFmse: number; maxAttempts: number },
): Promise<{ img?: FloatImage; record: RelitRecord }> {
  const base = { name, realName: e.realName, maskIndex: e.maskIndex, variant, split: e.split, category: e.category, method: 'relit' as const };
  for (let a = 0; a < o.maxAttempts; a++) {
    const params = relitParamsFor(o.seed, e.realName, e.maskIndex, variant, a);
    const img = relightImage(src.real, src.mask, params).image;
    const fmse = foregroundMse255(img, src.real, src.mask);
    if (fmse >= o.minFmse && fmse <= o.maxFmse) {
      return { img, record: { ...base, params, fmse: Math.round(fmse * 1000) / 1000, attempts: a + 1, rejected: false } };
    }
  }
  return { record: { ...base, attempts: o.maxAttempts, rejected: true } };
}
