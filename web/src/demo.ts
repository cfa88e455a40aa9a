/**
 * Built-in demo images, rendered procedurally (seeded, deterministic, any size): a warm sunset
 * scene lit from the upper left, and a textured ball cut-out lit by cold light from the right, so the
 * pasted object visibly disagrees with its new background in colour and light direction.
 * Rendering is Lambertian in linear RGB, encoded with the project's power-law gamma (2.2).
 */
import { Rng } from '../../src/util/random.ts';
import { HarmoniaError } from '../../src/errors.ts';
import type { FloatImage, Mask } from '../../src/image/types.ts';

type Vec3 = [number, number, number];

const GAMMA = 1 / 2.2;

function normalize(v: Vec3): Vec3 {
  const n = Math.hypot(v[0], v[1], v[2]) || 1;
  return [v[0] / n, v[1] / n, v[2] / n];
}

function encode(v: number): number {
  return Math.min(1, Math.max(0, v)) ** GAMMA;
}

/** Smooth value noise in [0,1] on a lattice of `cell` pixels (bilinear, smoothstep), seeded. */
function valueNoise(width: number, height: number, cell: number, rng: Rng): Float32Array {
  const gw = Math.ceil(width / cell) + 2;
  const gh = Math.ceil(height / cell) + 2;
  const grid = new Float32Array(gw * gh);
  for (let i = 0; i < grid.length; i++) grid[i] = rng.next();
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const gy = y / cell, iy = Math.floor(gy);
    let ty = gy - iy;
    ty = ty * ty * (3 - 2 * ty);
    for (let x = 0; x < width; x++) {
      const gx = x / cell, ix = Math.floor(gx);
      let tx = gx - ix;
      tx = tx * tx * (3 - 2 * tx);
      const a = grid[iy * gw + ix], b = grid[iy * gw + ix + 1];
      const c = grid[(iy + 1) * gw + ix], d = grid[(iy + 1) * gw + ix + 1];
      out[y * width + x] = (a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty;
    }
  }
  return out;
}

function checkSize(width: number, height: number, fn: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 16 || height < 16 || width * height > 64_000_000) {
    throw new HarmoniaError(`${fn}: size must be integers of at least 16×16 and at most 64 megapixels, got ${width}×${height}`);
  }
}

/** Warm sunset scene: sky gradient with a low sun at the upper left, textured ground, two lit balls with soft shadows. */
export function demoBackground(width: number, height: number, seed = 7): FloatImage {
  checkSize(width, height, 'demoBackground');
  const rng = new Rng(seed);
  const noise = valueNoise(width, height, Math.max(4, Math.round(Math.min(width, height) / 24)), rng.fork('ground'));
  const fine = valueNoise(width, height, Math.max(2, Math.round(Math.min(width, height) / 128)), rng.fork('fine'));
  const data = new Float32Array(width * height * 3);
  const horizon = 0.58 * height;
  const sun = { x: 0.18 * width, y: 0.3 * height, r: 0.05 * Math.min(width, height) };
  const light = normalize([-0.75, 0.45, 0.5]);
  const sunColour: Vec3 = [1.25, 0.78, 0.42];
  const skyAmbient: Vec3 = [0.22, 0.16, 0.26];
  const s = Math.min(width, height);
  const balls = [
    { cx: 0.62 * width, cy: 0.74 * height, r: 0.1 * s, albedo: [0.55, 0.55, 0.6] as Vec3 },
    { cx: 0.86 * width, cy: 0.66 * height, r: 0.055 * s, albedo: [0.35, 0.6, 0.35] as Vec3 },
  ];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let c: Vec3;
      if (y < horizon) {
        const t = y / horizon;
        c = [0.18 + 0.8 * t * t, 0.07 + 0.42 * t * t, 0.22 + 0.05 * t];
        const d = Math.hypot(x - sun.x, y - sun.y);
        const glow = Math.exp(-d / (0.25 * s)) * 0.6;
        c = [c[0] + glow, c[1] + glow * 0.6, c[2] + glow * 0.25];
        if (d < sun.r) c = [2, 1.6, 0.9];
      } else {
        const t = (y - horizon) / (height - horizon);
        const n = noise[y * width + x] * 0.5 + fine[y * width + x] * 0.2;
        const base: Vec3 = [0.32 + 0.18 * n, 0.22 + 0.12 * n, 0.12 + 0.06 * n];
        const lit = 0.55 + 0.45 * (1 - t);
        c = [base[0] * (sunColour[0] * lit * 0.6 + skyAmbient[0]), base[1] * (sunColour[1] * lit * 0.6 + skyAmbient[1]), base[2] * (sunColour[2] * lit * 0.6 + skyAmbient[2])];
        for (const b of balls) {
          // soft cast shadow on the ground, away from the sun (to the right)
          const sx = b.cx + 1.6 * b.r, sy = b.cy + 0.8 * b.r;
          const e = ((x - sx) / (1.9 * b.r)) ** 2 + ((y - sy) / (0.45 * b.r)) ** 2;
          if (e < 1.5) {
            const k = 1 - 0.55 * Math.max(0, Math.min(1, 1.5 - e));
            c = [c[0] * k, c[1] * k, c[2] * k];
          }
        }
      }
      for (const b of balls) {
        const dx = (x - b.cx) / b.r, dy = (y - b.cy) / b.r;
        const rr = dx * dx + dy * dy;
        if (rr < 1) {
          const n: Vec3 = [dx, -dy, Math.sqrt(1 - rr)];
          const ndl = Math.max(0, n[0] * light[0] + n[1] * light[1] + n[2] * light[2]);
          c = [0, 1, 2].map((k) => b.albedo[k] * (sunColour[k] * ndl + skyAmbient[k])) as Vec3;
        }
      }
      const i = (y * width + x) * 3;
      data[i] = encode(c[0]);
      data[i + 1] = encode(c[1]);
      data[i + 2] = encode(c[2]);
    }
  }
  return { width, height, channels: 3, data };
}

