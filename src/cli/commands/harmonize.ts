import { existsSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { readIHarmonyDataset } from '../../data/iharmony4.ts';
import { HarmoniaError } from '../../errors.ts';
import type { Command } from '../types.ts';
import { writeFileAtomic } from '../../util/atomic.ts';
import { formatFromPath, readImage, readCutout, probeImage, DEFAULT_MAX_PIXELS, type OutputFormat } from '../../image/io.ts';
import { canonicalPath, checkOutputs, prepareOutputs, type SafetyInput, type SafetyOutput } from '../../util/output-safety.ts';
import { FLAG_RANGES, numberFlag, requiredNumberFlag, describeRange } from '../flags.ts';
import { UsageError, note, output as cliOutput } from '../usage.ts';
import { harmonizeWithReport } from '../../pipeline/harmonize.ts';
import { harmonizeBatch, pairFolderDetailed, planBatch, batchRecipe, MANIFEST_NAME, type BatchItem, type SkippedFile } from '../../pipeline/batch.ts';
import { placeForeground, defaultPlacement, placedShare } from '../../pipeline/compose.ts';
import type { Stage } from '../../pipeline/refine.ts';
import { STAGES, isOneOf, listWords } from '../../config/index.ts';
import { invalidParameter } from '../../util/is.ts';

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function parsePair(s: string, what: string): [number, number] {
  const p = s.split(',').map(Number);
  if (p.length !== 2 || p.some((v) => !Number.isFinite(v))) throw new HarmoniaError(`--${what} must be two numbers "x,y", got "${s}"`);
  return [p[0], p[1]];
}

type Values = Record<string, string | boolean | string[] | undefined>;

/** What `harmonia harmonize` will read and write, validated (flags, then every output path). */
export type HarmonizePlan = {
  common: { stage?: Stage; model?: string; harmonizeBackground: boolean; analysisMaxSide: number; quality?: number };
  overwrite: boolean;
  report?: string;
  out: string;
  inputs: SafetyInput[];
  /** Every path the run may write, each already checked. */
  outputs: SafetyOutput[];
} & (
  | { mode: 'folder'; input: string; maskDir: string; items: BatchItem[]; skipped: SkippedFile[] }
  | { mode: 'single'; composite: string; mask: string; format: OutputFormat }
  | { mode: 'cutout'; background: string; foreground: string; scale?: number; at?: [number, number]; format: OutputFormat }
);

/**
 * Validates every flag and every output path of `harmonia harmonize` before any image is decoded
 * (folder mode lists the folders). Throws a HarmoniaError naming the flag or file. Read-only outputs
 * of folder mode are checked later, once resume has decided which outputs are redone.
 */
export function planHarmonize(values: Values, positionals: string[], dataset?: BatchItem[]): HarmonizePlan {
  // the missing input first (issue 26): `harmonia harmonize` alone says what to give
  if (!positionals[0] && !dataset && !str(values.background) && !str(values.foreground)) {
    throw new UsageError('give a composite image (or a folder of them, or - for stdin) with --mask, or --background with --foreground');
  }
  const out = str(values.output);
  if (!out) throw new HarmoniaError('-o/--output is required');
  const stage = values.stage as Stage | undefined;
  if (stage && !isOneOf(STAGES, stage)) throw new HarmoniaError(`--stage must be ${listWords(STAGES)}, got "${stage}"`);
  const R = FLAG_RANGES.harmonize;
  const maxSide = requiredNumberFlag(values, 'max-side', R['max-side']);
  const quality = numberFlag(values, 'quality', R.quality);
  const scale = numberFlag(values, 'scale', R.scale);
  const at = values.at !== undefined ? parsePair(String(values.at), 'at') : undefined;
  const report = str(values.report);
  const overwrite = Boolean(values.overwrite);
  const common = { stage, model: str(values.model), harmonizeBackground: Boolean(values['harmonize-background']), analysisMaxSide: maxSide, quality };
  const input = positionals[0];
  if (positionals.length > 1) throw new HarmoniaError(`expected one composite (or folder), got ${positionals.length}: ${positionals.join(' ')}`);
  const folderMode = !!input && existsSync(input) && statSync(input).isDirectory();
  if (out === '-' && (folderMode || dataset)) throw new UsageError('-o - (stdout) is for one image; a folder run writes a folder');
  // the report's folder must exist, unless it is the folder that -o creates anyway
  const reportMkdir = !!report && canonicalPath(dirname(report)) === canonicalPath(folderMode ? out : dirname(out));
  const reportOut: SafetyOutput[] = report ? [{ path: report, flag: '--report', kind: 'file', mkdir: reportMkdir, ext: { list: ['.json'], format: 'JSON' } }] : [];
  const base = { common, overwrite, report, out };
  if (dataset) {
    const root = str(values.data) as string;
    if (input) throw new HarmoniaError('--data takes no composite argument (the list names the composites)');
    if (values.mask || values.background || values.foreground || scale !== undefined || at) throw new HarmoniaError('--data takes no --mask, --background, --foreground, --scale or --at (the dataset pairs composites and masks)');
    const outDir: SafetyOutput = { path: out, flag: '-o', kind: 'folder', mkdir: true };
    const folders: SafetyInput[] = [{ path: root, what: 'dataset folder', kind: 'folder' }];
    checkOutputs(folders, [outDir, ...reportOut]);
    const inputs = [...folders, ...dataset.flatMap((it): SafetyInput[] => [{ path: it.composite, what: 'composite' }, { path: it.mask, what: 'mask' }])];
    const outputs = [outDir, ...folderItemOutputs(dataset), ...reportOut, { path: join(out, MANIFEST_NAME), flag: '-o (resume manifest)', kind: 'file', mkdir: true } as SafetyOutput];
    checkOutputs(inputs, outputs.slice(1), { overwrite: true });
    return { ...base, mode: 'folder', input: root, maskDir: root, items: dataset, skipped: [], inputs, outputs };
  }
  if (input && folderMode) {
    const maskDir = str(values.mask);
    if (!maskDir || !existsSync(maskDir) || !statSync(maskDir).isDirectory()) throw new HarmoniaError('folder mode needs --mask <folder of masks with the same names>');
    if (values.background || values.foreground || scale !== undefined || at) throw new HarmoniaError('folder mode takes no --background, --foreground, --scale or --at');
    const outDir: SafetyOutput = { path: out, flag: '-o', kind: 'folder', mkdir: true };
    const folders: SafetyInput[] = [{ path: input, what: 'composite folder', kind: 'folder' }, { path: maskDir, what: 'mask folder', kind: 'folder' }];
    checkOutputs(folders, [outDir, ...reportOut]);
    const { items, skipped } = pairFolderDetailed(input, maskDir, out);
    const inputs = [...folders, ...items.flatMap((it): SafetyInput[] => [{ path: it.composite, what: 'composite' }, { path: it.mask, what: 'mask' }])];
    const outputs = [outDir, ...folderItemOutputs(items), ...reportOut, { path: join(out, MANIFEST_NAME), flag: '-o (resume manifest)', kind: 'file', mkdir: true } as SafetyOutput];
    checkOutputs(inputs, outputs.slice(1), { overwrite: true });
    return { ...base, mode: 'folder', input, maskDir, items, skipped, inputs, outputs };
  }
  // -o - writes the PNG to stdout; - as the composite or the mask reads it from stdin
  const format = out === '-' ? 'png' : formatFromPath(out);
  const outputs: SafetyOutput[] = [...(out === '-' ? [] : [{ path: out, flag: '-o', kind: 'file', mkdir: true } as SafetyOutput]), ...reportOut];
  if (values.background || values.foreground) {
    const background = str(values.background), foreground = str(values.foreground);
    if (!background || !foreground) throw new HarmoniaError('cut-out mode needs both --background and --foreground');
    if (input) throw new HarmoniaError('give either a composite or --background/--foreground, not both');
    const inputs: SafetyInput[] = [{ path: background, what: 'background' }, { path: foreground, what: 'foreground' }];
    checkOutputs(inputs, outputs, { overwrite });
    return { ...base, mode: 'cutout', background, foreground, scale, at, format, inputs, outputs };
  }
  if (!input) throw new HarmoniaError('give a composite image (or --background and --foreground)');
  const mask = str(values.mask);
  if (!mask) throw new HarmoniaError('--mask is required with a composite');
  if (scale !== undefined || at) throw new HarmoniaError('--scale and --at are for cut-out mode (--background/--foreground)');
  if (input === '-' && mask === '-') throw new UsageError('only one of the composite and --mask can come from stdin (-)');
  const inputs: SafetyInput[] = [{ path: input, what: 'composite' }, { path: mask, what: 'mask' }].filter((i) => i.path !== '-');
  checkOutputs(inputs, outputs, { overwrite });
  return { ...base, mode: 'single', composite: input, mask, format, inputs, outputs };
}

/** All of stdin (`-` as an input), refusing a terminal and an empty stream. */
async function readStdin(what: string): Promise<Uint8Array> {
  if (process.stdin.isTTY) throw new UsageError(`${what} is - (stdin), but stdin is a terminal: pipe an image in`);
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const bytes = Buffer.concat(chunks);
  if (bytes.byteLength === 0) throw new HarmoniaError(`stdin (-): ${what} is empty (0 bytes)`);
  return bytes;
}

/** Writes the encoded result to stdout (`-o -`), waiting until it is flushed. */
function writeStdout(bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(bytes, (err) => (err ? reject(new HarmoniaError(`-o -: cannot write to stdout (${err.message})`)) : resolve())));
}

