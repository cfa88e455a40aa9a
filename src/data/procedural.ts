/**
 * Procedural scenes with exact intrinsic ground truth, for tests and the built-in demo.
 *
 * CONVENTIONS (the intrinsic stage relies on them; see docs/DATA.md and intrinsic-compositing.md §1):
 * - linear image  I_lin = albedo (RGB, linear, in [0,1]) × shading (grayscale, ≥ 0), per pixel;
 * - illuminant    every scene has one illuminant colour (linear RGB, max channel 1; white when a light without
 *                 `color` is given). Shading is grayscale, so, as in the official decomposition, the
 *                 illuminant colour lives in the albedo: albedo = reflectance ⊙ illuminant, where
 *                 `reflectance` is the surface colour itself (the same object under any light);
 * - shading       S = strength · vis · max(0, n·l) + ambient, where vis ∈ [0,1] is a soft cast-shadow
 *                 term (1 everywhere except inside object shadows on the ground; all 1 with shadows: false);
 * - normals       unit vectors, x right, y UP, z toward the camera;
 * - sRGB image    clip(I_lin, 0, 1)^(1/2.2) (pure power law, not the piecewise sRGB curve).
 * The scene: a sky (normal facing the camera), a textured ground plane in perspective (normal up), and
 * 2–4 objects (spheres, boxes, vertical cylinders; textured albedo) drawn back to front. Hard edges (no
 * anti-aliasing), so every pixel satisfies the model exactly.
 */
import { join } from 'node:path';
import { promises as fsp } from 'node:fs';
import sharp from 'sharp';
import { HarmoniaError } from '../errors.ts';
import { Rng, hashString } from '../util/random.ts';
import { writeFileAtomic, removeStaleTempFiles, TEMP_FILE_PATTERN } from '../util/atomic.ts';
import { writeImage, writeMask } from '../image/io.ts';
import { hsvToRgb, gammaToLinear } from '../image/color.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { compositeFileName, maskFileName } from './iharmony4.ts';
import { buildSubsetAtomically, pruneFolder } from './atomic-subset.ts';

export interface SceneLight {
  /** Unit vector toward the light (x right, y up, z toward the camera). */
  direction: [number, number, number];
  strength: number;
  ambient: number;
  /**
   * Illuminant colour (linear RGB, max channel 1) of both the directional and the ambient light;
   * white [1, 1, 1] when absent.
   */
  color?: [number, number, number];
}

export interface ProceduralScene {
  /** sRGB-encoded: clip(albedo · shading, 0, 1)^(1/2.2). */
  image: FloatImage;
  /** Linear RGB albedo in [0,1] in the grayscale-shading convention: reflectance ⊙ illuminant colour. */
  albedo: FloatImage;
  /** Linear RGB surface reflectance in [0,1] (independent of the illuminant). */
  reflectance: FloatImage;
  /** Grayscale shading (1 channel, ≥ 0). */
  shading: FloatImage;
  /** Unit normals (3 channels, components in [−1,1]). */
  normals: FloatImage;
  light: SceneLight;
  /** One hard mask per object (visible pixels only, after occlusion). */
  objectMasks: Mask[];
  objectKinds: string[];
}

export type ObjectKind = 'sphere' | 'box' | 'cylinder';

/** Shading of one pixel: strength · vis · max(0, n·l) + ambient. */
export function lambertShading(n: readonly number[], light: SceneLight, vis = 1): number {
  const d = light.direction;
  const ndl = n[0] * d[0] + n[1] * d[1] + n[2] * d[2];
  return light.strength * vis * Math.max(0, ndl) + light.ambient;
}

function normalize3(v: [number, number, number]): [number, number, number] {
  const l = Math.hypot(v[0], v[1], v[2]);
  if (!(l > 0)) throw new HarmoniaError('light direction must be a non-zero vector');
  return [v[0] / l, v[1] / l, v[2] / l];
}

