import { join } from 'node:path';
import type { Command } from '../types.ts';
import { HarmoniaError } from '../../errors.ts';
import { readImage, readMask, writeImage } from '../../image/io.ts';
import { writeFileAtomic } from '../../image/atomic.ts';
import type { FloatImage } from '../../image/types.ts';
import { semiHarmonize, checkLight, renderLightSphere, intrinsicProfile, INTRINSIC_PROFILES, DEFAULT_INTRINSIC_ANALYSIS_SIDE, type IntrinsicOptions, type IntrinsicProfile, type LightMethod } from '../../intrinsic/index.ts';
import { precomputeSemiHarmonized, loadLightModel } from '../../intrinsic/batch.ts';
import type { DecompositionMethod } from '../../intrinsic/decompose.ts';

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Parses the shared options (decomposition, light, stages, strengths) into IntrinsicOptions. */
export function intrinsicOptionsFromFlags(values: Record<string, unknown>): IntrinsicOptions {
  const o: IntrinsicOptions = {};
  const dec = str(values.decomposition);
  if (dec) {
    if (dec !== 'poisson' && dec !== 'guided') throw new HarmoniaError(`--decomposition must be poisson or guided, got "${dec}"`);
    o.decomposition = dec as DecompositionMethod;
  }
  const light = str(values.light);
  if (light) o.light = checkLight(light.split(',').map((s) => Number(s.trim())), '--light');
  const stages = str(values.stages);
  if (stages) {
    const set = new Set(stages.split(',').map((s) => s.trim()).filter(Boolean));
    for (const s of set) if (s !== 'albedo' && s !== 'shading') throw new HarmoniaError(`--stages: unknown stage "${s}" (use albedo, shading or albedo,shading)`);
    o.stages = { albedo: set.has('albedo'), shading: set.has('shading') };
  }
  const lm = str(values['light-method']);
  if (lm) {
    if (lm !== 'statistics' && lm !== 'learned') throw new HarmoniaError(`--light-method: "statistics" or "learned" (with --profile capture) from the CLI (the official / least-squares fits need background normals, available through the API), got "${lm}"`);
    o.lightMethod = lm as LightMethod;
  }
  const max = str(values['max-side']);
  if (max) {
    const n = Number(max);
    if (!Number.isInteger(n) || n < 16) throw new HarmoniaError(`--max-side must be an integer ≥ 16, got "${max}"`);
    o.analysisMaxSide = n;
  }
  return o;
}

function gray(img: FloatImage, scale: number): FloatImage {
  const n = img.width * img.height;
  const data = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const v = Math.pow(Math.min(1, Math.max(0, img.data[i] / scale)), 1 / 2.2);
    data[i * 3] = data[i * 3 + 1] = data[i * 3 + 2] = v;
  }
  return { width: img.width, height: img.height, channels: 3, data };
}

function percentile99(a: Float32Array): number {
  const s = Float32Array.from(a).sort();
  return Math.max(1e-6, s[Math.floor(0.99 * (s.length - 1))]);
}