/**
 * Textured ball cut-out (size×size RGB + soft alpha): striped, dotted albedo lit by cold blue-white
 * light from the upper right. The alpha edge is anti-aliased over about one pixel.
 */
export function demoForeground(size: number, seed = 11): { image: FloatImage; mask: Mask } {
  checkSize(size, size, 'demoForeground');
  const rng = new Rng(seed);
  const hue = rng.uniform(0, 1);
  const light = normalize([0.7, 0.35, 0.62]);
  const lightColour: Vec3 = [0.75, 0.9, 1.3];
  const ambient: Vec3 = [0.1, 0.13, 0.2];
  const data = new Float32Array(size * size * 3);
  const alpha = new Float32Array(size * size);
  const r = size / 2 - 1;
  const cx = size / 2, cy = size / 2;
  const stripeA: Vec3 = [0.85, 0.25 + 0.2 * hue, 0.2];
  const stripeB: Vec3 = [0.9, 0.85, 0.7];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = (x + 0.5 - cx) / r, dy = (y + 0.5 - cy) / r;
      const rr = dx * dx + dy * dy;
      const dist = Math.sqrt(rr);
      const a = Math.max(0, Math.min(1, (1 - dist) * r + 0.5));
      const p = y * size + x;
      alpha[p] = a;
      if (a <= 0) continue;
      const z = Math.sqrt(Math.max(0, 1 - Math.min(1, rr)));
      const n: Vec3 = normalize([dx, -dy, z]);
      // texture on the sphere: latitude stripes plus a dot grid (fine detail)
      const lat = Math.asin(Math.max(-1, Math.min(1, n[1])));
      const lon = Math.atan2(n[0], n[2]);
      const stripe = Math.sin(lat * 9) > 0 ? stripeA : stripeB;
      const dot = Math.sin(lon * 24) * Math.sin(lat * 24) > 0.82 ? 0.25 : 1;
      const ndl = Math.max(0, n[0] * light[0] + n[1] * light[1] + n[2] * light[2]);
      for (let k = 0; k < 3; k++) data[p * 3 + k] = encode(stripe[k] * dot * (lightColour[k] * ndl + ambient[k]));
    }
  }
  return { image: { width: size, height: size, channels: 3, data }, mask: { width: size, height: size, data: alpha } };
}