/**
 * A random daylight-like illuminant colour (linear RGB, max channel 1): a warm–cool axis t ∈ [−1, 1]
 * (t = −1: about 3,000 K, [1, 0.75, 0.5]; t = 1: about 10,000 K, [0.6, 0.85, 1]) plus a small
 * green–magenta tint.
 */
export function illuminantColor(t: number, tint = 0): [number, number, number] {
  const c: [number, number, number] = t < 0 ? [1, 1 + 0.25 * t, 1 + 0.5 * t] : [1 - 0.4 * t, 1 - 0.15 * t, 1];
  c[1] *= 1 + tint;
  const m = Math.max(c[0], c[1], c[2]);
  return [c[0] / m, c[1] / m, c[2] / m];
}

/**
 * A random light from above: elevation 25–70°, any azimuth except straight from behind, and a
 * random illuminant colour (warm–cool t ∈ [−0.8, 0.8], tint ±5 %).
 */
export function randomLight(rng: Rng): SceneLight {
  const elev = (rng.uniform(25, 70) * Math.PI) / 180;
  const az = (rng.uniform(-150, 150) * Math.PI) / 180;
  const light: SceneLight = {
    direction: normalize3([Math.cos(elev) * Math.sin(az), Math.sin(elev), Math.cos(elev) * Math.cos(az)]),
    strength: rng.uniform(0.7, 1.1),
    ambient: rng.uniform(0.15, 0.35),
  };
  const c = rng.fork('color');
  light.color = illuminantColor(c.uniform(-1, 1), c.uniform(-0.05, 0.05));
  return light;
}

function lightColor(light: SceneLight): [number, number, number] {
  const c = light.color ?? [1, 1, 1];
  if (c.length !== 3 || c.some((v) => !(v > 0 && v <= 1))) throw new HarmoniaError(`light color must be 3 numbers in (0, 1], got [${c.join(', ')}]`);
  return [c[0], c[1], c[2]];
}

/** A random linear albedo colour: hue any, saturation and value in sensible ranges, linear ≤ 0.85. */
function randomAlbedo(rng: Rng, sat: [number, number], val: [number, number]): [number, number, number] {
  const c = hsvToRgb(rng.next(), rng.uniform(sat[0], sat[1]), rng.uniform(val[0], val[1]));
  return [0, 1, 2].map((k) => Math.min(0.85, Math.max(0.02, gammaToLinear(c[k])))) as [number, number, number];
}

function mix(a: readonly number[], b: readonly number[], t: number): [number, number, number] {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** Smooth value noise in [0,1] on a lattice (deterministic from `seed`). */
function valueNoise(x: number, y: number, seed: number): number {
  const xi = Math.floor(x), yi = Math.floor(y);
  const fx = x - xi, fy = y - yi;
  const h = (i: number, j: number): number => hashString(`${seed}:${i}:${j}`) / 4294967296;
  const sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy);
  const a = h(xi, yi) + (h(xi + 1, yi) - h(xi, yi)) * sx;
  const b = h(xi, yi + 1) + (h(xi + 1, yi + 1) - h(xi, yi + 1)) * sx;
  return a + (b - a) * sy;
}

interface Texture { kind: 'stripes' | 'checker' | 'dots' | 'plain'; a: [number, number, number]; b: [number, number, number]; freq: number; angle: number }

function randomTexture(rng: Rng): Texture {
  // photo-like object colours: most surfaces are moderately saturated (HSV saturation ≤ 0.6)
  const a = randomAlbedo(rng, [0.05, 0.6], [0.35, 0.92]);
  const b = rng.next() < 0.5 ? randomAlbedo(rng, [0.03, 0.6], [0.3, 0.95]) : mix(a, [0.85, 0.85, 0.85], 0.6);
  return { kind: rng.pick(['stripes', 'checker', 'dots', 'plain'] as const), a, b, freq: rng.uniform(3, 9), angle: rng.uniform(0, Math.PI) };
}

