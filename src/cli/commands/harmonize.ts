import { existsSync, statSync, mkdirSync } from 'node:fs';
import { HarmoniaError } from '../../errors.ts';
import type { Command } from '../types.ts';
import { writeFileAtomic } from '../../image/atomic.ts';
import { formatFromPath, readImage, readCutout } from '../../image/io.ts';
import { assertWritableOutput } from '../../util/paths.ts';
import { harmonizeWithReport } from '../../pipeline/harmonize.ts';
import { harmonizeBatch, pairFolder } from '../../pipeline/batch.ts';
import { placeForeground, defaultPlacement } from '../../pipeline/compose.ts';
import type { Stage } from '../../pipeline/refine.ts';

function parsePair(s: string, what: string): [number, number] {
  const p = s.split(',').map(Number);
  if (p.length !== 2 || p.some((v) => !Number.isFinite(v))) throw new HarmoniaError(`--${what} must be two numbers "x,y", got "${s}"`);
  return [p[0], p[1]];
}

export const harmonizeCommand: Command = {
  name: 'harmonize',
  summary: 'harmonize a composite (or a folder of them) with the default model',
  usage: 'harmonia harmonize <composite> --mask <mask> -o <out>  |  harmonia harmonize --background <bg> --foreground <rgba.png> [--at x,y] [--scale s] -o <out>  |  harmonia harmonize <folder> --mask <mask-folder> -o <out-folder>',
  options: {
    mask: { type: 'string', short: 'm', description: 'mask image (white = foreground, any channel count) or, in folder mode, a folder of masks with the same names' },
    output: { type: 'string', short: 'o', description: 'output image (.png/.jpg/.webp/.tif) or folder' },
    background: { type: 'string', description: 'background image (cut-out mode)' },
    foreground: { type: 'string', description: 'RGBA cut-out whose alpha is the mask (cut-out mode)' },
    at: { type: 'string', description: 'top-left position x,y of the cut-out in background pixels (default: centred on the lower half)' },
    scale: { type: 'string', description: 'scale of the cut-out (default: fit about 45% of the background)' },
    stage: { type: 'string', description: 'intrinsic | gan | full (default: full with the default model, intrinsic when none is installed)' },
    model: { type: 'string', description: 'model folder (default: models/default shipped with Harmonia)' },
    'harmonize-background': { type: 'boolean', default: false, description: 'let the result change background pixels too' },
    'max-side': { type: 'string', default: '1024', description: 'long side at which G runs (the intrinsic stage analyses at ≤ min(this, 512)); corrections are applied at full resolution' },
    report: { type: 'string', description: 'write a JSON report of per-image timings here' },
    overwrite: { type: 'boolean', default: false, description: 'folder mode: redo outputs that already exist' },
    quality: { type: 'string', description: 'JPEG/WebP quality (default 95)' },
  },
  async run({ values, positionals }) {
    const out = values.output as string | undefined;
    if (!out) throw new HarmoniaError('-o/--output is required');
    const stage = values.stage as Stage | undefined;
    if (stage && !['intrinsic', 'gan', 'full'].includes(stage)) throw new HarmoniaError(`--stage must be intrinsic, gan or full, got "${stage}"`);
    const maxSide = Number(values['max-side']);
    const common = {
      stage,
      model: values.model as string | undefined,
      harmonizeBackground: Boolean(values['harmonize-background']),
      analysisMaxSide: maxSide,
      quality: values.quality ? Number(values.quality) : undefined,
    };
    const input = positionals[0];
    if (positionals.length > 1) throw new HarmoniaError(`expected one composite (or folder), got ${positionals.length}: ${positionals.join(' ')}`);
    // Folder mode
    if (input && existsSync(input) && statSync(input).isDirectory()) {
      const maskDir = values.mask as string | undefined;
      if (!maskDir || !existsSync(maskDir) || !statSync(maskDir).isDirectory()) throw new HarmoniaError('folder mode needs --mask <folder of masks with the same names>');
      mkdirSync(out, { recursive: true });
      const items = pairFolder(input, maskDir, out);
      const timings = await harmonizeBatch(items, { ...common, overwrite: Boolean(values.overwrite) });
      const done = timings.filter((t) => !t.skipped);
      const mean = done.length ? done.reduce((a, t) => a + t.ms, 0) / done.length : 0;
      console.log(`harmonized ${done.length} image(s) (${timings.length - done.length} already done) into ${out}; mean ${mean.toFixed(0)} ms/image`);
      if (values.report) await writeFileAtomic(values.report as string, JSON.stringify({ images: timings }, null, 2) + '\n');
      return 0;
    }
    let composite;
    let mask;
    const inputs: string[] = [];
    if (values.background || values.foreground) {
      if (!values.background || !values.foreground) throw new HarmoniaError('cut-out mode needs both --background and --foreground');
      if (input) throw new HarmoniaError('give either a composite or --background/--foreground, not both');
      inputs.push(values.background as string, values.foreground as string);
      const bg = await readImage(values.background as string);
      const cut = await readCutout(values.foreground as string);
      const place = defaultPlacement(bg, cut.image);
      if (values.scale !== undefined) {
        place.scale = Number(values.scale);
        if (!(place.scale > 0)) throw new HarmoniaError(`--scale must be a positive number, got "${values.scale}"`);
      }
      if (values.at) [place.x, place.y] = parsePair(values.at as string, 'at');
      const placed = placeForeground(bg, cut.image, cut.mask, place);
      composite = placed.composite;
      mask = placed.mask;
    } else {
      if (!input) throw new HarmoniaError('give a composite image (or --background and --foreground)');
      if (!values.mask) throw new HarmoniaError('--mask is required with a composite');
      inputs.push(input, values.mask as string);
      composite = input;
      mask = values.mask as string;
    }
    formatFromPath(out);
    assertWritableOutput(out, { inputs, mkdir: true });
    const r = await harmonizeWithReport({ ...common, composite, mask, format: formatFromPath(out) });
    await writeFileAtomic(out, r.image);
    const t = Object.entries(r.timings).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ');
    console.log(`wrote ${out} (${r.width}×${r.height}, stage ${r.stage}${r.model ? `, model ${r.model}` : ''}; ${t})`);
    for (const n of r.notes) console.log(`note: ${n}`);
    if (values.report) {
      await writeFileAtomic(values.report as string, JSON.stringify({ images: [{ name: out, width: r.width, height: r.height, stage: r.stage, model: r.model ?? null, stages: r.timings, notes: r.notes }] }, null, 2) + '\n');
    }
    return 0;
  },
};
