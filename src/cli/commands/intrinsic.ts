import { join } from 'node:path';
import type { Command } from '../types.ts';
import { HarmoniaError } from '../../errors.ts';
import { formatFromPath, readImage, readMask, writeImage } from '../../image/io.ts';
import { checkOutputs, prepareOutputs, type SafetyInput, type SafetyOutput } from '../../util/output-safety.ts';
import { FLAG_RANGES, numberFlag } from '../flags.ts';
import { writeFileAtomic } from '../../util/atomic.ts';
import type { FloatImage } from '../../image/types.ts';
import { semiHarmonize, checkLight, renderLightSphere, intrinsicProfile, INTRINSIC_PROFILES, DEFAULT_INTRINSIC_ANALYSIS_SIDE, type IntrinsicOptions, type IntrinsicProfile, type LightMethod } from '../../intrinsic/index.ts';
import { precomputeSemiHarmonized } from '../../intrinsic/batch.ts';
import { loadLightModel } from '../../models/light.ts';
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
  const max = numberFlag(values, 'max-side', FLAG_RANGES.intrinsic['max-side']);
  if (max !== undefined) o.analysisMaxSide = max;
  return o;
}

/** The files `--intermediates` writes. */
export const INTERMEDIATE_FILES = ['albedo.png', 'harmonized-albedo.png', 'shading.png', 'reshading.png', 'normals.png', 'light-sphere.png', 'light.json'] as const;

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

/** What `harmonia intrinsic` will read and write, validated. */
export type IntrinsicPathPlan = { inputs: SafetyInput[]; outputs: SafetyOutput[] } & (
  | { mode: 'batch'; data: string; cache: string; list?: string; limit?: number; size?: number }
  | { mode: 'single'; composite: string; mask: string; out: string; intermediates?: string }
);

/**
 * Validates the paths (and the batch --limit) of `harmonia intrinsic` before any compute: -o, each
 * file --intermediates gets, or --cache, against the composite, mask, dataset and list. Throws a
 * HarmoniaError naming the flag or file.
 */
export function planIntrinsicPaths(values: Record<string, unknown>, positionals: string[]): IntrinsicPathPlan {
  const overwrite = Boolean(values.overwrite);
  const data = str(values.data);
  if (data) {
    const cache = str(values.cache);
    if (!cache) throw new HarmoniaError('batch mode needs --cache <dir>');
    if (positionals.length) throw new HarmoniaError('batch mode (--data) takes no composite argument');
    const limit = numberFlag(values, 'limit', FLAG_RANGES.intrinsic.limit);
    const size = numberFlag(values, 'size', FLAG_RANGES.intrinsic.size);
    const list = str(values.list);
    const inputs: SafetyInput[] = [{ path: data, what: 'dataset', kind: 'folder' }, ...(list ? [{ path: list, what: 'list file' }] : [])];
    const outputs: SafetyOutput[] = [{ path: cache, flag: '--cache', kind: 'folder', mkdir: true }];
    checkOutputs(inputs, outputs, { overwrite });
    return { mode: 'batch', data, cache, list, limit, size, inputs, outputs };
  }
  if (values.size !== undefined) throw new HarmoniaError('--size: only in batch mode (--data)');
  if (positionals.length !== 1) throw new HarmoniaError('give one composite image (or --data <dir> for batch mode)');
  const mask = str(values.mask);
  const out = str(values.out);
  if (!mask) throw new HarmoniaError('--mask <mask> is required');
  if (!out) throw new HarmoniaError('-o <out> is required');
  formatFromPath(out);
  const dir = str(values.intermediates);
  const outputs: SafetyOutput[] = [{ path: out, flag: '-o', kind: 'file', mkdir: true }];
  if (dir) {
    outputs.push({ path: dir, flag: '--intermediates', kind: 'folder', mkdir: true });
    for (const f of INTERMEDIATE_FILES) outputs.push({ path: join(dir, f), flag: `--intermediates (${f})`, kind: 'file', mkdir: true });
  }
  const inputs: SafetyInput[] = [{ path: positionals[0], what: 'composite' }, { path: mask, what: 'mask' }];
  checkOutputs(inputs, outputs, { overwrite });
  return { mode: 'single', composite: positionals[0], mask, out, intermediates: dir, inputs, outputs };
}