/** Albedo of a texture at object coordinates (u, v) ∈ [0,1]². */
function sampleTexture(t: Texture, u: number, v: number): [number, number, number] {
  switch (t.kind) {
    case 'plain': return t.a;
    case 'stripes': {
      const s = Math.sin((u * Math.cos(t.angle) + v * Math.sin(t.angle)) * t.freq * 2 * Math.PI);
      return s > 0 ? t.a : t.b;
    }
    case 'checker': return (Math.floor(u * t.freq) + Math.floor(v * t.freq)) % 2 === 0 ? t.a : t.b;
    case 'dots': {
      const fu = u * t.freq - Math.floor(u * t.freq) - 0.5, fv = v * t.freq - Math.floor(v * t.freq) - 0.5;
      return fu * fu + fv * fv < 0.09 ? t.b : t.a;
    }
  }
}

interface SceneObject {
  kind: ObjectKind;
  /** Ground contact point (image coordinates). */
  x: number;
  yb: number;
  /** sphere: radius; box: front width; cylinder: radius. */
  size: number;
  height: number;
  /** box: oblique depth offset (image px); cylinder: ellipse half-height of the top. */
  ox: number;
  oy: number;
  tex: Texture;
}

/** Normal and texture coordinates of an object at pixel centre (px, py), or undefined when it misses. */
function hitObject(o: SceneObject, px: number, py: number): { n: [number, number, number]; u: number; v: number } | undefined {
  if (o.kind === 'sphere') {
    const r = o.size, cx = o.x, cy = o.yb - r;
    const dx = (px - cx) / r, dy = (py - cy) / r;
    const q = dx * dx + dy * dy;
    if (q > 1) return undefined;
    const n: [number, number, number] = [dx, -dy, Math.sqrt(1 - q)];
    return { n, u: 0.5 + Math.atan2(n[0], n[2]) / Math.PI, v: 0.5 - Math.asin(Math.max(-1, Math.min(1, n[1]))) / Math.PI };
  }
  if (o.kind === 'box') {
    const w = o.size, h = o.height, x0 = o.x - w / 2, y0 = o.yb - h;
    if (px >= x0 && px < x0 + w && py >= y0 && py < o.yb) return { n: [0, 0, 1], u: (px - x0) / w, v: (py - y0) / h };
    // top face: A + s·(w,0) + t·(ox,oy), A = (x0, y0), oy < 0
    {
      const t = (py - y0) / o.oy;
      const s = (px - x0 - t * o.ox) / w;
      if (t >= 0 && t <= 1 && s >= 0 && s <= 1) return { n: [0, 1, 0], u: s, v: t };
    }
    // side face on the side the depth offset points to
    {
      const ax = o.ox > 0 ? x0 + w : x0;
      const t = (px - ax) / o.ox;
      const s = (py - y0 - t * o.oy) / h;
      if (t >= 0 && t <= 1 && s >= 0 && s <= 1) return { n: [Math.sign(o.ox), 0, 0], u: t, v: s };
    }
    return undefined;
  }
  // cylinder (vertical axis): top ellipse, then the body
  const r = o.size, e = o.oy, ytop = o.yb - o.height;
  const dx = (px - o.x) / r;
  if (Math.abs(dx) > 1) return undefined;
  const dyTop = (py - ytop) / e;
  if (dx * dx + dyTop * dyTop <= 1) return { n: [0, 1, 0], u: 0.5 + dx / 2, v: 0.5 + dyTop / 2 };
  const front = Math.sqrt(1 - dx * dx);
  if (py >= ytop && py <= o.yb + e * front) {
    return { n: [dx, 0, front], u: 0.5 + Math.asin(dx) / Math.PI, v: (py - ytop) / (o.height + e) };
  }
  return undefined;
}

/** Screen-space extent of an object's footprint used for its cast shadow. */
function objectWidth(o: SceneObject): number {
  return o.kind === 'box' ? o.size + Math.abs(o.ox) : 2 * o.size;
}