export const intrinsicCommand: Command = {
  name: 'intrinsic',
  summary: 'Intrinsic Compositing stage: semi-harmonize a composite (albedo edits + Lambertian re-shading), or pre-compute a dataset cache',
  usage: 'harmonia intrinsic <composite> --mask <mask> -o <out> [--intermediates <dir>] [--light x,y,z,ambient] [--profile photo|capture] [--stages albedo,shading] [--decomposition poisson|guided]\n' +
    '       harmonia intrinsic --data <iHarmony4 dir> [--list <file>] --cache <dir> [--limit N]',
  options: {
    mask: { type: 'string', short: 'm', description: 'foreground mask (white = foreground; RGBA alpha works too)' },
    out: { type: 'string', short: 'o', description: 'output image (.png/.jpg/.webp/.tif), same size as the input' },
    intermediates: { type: 'string', description: 'folder for albedo, shading, harmonized albedo, re-shading, normals, light sphere and light.json' },
    light: { type: 'string', description: 'manual light x,y,z,ambient (x right, y up, z toward the camera)' },
    stages: { type: 'string', default: 'albedo,shading', description: 'stages to run: albedo, shading or albedo,shading' },
    decomposition: { type: 'string', default: 'poisson', description: 'shading estimate: poisson (Retinex + screened Poisson) or guided (fast fallback)' },
    profile: { type: 'string', default: 'photo', description: 'photo (composites made by colour transfer: all albedo edits, statistics light) or capture (foreground differs by illuminant/exposure/light only: white balance + exposure, learned light from models/light)' },
    'light-method': { type: 'string', description: 'background light estimate: statistics (photo profile) or learned (capture profile)' },
    'max-side': { type: 'string', default: String(DEFAULT_INTRINSIC_ANALYSIS_SIDE), description: 'long side of the analysis copy, at most 1024 (the output keeps the input size)' },
    data: { type: 'string', description: 'batch mode: iHarmony4-layout dataset root' },
    list: { type: 'string', description: 'batch mode: list file of composites (default: the dataset lists)' },
    cache: { type: 'string', description: 'batch mode: cache folder (one PNG per sample id; existing files are kept, so runs resume)' },
    limit: { type: 'string', description: 'batch mode: process at most N samples' },
    quiet: { type: 'boolean', default: false, description: 'no progress bar' },
  },
  async run({ values, positionals }) {
    const profile = str(values.profile) ?? 'photo';
    if (!(INTRINSIC_PROFILES as readonly string[]).includes(profile)) throw new HarmoniaError(`--profile must be ${INTRINSIC_PROFILES.join(' or ')}, got "${profile}"`);
    const base = intrinsicProfile(profile as IntrinsicProfile, profile === 'capture' ? await loadLightModel() : undefined);
    const options = { ...base, ...intrinsicOptionsFromFlags(values) };
    const data = str(values.data);
    if (data) {
      const cache = str(values.cache);
      if (!cache) throw new HarmoniaError('batch mode needs --cache <dir>');
      if (positionals.length) throw new HarmoniaError('batch mode (--data) takes no composite argument');
      let limit: number | undefined;
      if (str(values.limit)) {
        limit = Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new HarmoniaError(`--limit must be a positive integer, got "${String(values.limit)}"`);
      }
      const r = await precomputeSemiHarmonized({ data, list: str(values.list), cache, limit, intrinsic: options, quiet: Boolean(values.quiet) });
      console.log(`intrinsic: ${r.written} written, ${r.skipped} already cached, ${r.total} samples in ${cache}`);
      return 0;
    }
    if (positionals.length !== 1) throw new HarmoniaError('give one composite image (or --data <dir> for batch mode)');
    const maskPath = str(values.mask);
    const out = str(values.out);
    if (!maskPath) throw new HarmoniaError('--mask <mask> is required');
    if (!out) throw new HarmoniaError('-o <out> is required');
    const composite = await readImage(positionals[0]);
    const mask = await readMask(maskPath, { expect: { width: composite.width, height: composite.height, what: `composite ${positionals[0]}` } });
    const r = semiHarmonize(composite, mask, options);
    await writeImage(out, r.semiHarmonized, { mkdir: true });
    const it = r.intermediates;
    const dir = str(values.intermediates);
    if (dir) {
      const clip = (img: FloatImage): FloatImage => ({ ...img, data: img.data.map((v) => Math.min(1, Math.max(0, v))) });
      const scale = percentile99(it.shading.data);
      const nrm = { ...it.normals, data: it.normals.data.map((v) => (v + 1) / 2) };
      await writeImage(join(dir, 'albedo.png'), clip(it.albedo), { mkdir: true });
      await writeImage(join(dir, 'harmonized-albedo.png'), clip(it.harmonizedAlbedo));
      await writeImage(join(dir, 'shading.png'), gray(it.shading, scale));
      await writeImage(join(dir, 'reshading.png'), gray(it.reshading, scale));
      await writeImage(join(dir, 'normals.png'), nrm);
      await writeImage(join(dir, 'light-sphere.png'), renderLightSphere(it.light.coeffs, 128));
      await writeFileAtomic(join(dir, 'light.json'), JSON.stringify({
        light: it.light, albedoParams: it.albedoParams, shadingGain: it.shadingGain,
        analysisSize: it.analysisSize, shadingDisplayScale: scale, timings: it.timings, notes: it.notes,
      }, null, 2) + '\n');
    }
    const l = it.light;
    console.log(`intrinsic: wrote ${out} (${composite.width}×${composite.height}); light ${l.method} dir [${l.direction.map((v) => v.toFixed(2)).join(', ')}] ambient ${l.ambient.toFixed(2)}; ${it.timings.total.toFixed(0)} ms`);
    for (const n of it.notes) console.log(`note: ${n}`);
    return 0;
  },
};