function folderItemOutputs(items: readonly BatchItem[]): SafetyOutput[] {
  return items.map((it) => ({ path: it.output, flag: '-o (folder mode output)', kind: 'file', mkdir: true }));
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
    scale: { type: 'string', description: `scale of the cut-out, ${describeRange(FLAG_RANGES.harmonize.scale)} and the scaled cut-out at most 100 megapixels (default: fit about 45% of the background)` },
    stage: { type: 'string', description: 'intrinsic | gan | full (default: full with the default model, intrinsic when none is installed)' },
    model: { type: 'string', description: 'model folder (default: models/default shipped with Harmonia)' },
    'harmonize-background': { type: 'boolean', default: false, description: 'let the result change background pixels too' },
    'max-side': { type: 'string', default: '1024', description: `long side at which G runs, ${describeRange(FLAG_RANGES.harmonize['max-side'])} (the intrinsic stage analyses at ≤ min(this, 512)); corrections are applied at full resolution` },
    report: { type: 'string', description: 'write a JSON report of per-image timings here (its folder must exist; never an input or the output)' },
    overwrite: { type: 'boolean', default: false, description: 'folder mode: redo outputs that already exist; any mode: replace a read-only existing output (its permissions are kept)' },
    quality: { type: 'string', description: `JPEG/WebP quality, ${describeRange(FLAG_RANGES.harmonize.quality)} (default 95)` },
    data: { type: 'string', description: 'dataset mode: an iHarmony4-layout folder; harmonizes the composites of its test lists (or --list) into -o, named like the composites (what `harmonia evaluate --pred` reads)' },
    list: { type: 'string', description: 'dataset mode: a list file of composites (default: the test lists)' },
    'keep-going': { type: 'boolean', default: false, description: 'folder and dataset mode: report a bad image and go on with the rest; the exit code is 1 at the end when any failed, and the summary lists them' },
    identity: { type: 'boolean', default: false, description: 'dataset mode, do no harm: harmonize the real photos of the list themselves (with their masks), named like the listed composites; `harmonia evaluate --identity` then reports the damage' },
  },
  async run({ values, positionals }) {
    // 1. every flag and every output path, before any compute
    let dataset: BatchItem[] | undefined;
    if (typeof values.data === 'string') {
      const out = str(values.output);
      if (!out) throw new HarmoniaError('-o/--output is required');
      const samples = await readIHarmonyDataset(values.data, { split: 'test', list: str(values.list), check: false, identity: Boolean(values.identity) });
      if (samples.length === 0) throw new HarmoniaError('no composites listed', { file: values.data });
      // named by the listed composite (the sample id's stem), which is what `evaluate --pred` looks up
      const stem = (id: string) => id.slice(id.lastIndexOf('/') + 1);
      dataset = samples.map((smp) => ({ name: stem(smp.id), composite: smp.composite, mask: smp.mask, output: join(out, `${stem(smp.id)}.png`) }));
    } else if (values.list !== undefined) throw new HarmoniaError('--list needs --data');
    else if (values.identity) throw new HarmoniaError('--identity needs --data (it harmonizes the real photos of a dataset\'s list)');
    const plan = planHarmonize(values, positionals, dataset);
    if (values['keep-going'] && plan.mode !== 'folder') throw new HarmoniaError('--keep-going: only for folder runs (a folder of composites, or --data)');
    const { common, overwrite, report, out } = plan;
    if (plan.mode === 'folder') {
      const { items, skipped, input } = plan;
      const resume = await planBatch(items, { overwrite, recipe: batchRecipe(common) }); // outputs of other options or another model are redone (issue 28)
      // read-only outputs that are to be (re)done: refused unless --overwrite
      checkOutputs([], folderItemOutputs(resume.todo.map((t) => t.item)), { overwrite });
      prepareOutputs(plan.outputs);
      for (const sk of skipped) console.log(`skipped ${join(input, sk.file)}: ${sk.reason}`);
      const keepGoing = Boolean(values['keep-going']);
      const timings = await harmonizeBatch(items, { ...common, overwrite, plan: resume, continueOnError: keepGoing });
      const failed = timings.filter((t) => t.error !== undefined);
      for (const t of failed) console.error(`failed ${t.name}: ${t.error}`);
      const done = timings.filter((t) => !t.skipped && t.error === undefined);
      for (const t of done) if (t.redone) console.log(`redid ${t.name}: ${t.redone}`);
      const mean = done.length ? done.reduce((a, t) => a + t.ms, 0) / done.length : 0;
      console.log(`harmonized ${done.length} image(s) (${timings.length - done.length - failed.length} already done${skipped.length ? `, ${skipped.length} file(s) skipped` : ''}${failed.length ? `, ${failed.length} failed` : ''}) into ${out}; mean ${mean.toFixed(0)} ms/image`);
      if (report) await writeFileAtomic(report, JSON.stringify({ images: timings, skipped }, null, 2) + '\n');
      if (failed.length) {
        console.error(`harmonize: ${failed.length} of ${timings.length} image(s) failed (--keep-going): ${failed.slice(0, 10).map((t) => t.name).join(', ')}${failed.length > 10 ? ', …' : ''}`);
        return 1;
      }
      return 0;
    }
    let composite;
    let mask;
    if (plan.mode === 'cutout') {
      const { scale, at } = plan;
      if (scale !== undefined) {
        // bound the scaled cut-out by the same pixel limit as the inputs, from the header, before decoding
        const fg = await probeImage(plan.foreground);
        const px = Math.max(1, Math.round(fg.width * scale)) * Math.max(1, Math.round(fg.height * scale));
        if (px > DEFAULT_MAX_PIXELS) {
          throw invalidParameter('--scale', describeRange(FLAG_RANGES.harmonize.scale), String(values.scale), `the ${fg.width}×${fg.height} cut-out would be ${(px / 1e6).toFixed(0)} megapixels, over the ${DEFAULT_MAX_PIXELS / 1e6} MP limit`);
        }
      }
      const bg = await readImage(plan.background);
      const cut = await readCutout(plan.foreground);
      const place = defaultPlacement(bg, cut.image);
      if (scale !== undefined) place.scale = scale;
      if (at) [place.x, place.y] = at;
      const placed = placeForeground(bg, cut.image, cut.mask, place);
      // a placement that harmonizes nothing is an error, a partly cut-off one a note (issue 28)
      const on = placedShare(cut.mask, place, placed.mask);
      const where = `the ${cut.image.width}×${cut.image.height} cut-out at ${at ? `--at ${at.join(',')}` : 'its default place'}${scale !== undefined ? ` --scale ${String(values.scale)}` : ''}`;
      if (on.cutoutArea === 0) throw new HarmoniaError('the foreground cut-out is fully transparent (no alpha above 127/255): nothing to harmonize', { file: plan.foreground });
      if (on.placedArea === 0) throw new HarmoniaError(`${where} lies outside the ${bg.width}×${bg.height} background: nothing to harmonize (choose --at inside it)`);
      if (on.share < 0.99) note(`only ${(on.share * 100).toFixed(0)} % of ${where} lies on the ${bg.width}×${bg.height} background; the rest is cut off`);
      composite = placed.composite;
      mask = placed.mask;
    } else {
      composite = plan.composite === '-' ? await readStdin('the composite') : plan.composite;
      mask = plan.mask === '-' ? await readStdin('the mask') : plan.mask;
    }
    prepareOutputs(plan.outputs);
    const r = await harmonizeWithReport({ ...common, composite, mask, format: plan.format });
    if (out === '-') await writeStdout(r.image);
    else await writeFileAtomic(out, r.image);
    const t = Object.entries(r.timings).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ');
    const summary = `wrote ${out === '-' ? 'the PNG to stdout' : out} (${r.width}×${r.height}, stage ${r.stage}${r.model ? `, model ${r.model}` : ''}; ${t})`;
    if (out !== '-') console.log(summary);
    else if (!cliOutput.quiet) console.error(summary); // stdout carries the image
    for (const n of r.notes) note(n); // stderr, once (--quiet: none)
    if (report) {
      await writeFileAtomic(report, JSON.stringify({ images: [{ name: out, width: r.width, height: r.height, stage: r.stage, model: r.model ?? null, stages: r.timings, notes: r.notes }] }, null, 2) + '\n');
    }
    return 0;
  },
};