/** Renders a procedural scene; see the module comment for the exact image model. */
export function renderScene(opts: { seed: number; width: number; height: number; light?: SceneLight; shadows?: boolean; objects?: number }): ProceduralScene {
  const { width: W, height: H } = opts;
  if (!Number.isInteger(W) || !Number.isInteger(H) || W < 16 || H < 16) {
    throw new HarmoniaError(`renderScene: width and height must be integers ≥ 16, got ${W}×${H}`);
  }
  const rng = new Rng(`procedural-scene:${opts.seed}`);
  const light = opts.light
    ? { ...opts.light, direction: normalize3(opts.light.direction) }
    : randomLight(rng.fork('light'));
  if (!(light.strength >= 0) || !(light.ambient >= 0)) throw new HarmoniaError('renderScene: light strength and ambient must be ≥ 0');
  const illum = lightColor(light);
  const shadows = opts.shadows ?? true;
  const layout = rng.fork('layout');
  const horizon = Math.round(H * layout.uniform(0.3, 0.45));
  const skyTop = randomAlbedo(layout, [0.35, 0.7], [0.55, 0.8]).map((v, k) => (k === 2 ? Math.max(v, 0.4) : v));
  const skyLow = mix(skyTop, [0.8, 0.8, 0.78], 0.6);
  const groundTex: Texture = {
    kind: layout.next() < 0.5 ? 'checker' : 'stripes',
    a: randomAlbedo(layout, [0.2, 0.6], [0.3, 0.7]),
    b: randomAlbedo(layout, [0.1, 0.5], [0.2, 0.6]),
    freq: layout.uniform(1.5, 4),
    angle: layout.uniform(0, Math.PI),
  };
  const noiseSeed = layout.int(0, 1 << 30);
  const nObj = opts.objects ?? layout.int(2, 4);
  const objs: SceneObject[] = [];
  for (let i = 0; i < nObj; i++) {
    const r = rng.fork(`object:${i}`);
    const t = r.uniform(0.2, 1);
    const yb = horizon + (H - horizon) * (0.15 + 0.8 * t);
    const scale = H * (0.5 + 0.5 * t);
    const kind = r.pick(['sphere', 'box', 'cylinder'] as const);
    const size = scale * r.uniform(0.09, 0.17);
    const o: SceneObject = { kind, x: W * r.uniform(0.12, 0.88), yb, size, height: 0, ox: 0, oy: 0, tex: randomTexture(r) };
    if (kind === 'box') {
      o.height = size * r.uniform(0.6, 1.4);
      const d = size * r.uniform(0.3, 0.6);
      o.ox = (r.next() < 0.5 ? -1 : 1) * d * 0.7;
      o.oy = -d * 0.5;
    } else if (kind === 'cylinder') {
      o.height = size * r.uniform(1.2, 2.6);
      o.oy = size * 0.35;
    }
    objs.push(o);
  }
  objs.sort((a, b) => a.yb - b.yb); // painter's order: far (higher up) first
  const n = W * H;
  const albedo = new Float32Array(n * 3);
  const reflectance = new Float32Array(n * 3);
  const shading = new Float32Array(n);
  const normals = new Float32Array(n * 3);
  const owner = new Int16Array(n).fill(-1);
  const [lx, ly, lz] = light.direction;
  const lyc = Math.max(ly, 0.25);
  for (let y = 0; y < H; y++) {
    const py = y + 0.5;
    for (let x = 0; x < W; x++) {
      const px = x + 0.5;
      const i = y * W + x;
      let a: [number, number, number];
      let nn: [number, number, number];
      let vis = 1;
      let hit = -1;
      let hitRes: { n: [number, number, number]; u: number; v: number } | undefined;
      for (let k = objs.length - 1; k >= 0; k--) {
        const h = hitObject(objs[k], px, py);
        if (h) { hit = k; hitRes = h; break; }
      }
      if (hit >= 0 && hitRes) {
        a = sampleTexture(objs[hit].tex, hitRes.u, hitRes.v);
        nn = hitRes.n;
        owner[i] = hit;
      } else if (y < horizon) {
        a = mix(skyTop, skyLow, py / horizon);
        nn = [0, 0, 1];
      } else {
        const depth = H / (py - horizon + 0.5);
        const u = ((px - W / 2) / H) * depth * 0.5;
        const v = depth * 0.5;
        const base = sampleTexture(groundTex, u * 0.5 + 10, v * 0.5);
        const g = 0.75 + 0.5 * valueNoise(u * 4, v * 4, noiseSeed);
        a = [Math.min(1, base[0] * g), Math.min(1, base[1] * g), Math.min(1, base[2] * g)];
        nn = [0, 1, 0];
        if (shadows) {
          for (const o of objs) {
            const hgt = o.kind === 'sphere' ? 2 * o.size : o.height;
            const cx = o.x - (lx / lyc) * hgt * 0.5;
            const cy = o.yb - (lz / lyc) * hgt * 0.5 * 0.3;
            const rx = objectWidth(o) / 2 + Math.abs(lx / lyc) * hgt * 0.5;
            const ry = Math.max(2, objectWidth(o) * 0.12 + Math.abs(lz / lyc) * hgt * 0.15);
            const q = ((px - cx) / rx) ** 2 + ((py - cy) / ry) ** 2;
            if (q < 1) vis = Math.min(vis, 0.15 + 0.85 * Math.max(0, (q - 0.6) / 0.4));
          }
        }
      }
      reflectance[i * 3] = a[0]; reflectance[i * 3 + 1] = a[1]; reflectance[i * 3 + 2] = a[2];
      albedo[i * 3] = a[0] * illum[0]; albedo[i * 3 + 1] = a[1] * illum[1]; albedo[i * 3 + 2] = a[2] * illum[2];
      normals[i * 3] = nn[0]; normals[i * 3 + 1] = nn[1]; normals[i * 3 + 2] = nn[2];
      shading[i] = lambertShading(nn, light, vis);
    }
  }
  const image = composeSrgb(albedo, shading, W, H);
  const objectMasks: Mask[] = [];
  const objectKinds: string[] = [];
  objs.forEach((o, k) => {
    const m = new Float32Array(n);
    for (let i = 0; i < n; i++) if (owner[i] === k) m[i] = 1;
    objectMasks.push({ width: W, height: H, data: m });
    objectKinds.push(o.kind);
  });
  return {
    image,
    albedo: { width: W, height: H, channels: 3, data: albedo },
    reflectance: { width: W, height: H, channels: 3, data: reflectance },
    shading: { width: W, height: H, channels: 1, data: shading },
    normals: { width: W, height: H, channels: 3, data: normals },
    light,
    objectMasks,
    objectKinds,
  };
}