export const intrinsicCommand: Command = {
  name: 'intrinsic',
  summary: 'Intrinsic Compositing stage: semi-harmonize a composite (albedo edits + Lambertian re-shading), or pre-compute a dataset cache',
  usage: 'harmonia intrinsic <composite> --mask <mask> -o <out> [--intermediates <dir>] [--light x,y,z,ambient] [--profile photo|capture] [--stages albedo,shading] [--decomposition poisson|guided]\n' +
    '       harmonia intrinsic --data <iHarmony4 dir> [--list <file>] --cache <dir> [--limit N] [--size N]',
  options: {
    mask: { type: 'string', short: 'm', description: 'foreground mask (white = foreground; RGBA alpha works too)' },
    out: { type: 'string', short: 'o', description: 'output image (.png/.jpg/.webp/.tif), same size as the input' },
    intermediates: { type: 'string', description: 'folder for albedo, shading, harmonized albedo, re-shading, normals, light sphere and light.json' },
    light: { type: 'string', description: 'manual light x,y,z,ambient (x right, y up, z toward the camera)' },
    stages: { type: 'string', default: 'albedo,shading', description: 'stages to run: albedo, shading or albedo,shading' },
    decomposition: { type: 'string', default: 'poisson', description: 'shading estimate: poisson (Retinex + screened Poisson) or guided (fast fallback)' },
    profile: { type: 'string', default: 'photo', description: 'photo (composites made by colour transfer: all albedo edits, statistics light) or capture (foreground differs by illuminant/exposure/light only: white balance + exposure, learned light from models/light)' },
    'light-method': { type: 'string', description: 'background light estimate: statistics (photo profile) or learned (capture profile)' },
    'max-side': { type: 'string', default: String(DEFAULT_INTRINSIC_ANALYSIS_SIDE), description: 'long side of the analysis copy, an integer in [16, 1024] (the output keeps the input size)' },
    data: { type: 'string', description: 'batch mode: iHarmony4-layout dataset root' },
    list: { type: 'string', description: 'batch mode: list file of composites (default: the dataset lists)' },
    cache: { type: 'string', description: 'batch mode: cache folder (<cache>/intrinsic-<size>-<options hash>/<id>.png; existing files are kept, so runs resume); `harmonia train --cache` reads it' },
    size: { type: 'string', description: 'batch mode: resize composite and mask to size×size first, as the trainer does (its preset image size, e.g. 256); default: full resolution' },
    limit: { type: 'string', description: 'batch mode: process at most N samples' },
    overwrite: { type: 'boolean', default: false, description: 'replace read-only existing outputs (their permissions are kept)' },
    quiet: { type: 'boolean', default: false, description: 'no progress bar' },
  },
  async run({ values, positionals }) {
    const profile = str(values.profile) ?? 'photo';
    if (!(INTRINSIC_PROFILES as readonly string[]).includes(profile)) throw new HarmoniaError(`--profile must be ${INTRINSIC_PROFILES.join(' or ')}, got "${profile}"`);
    const flagOptions = intrinsicOptionsFromFlags(values);
    const plan = planIntrinsicPaths(values, positionals);
    if (plan.mode === 'batch') {
      const { data, cache, limit, size } = plan;
      prepareOutputs(plan.outputs);
      const base = intrinsicProfile(profile as IntrinsicProfile, profile === 'capture' ? await loadLightModel() : undefined);
      const options = { ...base, ...flagOptions };
      const r = await precomputeSemiHarmonized({ data, list: str(values.list), cache, limit, size, intrinsic: options, quiet: Boolean(values.quiet) });
      console.log(`intrinsic: ${r.written} written, ${r.skipped} already cached, ${r.total} samples in ${r.dir}`);
      return 0;
    }
    const { out, mask: maskPath, intermediates: dir, outputs } = plan;
    const base = intrinsicProfile(profile as IntrinsicProfile, profile === 'capture' ? await loadLightModel() : undefined);
    const options = { ...base, ...flagOptions };
    const composite = await readImage(positionals[0]);
    const mask = await readMask(maskPath, { expect: { width: composite.width, height: composite.height, what: `composite ${positionals[0]}` } });
    prepareOutputs(outputs);
    const r = semiHarmonize(composite, mask, options);
    await writeImage(out, r.semiHarmonized, { mkdir: true, inputs: [positionals[0], maskPath] });
    const it = r.intermediates;
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