/** clip(albedo · shading, 0, 1)^(1/2.2) as an sRGB-encoded image. */
export function composeSrgb(albedo: Float32Array, shading: Float32Array, width: number, height: number): FloatImage {
  const n = width * height;
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 3; k++) {
      const v = albedo[i * 3 + k] * shading[i];
      out[i * 3 + k] = v <= 0 ? 0 : v >= 1 ? 1 : Math.pow(v, 1 / 2.2);
    }
  }
  return { width, height, channels: 3, data: out };
}

export interface ProceduralComposite {
  /** Composite name `<real>_1_1`. */
  name: string;
  composite: FloatImage;
  real: FloatImage;
  mask: Mask;
  scene: ProceduralScene;
  /** The light of the photo the object "comes from": direction, strength, ambient and illuminant colour. */
  foreignLight: SceneLight;
  /**
   * Apparent per-channel albedo gain of the pasted object in the grayscale-shading convention:
   * foreign illuminant colour / scene illuminant colour (the object's reflectance itself is unchanged).
   */
  foreignAlbedoGain: [number, number, number];
  /** Index of the re-lit object in scene.objectMasks. */
  objectIndex: number;
}

function angleBetween(a: readonly number[], b: readonly number[]): number {
  return Math.acos(Math.max(-1, Math.min(1, a[0] * b[0] + a[1] * b[1] + a[2] * b[2])));
}

/**
 * A scene plus a composite in which one object (the largest visible one) appears as if pasted from
 * another photo of the same object taken under other capture conditions (what iHarmony4 composites
 * model): a foreign light with a direction at least 40° away, its own strength/ambient (exposure) and
 * its own illuminant colour (at least one channel of foreign/scene colour off by ≥ 15 %). The object
 * keeps its reflectance. `real` is the same object under the scene's own light.
 * Inside the mask: clip(reflectance ⊙ colour_foreign · S_foreign, 0, 1)^(1/2.2); outside: identical to `real`.
 */
export function makeProceduralComposite(opts: { seed: number; width: number; height: number; name?: string }): ProceduralComposite {
  const scene = renderScene({ seed: opts.seed, width: opts.width, height: opts.height });
  const rng = new Rng(`procedural-composite:${opts.seed}`);
  let objectIndex = 0;
  let best = -1;
  scene.objectMasks.forEach((m, k) => {
    let a = 0;
    for (let i = 0; i < m.data.length; i++) a += m.data[i];
    if (a > best) { best = a; objectIndex = k; }
  });
  let foreignLight = randomLight(rng.fork('light:0'));
  for (let t = 1; t < 50 && angleBetween(foreignLight.direction, scene.light.direction) < (40 * Math.PI) / 180; t++) {
    foreignLight = randomLight(rng.fork(`light:${t}`));
  }
  const sceneColor = lightColor(scene.light);
  const gainOf = (c: readonly number[]): [number, number, number] => [c[0] / sceneColor[0], c[1] / sceneColor[1], c[2] / sceneColor[2]];
  let gain = gainOf(lightColor(foreignLight));
  for (let t = 0; t < 50 && Math.max(...gain.map((g) => Math.abs(g - 1))) < 0.15; t++) {
    const c = rng.fork(`color:${t}`);
    foreignLight = { ...foreignLight, color: illuminantColor(c.uniform(-1, 1), c.uniform(-0.05, 0.05)) };
    gain = gainOf(lightColor(foreignLight));
  }
  const fColor = lightColor(foreignLight);
  const mask = scene.objectMasks[objectIndex];
  const W = opts.width, H = opts.height;
  const comp = new Float32Array(scene.image.data);
  const refl = scene.reflectance.data;
  for (let i = 0; i < W * H; i++) {
    if (mask.data[i] <= 0.5) continue;
    const s = lambertShading([scene.normals.data[i * 3], scene.normals.data[i * 3 + 1], scene.normals.data[i * 3 + 2]], foreignLight);
    for (let k = 0; k < 3; k++) {
      const v = refl[i * 3 + k] * fColor[k] * s;
      comp[i * 3 + k] = v <= 0 ? 0 : v >= 1 ? 1 : Math.pow(v, 1 / 2.2);
    }
  }
  return {
    name: opts.name ?? `proc${opts.seed}_1_1`,
    composite: { width: W, height: H, channels: 3, data: comp },
    real: scene.image,
    mask,
    scene,
    foreignLight,
    foreignAlbedoGain: gain,
    objectIndex,
  };
}

/** Shading is stored in 16-bit PNGs as S / SHADING_SCALE (so S up to 4 fits). */
export const SHADING_SCALE = 4;

/** Encodes [0,1] floats as a 16-bit PNG (1 or 3 channels), atomically. */
async function write16(path: string, data: Float32Array, width: number, height: number, channels: 1 | 3, scale = 1): Promise<void> {
  const u = new Uint16Array(data.length);
  for (let i = 0; i < u.length; i++) {
    const v = data[i] / scale;
    u[i] = v <= 0 ? 0 : v >= 1 ? 65535 : Math.round(v * 65535);
  }
  const buf = await sharp(u, { raw: { width, height, channels } })
    .toColourspace(channels === 1 ? 'grey16' : 'rgb16')
    .png({ compressionLevel: 6 })
    .toBuffer();
  await writeFileAtomic(path, buf, { mkdir: true });
}

async function exists(p: string): Promise<boolean> {
  try { await fsp.access(p); return true; } catch { return false; }
}

export const PROCEDURAL_SUBSET = 'Procedural';

/** Training scenes use seeds from here on (src/data/stream.ts, train-light); benchmark and test seeds stay below. */
export const PROCEDURAL_TRAINING_SEED0 = 1_000_000;

/** Name of the i-th real image of a procedural dataset. */
export function proceduralRealName(i: number): string {
  return `proc${String(i).padStart(5, '0')}`;
}

/**
 * Writes `count` procedural composites in the iHarmony4 layout (subset "Procedural", PNG images,
 * one composite `<real>_1_1.png` per real image) plus ground truth per real image in
 * `Procedural/intrinsics/<real>/`: albedo.png (16-bit, LINEAR RGB), shading.png (16-bit gray, value =
 * S / 4), normals.png (16-bit, (n+1)/2), light.json (scene light and foreign light with their illuminant colours, apparent albedo gain, object).
 * The split is exact: round(count · testFraction) test images chosen with the seed; deterministic;
 * atomic (src/data/atomic-subset.ts: built in `.Procedural.building`, renamed into place when complete)
 * and resumable (a finished sample — its composite is written last — of the same seed and size is
 * reused; samples beyond `count` are removed).
 * `sceneSeed0` (the held-out benchmark sets, e.g. the relit set of issue 24: 1000..1199 with testFraction 1):
 * scene i is makeProceduralComposite({ seed: sceneSeed0 + i }) itself (what bench/intrinsic.ts procedural
 * renders) and is named proceduralRealName(sceneSeed0 + i); these seeds must stay below
 * PROCEDURAL_TRAINING_SEED0 (training scenes use seeds from there on). Without it, scene i's seed is a hash of (seed, i).
 */
export async function writeProceduralDataset(
  outDir: string,
  opts: { count: number; seed: number; width?: number; height?: number; testFraction?: number; onProgress?: (done: number, total: number) => void; overwrite?: boolean; sceneSeed0?: number },
): Promise<{ train: number; test: number }> {
  const { count, seed, sceneSeed0 } = opts;
  if (sceneSeed0 !== undefined && !(Number.isInteger(sceneSeed0) && sceneSeed0 >= 0 && sceneSeed0 + count <= PROCEDURAL_TRAINING_SEED0)) {
    throw new HarmoniaError(`writeProceduralDataset: sceneSeed0 + count must stay within [0, ${PROCEDURAL_TRAINING_SEED0}] (held out from the training seeds), got ${sceneSeed0} + ${count}`);
  }
  const realOf = (i: number): string => proceduralRealName(sceneSeed0 === undefined ? i : sceneSeed0 + i);
  const sceneSeedOf = (i: number): number => (sceneSeed0 === undefined ? hashString(`procedural:${seed}:${i}`) : sceneSeed0 + i);
  const W = opts.width ?? 256, H = opts.height ?? 256;
  const tf = opts.testFraction ?? 0.1;
  if (!Number.isInteger(count) || count < 1) throw new HarmoniaError(`writeProceduralDataset: count must be a positive integer, got ${count}`);
  if (!(tf >= 0 && tf <= 1)) throw new HarmoniaError(`writeProceduralDataset: testFraction must be in [0,1], got ${tf}`);
  const nTest = Math.round(count * tf);
  const order = new Rng(`procedural-split:${seed}`).shuffle(Array.from({ length: count }, (_, i) => i));
  const testSet = new Set(order.slice(0, nTest));
  // atomic (src/data/atomic-subset.ts): built in <out>/.Procedural.building, renamed into place when complete;
  // files of the same seed and size are reused, files of samples beyond --count are removed
  const recipe = JSON.stringify({ generator: 'procedural', seed, width: W, height: H, ...(sceneSeed0 === undefined ? {} : { sceneSeed0 }) });
  return buildSubsetAtomically(outDir, PROCEDURAL_SUBSET, recipe, 'make-procedural', async (sub) => {
    for (const d of ['composite_images', 'masks', 'real_images', 'intrinsics']) await fsp.mkdir(join(sub, d), { recursive: true });
    // a resumed run first removes the temp files of writes that a killed run left unfinished
    const scenes = (await fsp.readdir(join(sub, 'intrinsics'), { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => join(sub, 'intrinsics', e.name));
    for (const d of [sub, ...['composite_images', 'masks', 'real_images'].map((x) => join(sub, x)), ...scenes]) await removeStaleTempFiles(d);
    const names = { train: [] as string[], test: [] as string[] };
    for (let i = 0; i < count; i++) {
      const real = realOf(i);
      const file = compositeFileName(real, 1, 1, '.png');
      (testSet.has(i) ? names.test : names.train).push(file);
      const compPath = join(sub, 'composite_images', file);
      if (!(await exists(compPath))) {
        const pc = makeProceduralComposite({ seed: sceneSeedOf(i), width: W, height: H, name: `${real}_1_1` });
        const idir = join(sub, 'intrinsics', real);
        await write16(join(idir, 'albedo.png'), pc.scene.albedo.data, W, H, 3);
        await write16(join(idir, 'shading.png'), pc.scene.shading.data, W, H, 1, SHADING_SCALE);
        const nEnc = new Float32Array(pc.scene.normals.data.length);
        for (let k = 0; k < nEnc.length; k++) nEnc[k] = (pc.scene.normals.data[k] + 1) / 2;
        await write16(join(idir, 'normals.png'), nEnc, W, H, 3);
        const meta = {
          sceneSeed: sceneSeedOf(i),
          light: pc.scene.light,
          foreignLight: pc.foreignLight,
          foreignAlbedoGain: pc.foreignAlbedoGain,
          objectIndex: pc.objectIndex,
          objectKinds: pc.scene.objectKinds,
          shadingScale: SHADING_SCALE,
          conventions: 'I_lin = albedo * shading; albedo = reflectance * light.color (grayscale shading: the illuminant colour lives in the albedo); shading = strength*vis*max(0,n.l)+ambient; normals x right, y up, z toward camera, stored (n+1)/2; albedo linear; shading stored as S/shadingScale; sRGB = clip(I_lin,0,1)^(1/2.2); the composite object keeps its reflectance under foreignLight (direction, strength, ambient, color)',
        };
        await writeFileAtomic(join(idir, 'light.json'), `${JSON.stringify(meta, null, 2)}\n`);
        await writeImage(join(sub, 'real_images', `${real}.png`), pc.real);
        await writeMask(join(sub, 'masks', maskFileName(real, 1)), pc.mask);
        await writeImage(compPath, pc.composite);
      }
      opts.onProgress?.(i + 1, count);
    }
    // orphans: samples of an earlier, larger --count, temp files of killed writes
    const reals = new Set(Array.from({ length: count }, (_, i) => realOf(i)));
    await pruneFolder(join(sub, 'composite_images'), (n) => reals.has(n.replace(/_1_1\.png$/, '')) && n.endsWith('_1_1.png'));
    await pruneFolder(join(sub, 'masks'), (n) => reals.has(n.replace(/_1\.png$/, '')) && n.endsWith('_1.png'));
    await pruneFolder(join(sub, 'real_images'), (n) => reals.has(n.replace(/\.png$/, '')) && n.endsWith('.png'));
    await pruneFolder(join(sub, 'intrinsics'), (n) => reals.has(n));
    for (const r of reals) await pruneFolder(join(sub, 'intrinsics', r), (n) => ['albedo.png', 'shading.png', 'normals.png', 'light.json'].includes(n));
    await pruneFolder(sub, (n) => !TEMP_FILE_PATTERN.test(n));
    return { names, result: { train: names.train.length, test: names.test.length } };
  }, { overwrite: opts.overwrite });
}
