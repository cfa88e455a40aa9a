/**
 * The bad-input matrix of issue 17 (docs/RELIABILITY.md, "CLI matrix"): one row per case. Each row runs
 * in a fresh fixture folder and asserts the exit code, the one-line message (naming the flag or file),
 * no stack trace, that no file appeared, changed or vanished that should not have, and that the inputs
 * are byte-identical afterwards. Rows run in-process through main() (fast); a few also as real
 * processes. Success rows (resume, --overwrite, skipped files) assert the files they must produce.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, statSync, symlinkSync, utimesSync, writeFileSync,
} from 'node:fs';
import { deflateSync } from 'node:zlib';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HarmoniaError } from '../../src/errors.ts';
import { harmonize } from '../../src/pipeline/harmonize.ts';
import sharp from 'sharp';
import { readImage, readCutout } from '../../src/image/io.ts';
import { FLAG_RANGES, TRAIN_LOSS_WEIGHT_RANGE, numberFlag } from '../../src/cli/flags.ts';
import { writeSubsetLists } from '../../src/data/iharmony4.ts';
import { makeComposites } from '../../src/data/composites.ts';
import { writeProceduralDataset } from '../../src/data/procedural.ts';
import { getPreset, settingConfig } from '../../src/train/presets.ts';
import { mergeTrainConfig } from '../../src/train/config.ts';
import { validateCheckpointState, CHECKPOINT_VERSION } from '../../src/train/checkpoint.ts';
import { LIGHT_NET_INPUT_SIDE } from '../../src/intrinsic/light-net.ts';
import { patternRgb, rawToPng, rawToJpeg, bombPng } from '../fixtures-gen/images.ts';
import { tempDirFactory } from '../helpers.ts';
import { runCli } from '../run-cli.ts';

const tempDir = tempDirFactory();
const BIN = fileURLToPath(new URL('../../bin/harmonia.mjs', import.meta.url));
const W = 32, H = 24;

let bytesCache: { comp: Buffer; compJpg: Buffer; mask: Buffer; cut: Buffer; small: Buffer } | undefined;
async function bytes(): Promise<NonNullable<typeof bytesCache>> {
  if (bytesCache) return bytesCache;
  const m = Buffer.alloc(W * H);
  for (let i = 0; i < m.length; i++) m[i] = i % W > 8 && i % W < 20 ? 255 : 0;
  const rgba = Buffer.alloc(8 * 8 * 4);
  for (let i = 0; i < 64; i++) rgba.set([200, 40, 40, i % 8 > 1 && i % 8 < 6 ? 255 : 0], i * 4);
  bytesCache = {
    comp: await rawToPng(patternRgb(W, H), W, H, 3),
    compJpg: await rawToJpeg(patternRgb(W, H), W, H, 3),
    mask: await rawToPng(m, W, H, 1),
    cut: await rawToPng(rgba, 8, 8, 4),
    small: await rawToPng(patternRgb(10, 10), 10, 10, 3),
  };
  return bytesCache;
}

/**
 * A fresh fixture folder: c.png + m.png (single mode), f/c/{a,b}.jpg + f/m/{a,b}.png (folder mode),
 * bg.png + cut.png (cut-out mode), ds/ (a folder standing in for a dataset), plain.txt.
 */
async function fixture(): Promise<string> {
  const b = await bytes();
  const d = tempDir('harmonia-matrix-');
  chmodSync(d, 0o755);
  writeFileSync(join(d, 'c.png'), b.comp);
  writeFileSync(join(d, 'm.png'), b.mask);
  writeFileSync(join(d, 'bg.png'), b.comp);
  writeFileSync(join(d, 'cut.png'), b.cut);
  writeFileSync(join(d, 'plain.txt'), 'not an image\n');
  for (const s of ['f/c', 'f/m', 'ds/Sub']) mkdirSync(join(d, s), { recursive: true });
  for (const n of ['a', 'b']) {
    writeFileSync(join(d, 'f/c', `${n}.jpg`), b.compJpg);
    writeFileSync(join(d, 'f/m', `${n}.png`), b.mask);
  }
  writeFileSync(join(d, 'ds/Sub/x.png'), b.comp);
  return d;
}

type Tree = Map<string, string>;
/** Every entry under `d`: file → sha256 + mode, symlink → target, folder → mode. */
function snapshot(d: string): Tree {
  const t: Tree = new Map();
  const walk = (p: string): void => {
    for (const n of readdirSync(p).sort()) {
      const f = join(p, n);
      const st = lstatSync(f);
      const rel = relative(d, f);
      if (st.isSymbolicLink()) t.set(rel, `link:${readlinkSync(f)}`);
      else if (st.isDirectory()) { t.set(rel + '/', `dir:${(st.mode & 0o777).toString(8)}`); walk(f); }
      else if (st.isFile()) t.set(rel, `${createHash('sha256').update(readFileSync(f)).digest('hex')}:${(st.mode & 0o777).toString(8)}`);
      else t.set(rel, 'special'); // FIFO, device: never read
    }
  };
  walk(d);
  return t;
}
function diff(a: Tree, b: Tree): { created: string[]; changed: string[]; removed: string[] } {
  return {
    created: [...b.keys()].filter((k) => !a.has(k)),
    changed: [...b.keys()].filter((k) => a.has(k) && a.get(k) !== b.get(k)),
    removed: [...a.keys()].filter((k) => !b.has(k)),
  };
}


interface Row {
  name: string;
  /** Arguments, `@/` replaced by the fixture folder. */
  args: string[];
  /** Arrange the fixture before the run (links, read-only files, stale outputs). */
  prep?: (d: string) => void | Promise<void>;
  /** The one stderr line must match. */
  msg: RegExp;
  code?: number;
}

const I = ['--stage', 'intrinsic'];
const ro = (p: string) => (d: string) => { writeFileSync(join(d, p), 'old'); chmodSync(join(d, p), 0o444); };

/**
 * A real-image source for make-composites under `d/src`: real_images/{a,b,c,e}.png (32×24) and their
 * masks; train a, b, c; test e and f (so every split has a reference). `bad` replaces one file's bytes.
 */
async function compositeSource(d: string, bad: Record<string, Buffer> = {}): Promise<string> {
  const b = await bytes();
  const src = join(d, 'src');
  mkdirSync(join(src, 'real_images'), { recursive: true });
  mkdirSync(join(src, 'masks'), { recursive: true });
  for (const n of ['a', 'b', 'c', 'e', 'f']) {
    const real = await rawToPng(patternRgb(W, H).map((v, i) => (v + 37 * n.charCodeAt(0) * (i % 3 + 1)) % 256), W, H, 3);
    writeFileSync(join(src, 'real_images', `${n}.png`), real);
    writeFileSync(join(src, 'masks', `${n}_1.png`), b.mask);
  }
  writeFileSync(join(src, 'src_train.txt'), 'a_1_1.png\nb_1_1.png\nc_1_1.png\n');
  writeFileSync(join(src, 'src_test.txt'), 'e_1_1.png\nf_1_1.png\n');
  for (const [rel, bytes_] of Object.entries(bad)) writeFileSync(join(src, rel), bytes_);
  return src;
}

/** A one-image iHarmony4 dataset under `d/ds2` (subset Sub, composite `cw`×`ch`) and a prediction folder `d/pred`. */
async function evalDataset(d: string, predSize: [number, number], [cw, ch]: [number, number] = [W, H]): Promise<void> {
  const m = Buffer.alloc(cw * ch);
  for (let i = 0; i < m.length; i++) m[i] = i % cw > cw / 4 && i % cw < (3 * cw) / 4 ? 255 : 0;
  const comp = await rawToPng(patternRgb(cw, ch), cw, ch, 3);
  for (const s of ['composite_images', 'masks', 'real_images']) mkdirSync(join(d, 'ds2/Sub', s), { recursive: true });
  writeFileSync(join(d, 'ds2/Sub/composite_images/x_1_1.png'), comp);
  writeFileSync(join(d, 'ds2/Sub/masks/x_1.png'), await rawToPng(m, cw, ch, 1));
  writeFileSync(join(d, 'ds2/Sub/real_images/x.png'), comp);
  await writeSubsetLists(join(d, 'ds2'), 'Sub', { train: [], test: ['x_1_1.png'] });
  mkdirSync(join(d, 'pred'));
  writeFileSync(join(d, 'pred/x_1_1.png'), await rawToPng(patternRgb(predSize[0], predSize[1]), predSize[0], predSize[1], 3));
}

/** A two-frame animated GIF or WebP, 32×24 a frame. */
async function animated(format: 'gif' | 'webp'): Promise<Buffer> {
  const raw = Buffer.concat([Buffer.from(patternRgb(W, H)), Buffer.from(patternRgb(W, H).map((v) => 255 - v))]);
  const img = sharp(raw, { raw: { width: W, height: H * 2, channels: 3, pageHeight: H } });
  return format === 'gif' ? img.gif().toBuffer() : img.webp().toBuffer();
}

/** A state.json that passes validation (the smoke preset's content config, 2 steps, 2 epochs done), with `edit` applied. */
function checkpointState(edit: Record<string, unknown> = {}): Record<string, unknown> {
  const preset = getPreset('smoke');
  const config = mergeTrainConfig(settingConfig(preset, preset.train.loss.setting), {});
  return {
    version: CHECKPOINT_VERSION, config, notes: [], step: 2, epoch: 2, batch: 0,
    adam: { G: { t: 2, sizes: [3, 4] }, D: { t: 2, sizes: [5] } }, savedAt: '2026-01-01T00:00:00.000Z', ...edit,
  };
}
const withCheckpoint = (edit: Record<string, unknown>) => (d: string) => {
  mkdirSync(join(d, 'run/checkpoint'), { recursive: true });
  writeFileSync(join(d, 'run/checkpoint/state.json'), JSON.stringify(checkpointState(edit)));
};
const T = ['train', '--config', 'smoke', '--data', '@/ds', '--out', '@/run'];
const TR = ['train', '--config', 'smoke', '--real', '@/ds', '--out', '@/run'];

/** Refusals: exit 2, one line naming the flag/file, nothing created, changed or removed. */
const REFUSALS: Row[] = [
  // outputs that resolve to an input
  { name: 'folder -o = the mask folder, --overwrite', args: ['harmonize', '@/f/c', '-m', '@/f/m', '-o', '@/f/m', '--overwrite', ...I], msg: /^@\/f\/m: -o is the mask folder .*refusing to write into an input folder/ },
  { name: 'folder -o = the mask folder', args: ['harmonize', '@/f/c', '-m', '@/f/m', '-o', '@/f/m', ...I], msg: /^@\/f\/m: -o is the mask folder/ },
  { name: 'folder -o = the composite folder', args: ['harmonize', '@/f/c', '-m', '@/f/m', '-o', '@/f/c', ...I], msg: /-o is the composite folder/ },
  { name: 'folder -o inside the composite folder', args: ['harmonize', '@/f/c', '-m', '@/f/m', '-o', '@/f/c/out', ...I], msg: /-o is inside the composite folder/ },
  { name: 'folder -o = a symlink to the mask folder', prep: (d) => symlinkSync(join(d, 'f/m'), join(d, 'mlink')), args: ['harmonize', '@/f/c', '-m', '@/f/m', '-o', '@/mlink', '--overwrite', ...I], msg: /-o is the mask folder/ },
  { name: 'folder --report inside the mask folder', args: ['harmonize', '@/f/c', '-m', '@/f/m', '-o', '@/out', '--report', '@/f/m/r.json', ...I], msg: /--report is inside the mask folder/ },
  { name: 'folder -o = a file', args: ['harmonize', '@/f/c', '-m', '@/f/m', '-o', '@/plain.txt', ...I], msg: /^@\/plain\.txt: -o is a file, not a folder$/ },
  { name: 'folder -o under a file', args: ['harmonize', '@/f/c', '-m', '@/f/m', '-o', '@/plain.txt/out', ...I], msg: /-o cannot be written: .*plain\.txt is a file, not a folder/ },
  { name: '--report = the composite', args: ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', '--report', '@/c.png', ...I], msg: /^@\/c\.png: --report is the same file as the input composite/ },
  { name: '--report = the composite (c.jpg, as in the issue)', args: ['harmonize', '@/f/c/a.jpg', '-m', '@/f/m/a.png', '-o', '@/o.png', '--report', '@/f/c/a.jpg', ...I], msg: /^@\/f\/c\/a\.jpg: --report is the same file as the input composite/ },
  { name: 'intrinsic -o = the composite (c.jpg, as in the issue)', args: ['intrinsic', '@/f/c/a.jpg', '-m', '@/f/m/a.png', '-o', '@/f/c/a.jpg'], msg: /^@\/f\/c\/a\.jpg: -o is the same file as the input composite/ },
  { name: '--report = the mask', args: ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', '--report', '@/m.png', ...I], msg: /--report is the same file as the input mask/ },
  { name: '--report = -o', args: ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', '--report', '@/o.png', ...I], msg: /^@\/o\.png: --report is the same path as -o/ },
  { name: '--report = -o through ..', args: ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', '--report', '@/f/../o.png', ...I], msg: /--report is the same path as -o/ },
  { name: '--report into a missing folder (refused before the image is written)', args: ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', '--report', '@/nodir/r.json', ...I], msg: /--report cannot be written: the folder .*nodir does not exist/ },
  { name: 'harmonize -o = the composite', args: ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/c.png', ...I], msg: /-o is the same file as the input composite/ },
  { name: 'harmonize -o = a symlink to the mask', prep: (d) => symlinkSync(join(d, 'm.png'), join(d, 'lnk.png')), args: ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/lnk.png', ...I], msg: /-o is the same file as the input mask/ },
  { name: 'harmonize -o = a hard link to the composite', prep: (d) => linkSync(join(d, 'c.png'), join(d, 'hard.png')), args: ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/hard.png', '--overwrite', ...I], msg: /-o is the same file as the input composite/ },
  { name: 'harmonize -o = a dangling symlink to the composite path', prep: (d) => symlinkSync(join(d, 'c.png'), join(d, 'dl.png')), args: ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/dl.png', ...I], msg: /-o is the same file as the input composite/ },
  { name: 'harmonize -o through a symlinked folder to the composite', prep: (d) => symlinkSync(d, join(d, 'here')), args: ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/here/c.png', ...I], msg: /-o is the same file as the input composite/ },
  { name: 'cut-out -o = the background', args: ['harmonize', '--background', '@/bg.png', '--foreground', '@/cut.png', '-o', '@/bg.png', ...I], msg: /-o is the same file as the input background/ },
  { name: 'read-only existing -o without --overwrite', prep: ro('o.png'), args: ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', ...I], msg: /^@\/o\.png: -o exists and is read-only; refusing to replace it \(pass --overwrite/ },
  { name: 'read-only existing --report without --overwrite', prep: ro('r.json'), args: ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', '--report', '@/r.json', ...I], msg: /--report exists and is read-only/ },
  { name: 'intrinsic -o = the composite', args: ['intrinsic', '@/c.png', '-m', '@/m.png', '-o', '@/c.png'], msg: /^@\/c\.png: -o is the same file as the input composite/ },
  { name: 'intrinsic -o = the mask', args: ['intrinsic', '@/c.png', '-m', '@/m.png', '-o', '@/m.png'], msg: /^@\/m\.png: -o is the same file as the input mask/ },
  { name: 'intrinsic --intermediates = a file (the composite)', args: ['intrinsic', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', '--intermediates', '@/c.png'], msg: /--intermediates is the same file as the input composite/ },
  { name: 'intrinsic --intermediates = a file', args: ['intrinsic', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', '--intermediates', '@/plain.txt'], msg: /^@\/plain\.txt: --intermediates is a file, not a folder/ },
  { name: 'intrinsic --intermediates holding a hard link to the composite', prep: (d) => { mkdirSync(join(d, 'it')); linkSync(join(d, 'c.png'), join(d, 'it/albedo.png')); }, args: ['intrinsic', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', '--intermediates', '@/it'], msg: /--intermediates \(albedo\.png\) is the same file as the input composite/ },
  { name: 'intrinsic -o = an intermediate file', args: ['intrinsic', '@/c.png', '-m', '@/m.png', '-o', '@/it/albedo.png', '--intermediates', '@/it'], msg: /--intermediates \(albedo\.png\) is the same path as -o/ },
  { name: 'intrinsic read-only -o', prep: ro('o.png'), args: ['intrinsic', '@/c.png', '-m', '@/m.png', '-o', '@/o.png'], msg: /-o exists and is read-only/ },
  { name: 'intrinsic --cache = the dataset', args: ['intrinsic', '--data', '@/ds', '--cache', '@/ds'], msg: /--cache is the dataset/ },
  { name: 'intrinsic --cache inside the dataset', args: ['intrinsic', '--data', '@/ds', '--cache', '@/ds/cache'], msg: /--cache is inside the dataset/ },
  { name: 'evaluate --out inside the dataset', args: ['evaluate', '--data', '@/ds', '--out', '@/ds/eval'], msg: /^@\/ds\/eval: --out is inside the dataset/ },
  { name: 'evaluate --out = the predictions', args: ['evaluate', '--data', '@/ds', '--pred', '@/f/c', '--out', '@/f/c'], msg: /--out is the prediction folder/ },
  { name: 'evaluate --out = a file', args: ['evaluate', '--data', '@/ds', '--out', '@/plain.txt'], msg: /--out is a file, not a folder/ },
  { name: 'evaluate read-only table.md', prep: (d) => { mkdirSync(join(d, 'ev')); ro('ev/table.md')(d); }, args: ['evaluate', '--data', '@/ds', '--out', '@/ev'], msg: /--out \(table\.md\) exists and is read-only/ },
  { name: 'make-composites --out inside --real', args: ['make-composites', '--real', '@/ds', '--out', '@/ds/out'], msg: /--out is inside the source folder/ },
  { name: 'make-composites --sheet = a real image', args: ['make-composites', '--real', '@/ds', '--out', '@/mc', '--sheet', '@/ds/Sub/x.png'], msg: /--sheet is inside the source folder/ },
  // sizes and other numbers: documented maximum + 1, nonsense, and the cases of the issue
  { name: '--scale 200', args: ['harmonize', '--background', '@/bg.png', '--foreground', '@/cut.png', '-o', '@/o.png', '--scale', '200'], msg: /^--scale must be in \(0, 16\], got "200"/ },
  { name: '--scale 1000', args: ['harmonize', '--background', '@/bg.png', '--foreground', '@/cut.png', '-o', '@/o.png', '--scale', '1000'], msg: /^--scale must be in \(0, 16\], got "1000"/ },
  { name: '--scale 1e9', args: ['harmonize', '--background', '@/bg.png', '--foreground', '@/cut.png', '-o', '@/o.png', '--scale', '1e9'], msg: /^--scale must be in \(0, 16\], got "1e9"/ },
  { name: '--scale 17 (max + 1)', args: ['harmonize', '--background', '@/bg.png', '--foreground', '@/cut.png', '-o', '@/o.png', '--scale', '17'], msg: /^--scale must be in \(0, 16\]/ },
  { name: '--scale 0', args: ['harmonize', '--background', '@/bg.png', '--foreground', '@/cut.png', '-o', '@/o.png', '--scale', '0'], msg: /^--scale must be in \(0, 16\], got "0"/ },
  { name: '--scale abc', args: ['harmonize', '--background', '@/bg.png', '--foreground', '@/cut.png', '-o', '@/o.png', '--scale', 'abc'], msg: /^--scale must be in \(0, 16\], got "abc"/ },
  { name: '--scale 16 of a 3000×3000 cut-out (over the pixel limit)', prep: (d) => writeFileSync(join(d, 'big.png'), bombPng(3000, 3000)), args: ['harmonize', '--background', '@/bg.png', '--foreground', '@/big.png', '-o', '@/o.png', '--scale', '16'], msg: /^--scale must be in \(0, 16\], got "16" \(the 3000×3000 cut-out would be 2304 megapixels, over the 100 MP limit\)$/ },
  { name: '--scale without cut-out mode', args: ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', '--scale', '2'], msg: /--scale and --at are for cut-out mode/ },
  { name: 'evaluate --size 1e9', args: ['evaluate', '--data', '@/ds', '--size', '1e9'], msg: /^--size must be an integer in \[11, 2048\], got "1e9"/ },
  { name: 'evaluate --size 100000', args: ['evaluate', '--data', '@/ds', '--size', '100000'], msg: /^--size must be an integer in \[11, 2048\]/ },
  { name: 'evaluate --size 2049 (max + 1)', args: ['evaluate', '--data', '@/ds', '--size', '2049'], msg: /^--size must be an integer in \[11, 2048\]/ },
  { name: 'make-composites --variants 1e9', args: ['make-composites', '--real', '@/ds', '--out', '@/mc', '--variants', '1e9'], msg: /^--variants must be an integer in \[1, 1000\], got "1e9"/ },
  { name: 'make-composites --variants 1001 (max + 1)', args: ['make-composites', '--real', '@/ds', '--out', '@/mc', '--variants', '1001'], msg: /^--variants must be an integer in \[1, 1000\]/ },
  { name: 'make-composites --sheet-rows 201 (max + 1)', args: ['make-composites', '--real', '@/ds', '--out', '@/mc', '--sheet-rows', '201'], msg: /^--sheet-rows must be an integer in \[1, 200\]/ },
  { name: '--quality 0 (before the compute, named as typed)', args: ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/o.jpg', '--quality', '0', ...I], msg: /^--quality must be an integer in \[1, 100\], got "0"$/ },
  { name: '--quality 101 (max + 1)', args: ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/o.jpg', '--quality', '101', ...I], msg: /^--quality must be an integer in \[1, 100\]/ },
  { name: 'harmonize --max-side 0', args: ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', '--max-side', '0', ...I], msg: /^--max-side must be an integer in \[16, 4096\], got "0"/ },
  { name: 'harmonize --max-side 4097 (max + 1)', args: ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', '--max-side', '4097', ...I], msg: /^--max-side must be an integer in \[16, 4096\]/ },
  { name: 'intrinsic --max-side 2000 (help: at most 1024)', args: ['intrinsic', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', '--max-side', '2000'], msg: /^--max-side must be an integer in \[16, 1024\], got "2000"/ },
  { name: 'intrinsic --max-side 1025 (max + 1)', args: ['intrinsic', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', '--max-side', '1025'], msg: /^--max-side must be an integer in \[16, 1024\]/ },
  { name: 'intrinsic --max-side 0', args: ['intrinsic', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', '--max-side', '0'], msg: /^--max-side must be an integer in \[16, 1024\], got "0"/ },
  // folder mode: outputs that would be dropped
  { name: 'a.jpg and a.png in one folder', prep: async (d) => writeFileSync(join(d, 'f/c/a.png'), (await bytes()).comp), args: ['harmonize', '@/f/c', '-m', '@/f/m', '-o', '@/out', ...I], msg: /^@\/f\/c: 1 stem\(s\) shared by several composites, whose outputs would collide: a\.jpg, a\.png → a\.png/ },
  // make-composites stopping on bad input: nothing half-built (--out not even created)
  { name: 'make-composites: a corrupt real image', prep: async (d) => { await compositeSource(d, { 'real_images/c.png': Buffer.concat([(await bytes()).comp.subarray(0, 8), Buffer.alloc(200, 7)]) }); }, args: ['make-composites', '--real', '@/src', '--out', '@/mc', '--quiet'], msg: /^@\/src\/real_images\/c\.png: corrupt or truncated image/ },
  { name: 'make-composites: a mask of the wrong size', prep: async (d) => { await compositeSource(d, { 'masks/b_1.png': (await bytes()).small }); }, args: ['make-composites', '--real', '@/src', '--out', '@/mc', '--quiet'], msg: /^@\/src\/masks\/b_1\.png: mask is 10×10 but real image @\/src\/real_images\/b\.png is 32×24$/ },
  { name: 'make-composites: a truncated real image (header fine, found while building)', prep: async (d) => { const c = (await bytes()).comp; await compositeSource(d, { 'real_images/e.png': c.subarray(0, c.length >> 1) }); }, args: ['make-composites', '--real', '@/src', '--out', '@/mc', '--min-fmse', '0', '--quiet'], msg: /^@\/src\/real_images\/e\.png: corrupt or truncated image/ },
  { name: 'make-composites: a truncated real image, --out already exists (stays empty)', prep: async (d) => { const c = (await bytes()).comp; mkdirSync(join(d, 'mc')); await compositeSource(d, { 'real_images/e.png': c.subarray(0, c.length >> 1) }); }, args: ['make-composites', '--real', '@/src', '--out', '@/mc', '--min-fmse', '0', '--quiet'], msg: /real_images\/e\.png: corrupt or truncated image/ },
  { name: 'make-composites over a built subset holding a read-only file', prep: async (d) => { const src = await compositeSource(d); await makeComposites(src, join(d, 'mc'), { minFmse: 0 }); chmodSync(join(d, 'mc/Synthetic/real_images/a.png'), 0o444); }, args: ['make-composites', '--real', '@/src', '--out', '@/mc', '--min-fmse', '0', '--seed', '3', '--quiet'], msg: /^@\/mc\/Synthetic\/real_images\/a\.png: --out \(Synthetic\/real_images\/a\.png\) exists and is read-only; refusing to rebuild the subset over it \(pass --overwrite/ },
  { name: 'make-procedural over a built subset holding a read-only file', prep: async (d) => { await writeProceduralDataset(join(d, 'mp'), { count: 2, seed: 1, width: 32, height: 32 }); chmodSync(join(d, 'mp/Procedural/Procedural_train.txt'), 0o444); }, args: ['make-procedural', '--out', '@/mp', '--count', '2', '--size', '32', '--seed', '1', '--quiet'], msg: /^@\/mp\/Procedural\/Procedural_train\.txt: --out \(Procedural\/Procedural_train\.txt\) exists and is read-only/ },
  // evaluate: a prediction of another size than its composite is refused, never resized
  { name: 'evaluate: a 100×80 prediction for a 256² composite', prep: (d) => evalDataset(d, [100, 80], [256, 256]), args: ['evaluate', '--data', '@/ds2', '--pred', '@/pred', '--out', '@/ev', '--lpips', 'none', '--quiet'], msg: /^@\/pred\/x_1_1\.png: prediction is 100×80 but its composite @\/ds2\/Sub\/composite_images\/x_1_1\.png is 256×256; refusing to resize it \(write predictions at the composite's size\)$/ },
  { name: 'evaluate: a 32×24 prediction for a 24×32 composite (transposed)', prep: (d) => evalDataset(d, [W, H], [H, W]), args: ['evaluate', '--data', '@/ds2', '--pred', '@/pred', '--lpips', 'none', '--quiet'], msg: /prediction is 32×24 but its composite .* is 24×32/ },
  // input formats
  { name: 'an animated GIF composite', prep: async (d) => writeFileSync(join(d, 'anim.gif'), await animated('gif')), args: ['harmonize', '@/anim.gif', '-m', '@/m.png', '-o', '@/o.png', ...I], msg: /^@\/anim\.gif: animated GIF with 2 frames: only still images are read/ },
  { name: 'an animated WebP cut-out', prep: async (d) => writeFileSync(join(d, 'anim.webp'), await animated('webp')), args: ['harmonize', '--background', '@/bg.png', '--foreground', '@/anim.webp', '-o', '@/o.png', ...I], msg: /^@\/anim\.webp: animated WEBP with 2 frames/ },
  // train: every number named as typed and checked before the engine, the data or the intrinsic cache
  { name: 'train --batch 0 (was memorySource: batchSize, after the cache)', args: [...T, '--batch', '0'], msg: /^--batch must be an integer in \[1, 256\], got "0"/ },
  { name: 'train --batch 257 (max + 1)', args: [...T, '--batch', '257'], msg: /^--batch must be an integer in \[1, 256\], got "257"/ },
  { name: 'train --crop 1025 (max + 1)', args: [...T, '--crop', '1025'], msg: /^--crop must be an integer in \[8, 1024\], got "1025"/ },
  { name: 'train --crop 60 (not a multiple of 8)', args: [...T, '--crop', '60'], msg: /^--crop must be a multiple of 8 \(the "paper" generator's stride\): got 60$/ },
  { name: 'train --crop 512 larger than the preset images', args: [...T, '--crop', '512'], msg: /^--crop 512 is larger than the 64×64 training images \(--config smoke\)$/ },
  { name: 'train --real --size 1025 (max + 1)', args: [...TR, '--size', '1025'], msg: /^--size must be an integer in \[8, 1024\], got "1025"/ },
  { name: 'train --batch 64 × --crop 1024² (over the pixels-a-step budget)', args: [...TR, '--size', '1024', '--batch', '64'], msg: /^--batch 64 × --crop 1024² = 67,108,864 pixels a step is over the 16,777,216 limit \(memory\): lower --batch or --crop$/ },
  { name: 'train --batch 3 --workers 2', args: [...T, '--batch', '3', '--workers', '2'], msg: /^--batch must be even with --workers 2/ },
  { name: 'train --epochs abc', args: [...T, '--epochs', 'abc'], msg: /^--epochs must be an integer in \[1, 100000\], got "abc"/ },
  { name: 'train --epochs 100001 (max + 1)', args: [...T, '--epochs', '100001'], msg: /^--epochs must be an integer in \[1, 100000\]/ },
  { name: 'train --workers 3', args: [...T, '--workers', '3'], msg: /^--workers must be an integer in \[1, 2\], got "3"/ },
  { name: 'train --lr 0', args: [...T, '--lr', '0'], msg: /^--lr must be in \(0, 1\], got "0"/ },
  { name: 'train --beta1 1', args: [...T, '--beta1', '1'], msg: /^--beta1 must be in \[0, 1\), got "1"/ },
  { name: 'train --l1-weight -1', args: [...T, '--l1-weight=-1'], msg: /^--l1-weight must be in \[0, 1000000\], got "-1"/ },
  { name: 'train --max-steps 0', args: [...T, '--max-steps', '0'], msg: /^--max-steps must be an integer in \[1, 1000000000\], got "0"/ },
  { name: 'train --real --procedural 1.5', args: [...TR, '--procedural', '1.5'], msg: /^--procedural must be in \[0, 1\], got "1\.5"/ },
  { name: 'train --real --batches-per-epoch 10000001 (max + 1)', args: [...TR, '--batches-per-epoch', '10000001'], msg: /^--batches-per-epoch must be an integer in \[1, 10000000\]/ },
  { name: 'train --illumination without --real', args: [...T, '--illumination', '0.5'], msg: /^--illumination: only with --real$/ },
  // the other commands' size-like options at their documented maximum + 1
  { name: 'make-procedural --size 4097 (max + 1)', args: ['make-procedural', '--out', '@/mp', '--size', '4097'], msg: /^--size must be an integer in \[16, 4096\], got "4097"/ },
  { name: 'make-procedural --size 1e9', args: ['make-procedural', '--out', '@/mp', '--size', '1e9'], msg: /^--size must be an integer in \[16, 4096\], got "1e9"/ },
  { name: 'make-procedural --count 100001 (max + 1)', args: ['make-procedural', '--out', '@/mp', '--count', '100001'], msg: /^--count must be an integer in \[1, 100000\]/ },
  { name: 'make-procedural --test-fraction 2', args: ['make-procedural', '--out', '@/mp', '--test-fraction', '2'], msg: /^--test-fraction must be in \[0, 1\], got "2"/ },
  { name: 'train-light --render-sizes 128,1025 (max + 1)', args: ['train-light', '--out', '@/light', '--render-sizes', '128,1025'], msg: /^--render-sizes must be an integer in \[128, 1024\], got "1025"/ },
  { name: 'train-light --count 100001 (max + 1)', args: ['train-light', '--out', '@/light', '--count', '100001'], msg: /^--count must be an integer in \[20, 100000\]/ },
  { name: 'train-light --hidden 64,4097 (max + 1)', args: ['train-light', '--out', '@/light', '--hidden', '64,4097'], msg: /^--hidden must be an integer in \[1, 4096\]/ },
  { name: 'demo --size 2049 (max + 1)', args: ['demo', '-o', '@/demo', '--size', '2049'], msg: /^--size must be an integer in \[16, 2048\], got "2049"/ },
  { name: 'demo --count 1001 (max + 1)', args: ['demo', '-o', '@/demo', '--count', '1001'], msg: /^--count must be an integer in \[1, 1000\]/ },
  // train --resume: a hand-edited or corrupt state.json is refused before any work, never trained on
  { name: 'train --resume, state.json step −5', prep: withCheckpoint({ step: -5 }), args: [...T, '--resume'], msg: /^@\/run\/checkpoint\/state\.json: step must be a non-negative integer, got -5 \(hand-edited or corrupt checkpoint; refusing to resume from it\)$/ },
  { name: 'train --resume, state.json epoch "abc"', prep: withCheckpoint({ epoch: 'abc' }), args: [...T, '--resume'], msg: /state\.json: epoch must be a non-negative integer, got "abc"/ },
  { name: 'train --resume, state.json step beyond its position', prep: withCheckpoint({ step: 7, batch: 0, epoch: 0 }), args: [...T, '--resume'], msg: /state\.json: step 7 and batch 0 disagree/ },
  { name: 'train --resume, state.json Adam count ≠ step', prep: withCheckpoint({ adam: { G: { t: 9, sizes: [3] }, D: { t: 2, sizes: [5] } } }), args: [...T, '--resume'], msg: /state\.json: adam\.G\.t 9 disagrees with step 2/ },
  { name: 'train --resume, state.json not JSON', prep: (d) => { mkdirSync(join(d, 'run/checkpoint'), { recursive: true }); writeFileSync(join(d, 'run/checkpoint/state.json'), '{"step": 2,'); }, args: [...T, '--resume'], msg: /state\.json: cannot read checkpoint state: .*refusing to resume/ },
  { name: 'train --resume, nothing to resume', args: [...T, '--resume'], msg: /^--resume: nothing to resume: no checkpoint in @\/run$/ },
  { name: 'train, a checkpoint there without --resume/--overwrite', prep: withCheckpoint({}), args: [...T], msg: /^@\/run already has a checkpoint: pass --resume/ },
];

function expand(args: string[], d: string): string[] {
  return args.map((a) => a.replace(/^@(?=\/)/, d));
}

test(`CLI matrix: ${REFUSALS.length} refusals, each one clean line, exit 2, nothing written, inputs byte-identical`, async () => {
  for (const row of REFUSALS) {
    const d = await fixture();
    await row.prep?.(d);
    const before = snapshot(d);
    const r = await runCli(expand(row.args, d));
    const where = `${row.name}: ${r.stderr.join(' | ')}`;
    assert.equal(r.code, row.code ?? 2, where);
    assert.equal(r.stderr.length, 1, where);
    const line = r.stderr[0];
    const prefix = `harmonia ${row.args[0]}: `;
    assert.ok(line.startsWith(prefix), where);
    assert.match(line.slice(prefix.length).split(d).join('@'), row.msg, where);
    assert.doesNotMatch(line, /internal error|\n\s+at |TypeError|ENOENT|EACCES/, where);
    assert.deepEqual(diff(before, snapshot(d)), { created: [], changed: [], removed: [] }, row.name);
  }
});

test('CLI matrix as real processes: one stderr line, no stack trace, nothing written', async () => {
  const picks = ['--report = the composite', 'intrinsic --intermediates = a file', '--scale 1e9', 'evaluate --size 1e9', 'train --resume, state.json step −5', 'make-composites: a truncated real image (header fine, found while building)'];
  for (const name of picks) {
    const row = REFUSALS.find((x) => x.name === name) as Row;
    const d = await fixture();
    await row.prep?.(d);
    const before = snapshot(d);
    const r = spawnSync(process.execPath, [BIN, ...expand(row.args, d)], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 2, `${name}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n').filter((l) => !/^npm warn/i.test(l));
    assert.equal(lines.length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at |internal error/);
    assert.deepEqual(diff(before, snapshot(d)), { created: [], changed: [], removed: [] }, name);
  }
});

test('CLI matrix: -o under a read-only folder in folder mode, and a read-only -o file in a writable folder, are clean refusals (as uid 65534 when root)', async (t) => {
  const d = await fixture();
  mkdirSync(join(d, 'ro'));
  chmodSync(join(d, 'ro'), 0o555);
  const before = snapshot(d);
  const asRoot = process.getuid?.() === 0;
  for (const [out, re] of [[join(d, 'ro/out'), /ro\/out: -o cannot be written: the folder .*ro is not writable \(permission denied\)$/], [join(d, 'ro'), /-o is a folder that is not writable/]] as const) {
    const r = spawnSync(process.execPath, [BIN, 'harmonize', join(d, 'f/c'), '-m', join(d, 'f/m'), '-o', out, ...I], {
      encoding: 'utf8', timeout: 120_000, ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    if (r.error || /Cannot find module|EACCES: permission denied, open .*node_modules|ERR_MODULE_NOT_FOUND/.test(r.stderr)) {
      t.skip(`cannot run the CLI${asRoot ? ' as uid 65534' : ''}: ${(r.stderr || String(r.error)).split('\n')[0]}`);
      return;
    }
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.trim().split('\n').filter((l) => !/^npm warn/i.test(l));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], re);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  }
  assert.deepEqual(diff(before, snapshot(d)), { created: [], changed: [], removed: [] });
  chmodSync(join(d, 'ro'), 0o755);
  if (!asRoot) return;
  // the case: a read-only (0444) existing -o in a folder the user may write, as a normal user
  // (a rename would replace it silently): refused
  mkdirSync(join(d, 'w'));
  chmodSync(join(d, 'w'), 0o777);
  ro('w/o.png')(d);
  const before2 = snapshot(d);
  const r = spawnSync(process.execPath, [BIN, 'harmonize', join(d, 'c.png'), '-m', join(d, 'm.png'), '-o', join(d, 'w/o.png'), ...I], { encoding: 'utf8', timeout: 120_000, uid: 65534, gid: 65534 });
  assert.equal(r.status, 2, r.stderr);
  const lines = r.stderr.trim().split('\n').filter((l) => !/^npm warn/i.test(l));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /w\/o\.png: -o exists and is read-only; refusing to replace it/);
  assert.deepEqual(diff(before2, snapshot(d)), { created: [], changed: [], removed: [] });
});

test('CLI matrix: read-only -o with --overwrite is replaced, its mode kept (never chmod-ed)', async () => {
  const d = await fixture();
  ro('o.png')(d);
  const r = await runCli(['harmonize', join(d, 'c.png'), '-m', join(d, 'm.png'), '-o', join(d, 'o.png'), '--overwrite', ...I]);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  assert.equal(statSync(join(d, 'o.png')).mode & 0o777, 0o444);
  assert.equal((await readImage(join(d, 'o.png'))).width, W);
});

test('CLI matrix: --report in the folder -o creates is allowed; -o folder is created only after every check', async () => {
  const d = await fixture();
  const r = await runCli(['harmonize', join(d, 'c.png'), '-m', join(d, 'm.png'), '-o', join(d, 'new/o.png'), '--report', join(d, 'new/r.json'), ...I]);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  assert.ok(existsSync(join(d, 'new/o.png')) && existsSync(join(d, 'new/r.json')));
  const bad = await runCli(['harmonize', join(d, 'c.png'), '-m', join(d, 'm.png'), '-o', join(d, 'new2/o.png'), '--report', join(d, 'c.png'), ...I]);
  assert.equal(bad.code, 2);
  assert.equal(existsSync(join(d, 'new2')), false, 'no folder created for a refused run');
});

test('CLI matrix, folder mode: non-images, broken links and x_mask.png are listed and skipped; resume redoes 0-byte, truncated, wrong-size and stale outputs', async () => {
  const d = await fixture();
  const b = await bytes();
  writeFileSync(join(d, 'f/c/a_mask.png'), b.mask);
  writeFileSync(join(d, 'f/c/notes.txt'), 'hello');
  symlinkSync(join(d, 'nowhere.png'), join(d, 'f/c/broken.png'));
  const inputs = snapshot(join(d, 'f'));
  const args = ['harmonize', join(d, 'f/c'), '-m', join(d, 'f/m'), '-o', join(d, 'out'), ...I];
  let r = await runCli(args);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  for (const [f, why] of [['a_mask.png', /a mask by its name/], ['notes.txt', /not an image/], ['broken.png', /broken symbolic link/]] as const) {
    assert.ok(r.stdout.some((l) => l.includes(join(d, 'f/c', f)) && why.test(l)), `${f}: ${r.stdout.join('\n')}`);
  }
  assert.deepEqual(readdirSync(join(d, 'out')).sort(), ['a.png', 'b.png', 'harmonia-manifest.jsonl']);
  const good = readFileSync(join(d, 'out/a.png'));
  r = await runCli(args);
  assert.match(r.stdout.at(-1) ?? '', /harmonized 0 image\(s\) \(2 already done/);
  // 0-byte, truncated, wrong size: not done
  for (const [name, bad] of [['empty', Buffer.alloc(0)], ['truncated', good.subarray(0, good.length >> 1)], ['wrong size', b.small]] as const) {
    writeFileSync(join(d, 'out/a.png'), bad);
    r = await runCli(args);
    assert.equal(r.code, 0, `${name}: ${r.stderr.join('\n')}`);
    assert.ok(r.stdout.some((l) => /^redid a: existing output/.test(l)), `${name}: ${r.stdout.join('\n')}`);
    assert.deepEqual(readFileSync(join(d, 'out/a.png')), good, name);
  }
  // an output from another input: the composite changed after the output was written
  utimesSync(join(d, 'f/c/b.jpg'), new Date(), new Date(Date.now() + 5000));
  r = await runCli(args);
  assert.ok(r.stdout.some((l) => /^redid b: the composite or mask changed/.test(l)), r.stdout.join('\n'));
  // a read-only output to be redone is refused without --overwrite
  writeFileSync(join(d, 'out/a.png'), '');
  chmodSync(join(d, 'out/a.png'), 0o444);
  r = await runCli(args);
  assert.equal(r.code, 2);
  assert.match(r.stderr[0], /a\.png: -o \(folder mode output\) exists and is read-only/);
  chmodSync(join(d, 'out/a.png'), 0o644);
  // an output with no manifest entry (a run killed between the output's rename and its manifest line): its
  // options are unknown, so it is redone and recorded with this run's recipe (was: kept, and recorded without
  // one, so a resumed run's manifest differed from an uninterrupted run's: interrupt.test.ts, now and then)
  r = await runCli(args);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  const manifest = join(d, 'out/harmonia-manifest.jsonl');
  const whole = readFileSync(manifest, 'utf8');
  writeFileSync(manifest, whole.split('\n').filter((l) => !l.includes('"output":"a.png"')).join('\n'));
  r = await runCli(args);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  assert.ok(r.stdout.some((l) => /^redid a: existing output has no manifest entry \(the options it was made with are unknown\)$/.test(l)), r.stdout.join('\n'));
  assert.equal(readFileSync(manifest, 'utf8'), whole, 'the manifest ends as an uninterrupted run leaves it');
  // the inputs (except the touched mtime) are byte-identical
  const after = snapshot(join(d, 'f'));
  assert.deepEqual(diff(inputs, after), { created: [], changed: [], removed: [] });
});

test('CLI matrix: every size-like option is accepted at its documented maximum and refused at maximum + 1', () => {
  const all: [string, string, import('../../src/cli/flags.ts').FlagRange][] = Object.entries(FLAG_RANGES).flatMap(([cmd, ranges]) => Object.entries(ranges).map(([f, r]) => [cmd, f, r] as [string, string, import('../../src/cli/flags.ts').FlagRange]));
  all.push(['train', 'l1-weight', TRAIN_LOSS_WEIGHT_RANGE]);
  assert.equal(FLAG_RANGES['train-light']['render-sizes'].min, LIGHT_NET_INPUT_SIDE, 'train-light --render-sizes starts at the light net input side');
  for (const [cmd, flag, range] of all) {
    {
      if (range.max === Number.MAX_SAFE_INTEGER) continue;
      if (range.maxExclusive) assert.throws(() => numberFlag({ [flag]: String(range.max) }, flag, range), HarmoniaError, `${cmd} --${flag}`);
      else assert.equal(numberFlag({ [flag]: String(range.max) }, flag, range), range.max, `${cmd} --${flag}`);
      assert.throws(() => numberFlag({ [flag]: String(range.max + 1) }, flag, range), (e: unknown) => e instanceof HarmoniaError && e.message.startsWith(`--${flag} must be`), `${cmd} --${flag}`);
    }
  }
});

test('API matrix: unsupported format, non-finite pixels, model: {} are HarmoniaErrors naming the option', async () => {
  const b = await bytes();
  const img = { width: 4, height: 4, channels: 3, data: new Float32Array(48).fill(0.5) };
  const mask = { width: 4, height: 4, data: new Float32Array(16).fill(1) };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ composite: b.comp, mask: b.mask, format: 'bmp' }, /format must be png, jpeg, webp, tiff, got "bmp"/],
    [{ composite: b.comp, mask: b.mask, format: 'jpg' }, /format .*use "jpeg"/],
    [{ composite: b.comp, mask: b.mask, quality: 0 }, /quality must be an integer in \[1, 100\]/],
    [{ composite: { ...img, data: Float32Array.from(img.data, (v, i) => (i === 5 ? NaN : v)) }, mask }, /composite has a non-finite value \(NaN\) at pixel \(1, 0\)/],
    [{ composite: img, mask: { ...mask, data: new Float32Array(16).fill(Infinity) } }, /mask has a non-finite value \(Infinity\)/],
    [{ composite: b.comp, mask: b.mask, model: {} }, /model must be a model folder path, a loaded HarmonizationModel/],
    [{ composite: b.comp, mask: b.mask, stage: 'nope' }, /stage must be intrinsic, gan or full/],
    [{ composite: { width: 4, height: 4, channels: 3, data: new Float32Array(3) }, mask }, /composite: data must be a Float32Array/],
    [{ composite: 42, mask }, /composite must be a path, encoded bytes, or a FloatImage, got number/],
  ];
  for (const [opts, re] of cases) {
    await assert.rejects(harmonize(opts as never), (e: unknown) => e instanceof HarmoniaError && re.test(e.message), `${JSON.stringify(Object.keys(opts))} ${re}`);
  }
});

/** CRC-32 (PNG chunks). */
function crc32(b: Uint8Array): number {
  let c = ~0;
  for (const x of b) { c ^= x; for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1)); }
  return ~c >>> 0;
}
function chunk(type: string, data: Uint8Array): Buffer {
  const t = Buffer.from(type, 'latin1');
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(Buffer.concat([t, data])));
  return Buffer.concat([len, t, data, crc]);
}
/**
 * An 8×8 PNG whose columns 2–5 are the foreground: grey + tRNS, palette + tRNS, RGB + tRNS (the
 * background colour marked transparent), or grey + alpha (colour type 4). Returns the bytes.
 */
function transparentPng(kind: 'grey-trns' | 'palette-trns' | 'rgb-trns' | 'grey-alpha'): Buffer {
  const w = 8, h = 8;
  const fg = (x: number) => x >= 2 && x < 6;
  const ctype = { 'grey-trns': 0, 'palette-trns': 3, 'rgb-trns': 2, 'grey-alpha': 4 }[kind];
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = ctype;
  const rows: number[] = [];
  for (let y = 0; y < h; y++) {
    rows.push(0);
    for (let x = 0; x < w; x++) {
      if (kind === 'grey-trns') rows.push(fg(x) ? 200 : 0);
      else if (kind === 'palette-trns') rows.push(fg(x) ? 1 : 0);
      else if (kind === 'rgb-trns') rows.push(...(fg(x) ? [200, 40, 40] : [0, 255, 0]));
      else rows.push(200, fg(x) ? 255 : 0);
    }
  }
  const extra: Buffer[] = [];
  if (kind === 'palette-trns') extra.push(chunk('PLTE', Buffer.from([0, 255, 0, 200, 40, 40])), chunk('tRNS', Buffer.from([0, 255])));
  if (kind === 'grey-trns') extra.push(chunk('tRNS', Buffer.from([0, 0])));
  if (kind === 'rgb-trns') extra.push(chunk('tRNS', Buffer.from([0, 0, 0, 255, 0, 0])));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), ...extra, chunk('IDAT', deflateSync(Buffer.from(rows))), chunk('IEND', Buffer.alloc(0))]);
}

test('input formats: tRNS-transparent and grey+alpha PNG cut-outs are read with their alpha; harmonize uses them (was "no alpha channel")', async () => {
  for (const kind of ['grey-trns', 'palette-trns', 'rgb-trns', 'grey-alpha'] as const) {
    const { mask } = await readCutout(transparentPng(kind));
    const want = Array.from({ length: 64 }, (_, i) => (i % 8 >= 2 && i % 8 < 6 ? 1 : 0));
    assert.deepEqual(Array.from(mask.data), want, kind);
  }
  const d = await fixture();
  writeFileSync(join(d, 'trns.png'), transparentPng('grey-trns'));
  const before = snapshot(d);
  const r = await runCli(['harmonize', '--background', join(d, 'bg.png'), '--foreground', join(d, 'trns.png'), '-o', join(d, 'o.png'), ...I]);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  const o = await readImage(join(d, 'o.png'));
  assert.deepEqual([o.width, o.height], [W, H]);
  assert.deepEqual(diff(before, snapshot(d)), { created: ['o.png'], changed: [], removed: [] });
});

test('evaluate: a prediction at its composite\'s size is scored (the size check refuses only a mismatch)', async () => {
  const d = await fixture();
  await evalDataset(d, [W, H]);
  const r = await runCli(['evaluate', '--data', join(d, 'ds2'), '--pred', join(d, 'pred'), '--lpips', 'none', '--quiet']);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  assert.ok(r.stdout.some((l) => /^1 images/.test(l)), r.stdout.join('\n'));
});

/** Files of a built subset that no record names: composites not in a list, sidecars, masks and real images of no record. */
function orphans(out: string, subset = 'Synthetic'): string[] {
  const sub = join(out, subset);
  const listed = ['train', 'test'].flatMap((s) => readFileSync(join(sub, `${subset}_${s}.txt`), 'utf8').split('\n').filter(Boolean));
  const sidecars = readdirSync(join(sub, 'synthesis')).map((n) => JSON.parse(readFileSync(join(sub, 'synthesis', n), 'utf8')) as { name: string; realName: string; maskIndex: number; rejected: boolean });
  const ok = new Set<string>(['synthesis.json', 'build.json', `${subset}_train.txt`, `${subset}_test.txt`]);
  for (const n of listed) ok.add(`composite_images/${n}`);
  for (const r of sidecars) {
    ok.add(`synthesis/${r.name.replace(/\.(png|jpg)$/, '.json')}`);
    if (!r.rejected) { ok.add(`masks/${r.realName}_${r.maskIndex}.png`); ok.add(`real_images/${r.realName}.png`); assert.ok(listed.includes(r.name), `${r.name} accepted but in no list`); }
  }
  const all = (readdirSync(sub, { recursive: true }) as string[]).filter((f) => statSync(join(sub, f)).isFile());
  const ihd = ['train', 'test'].flatMap((s) => readFileSync(join(out, `IHD_${s}.txt`), 'utf8').split('\n').filter(Boolean));
  assert.deepEqual(ihd.sort(), listed.map((n) => `${subset}/composite_images/${n}`).sort(), 'IHD lists name exactly the subset lists');
  return all.filter((f) => !ok.has(f));
}

test('make-composites builds atomically: no orphans, a stopped rerun leaves the built dataset byte-identical, crash leftovers are finished or started cleanly', async () => {
  const d = await fixture();
  const src = await compositeSource(d);
  const sources = snapshot(src);
  const mc = join(d, 'mc');
  const args = ['make-composites', '--real', src, '--out', mc, '--min-fmse', '0', '--quiet'];
  let r = await runCli([...args, '--variants', '2']);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  assert.deepEqual(orphans(mc), []);
  assert.deepEqual(readdirSync(mc).sort(), ['IHD_test.txt', 'IHD_train.txt', 'Synthetic'], 'no staging folder left');
  const reference = snapshot(mc);

  // orphans planted in a complete subset (files no record names, a killed write's temp file) are gone after a rerun
  writeFileSync(join(mc, 'Synthetic/composite_images/zz_1_1.png'), (await bytes()).comp);
  writeFileSync(join(mc, 'Synthetic/real_images/zz.png'), (await bytes()).comp);
  writeFileSync(join(mc, 'Synthetic/synthesis/.zz_1_1.json.999999.1.1.tmp'), '{');
  r = await runCli([...args, '--variants', '2']);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  assert.deepEqual(diff(reference, snapshot(mc)), { created: [], changed: [], removed: [] }, 'rerun over planted orphans');

  // fewer variants: the subset shrinks to what the lists name (the variant-2 files are not left behind)
  r = await runCli(args);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  assert.deepEqual(orphans(mc), []);
  assert.ok(!readdirSync(join(mc, 'Synthetic/composite_images')).some((n) => n.endsWith('_2.png')));
  r = await runCli([...args, '--variants', '2']);
  assert.deepEqual(diff(reference, snapshot(mc)), { created: [], changed: [], removed: [] }, 'back to 2 variants');

  // a run that stops on bad input (a real image truncated after the first build) leaves the built subset and the lists byte-identical
  const realE = readFileSync(join(src, 'real_images/e.png'));
  writeFileSync(join(src, 'real_images/e.png'), realE.subarray(0, realE.length >> 1));
  r = await runCli([...args, '--variants', '3']);
  assert.equal(r.code, 2);
  assert.match(r.stderr[0], /real_images\/e\.png: corrupt or truncated image/);
  assert.deepEqual(diff(reference, snapshot(mc)), { created: [], changed: [], removed: [] }, 'a stopped rerun changed the dataset');
  writeFileSync(join(src, 'real_images/e.png'), realE);

  // killed between the two renames of the swap: the complete staging folder is finished, nothing lost
  renameSync(join(mc, 'Synthetic'), join(mc, '.Synthetic.building'));
  writeFileSync(join(mc, '.Synthetic.building/build.json'), '{"recipe": "another"}');
  mkdirSync(join(mc, '.Synthetic.replaced'));
  r = await runCli([...args, '--variants', '2']);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  assert.deepEqual(diff(reference, snapshot(mc)), { created: [], changed: [], removed: [] }, 'staging of another recipe: started cleanly');
  renameSync(join(mc, 'Synthetic'), join(mc, '.Synthetic.replaced'));
  r = await runCli([...args, '--variants', '2']);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  assert.deepEqual(diff(reference, snapshot(mc)), { created: [], changed: [], removed: [] }, 'killed after the first rename of the swap');

  // a build of the same subset already running (its lock names a live process): refused, nothing touched;
  // a lock left by a killed run (its process gone) is taken over
  writeFileSync(join(mc, '.Synthetic.lock'), `${process.pid}\n`);
  const locked = snapshot(mc);
  r = await runCli([...args, '--variants', '2']);
  assert.equal(r.code, 2);
  assert.match(r.stderr[0], new RegExp(`another make-composites \\(pid ${process.pid}\\) is building the subset "Synthetic" here`));
  assert.deepEqual(diff(locked, snapshot(mc)), { created: [], changed: [], removed: [] }, 'refused while locked');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  writeFileSync(join(mc, '.Synthetic.lock'), `${dead.stdout}\n`);
  r = await runCli([...args, '--variants', '2']);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  assert.deepEqual(diff(reference, snapshot(mc)), { created: [], changed: [], removed: [] }, 'stale lock taken over and released');

  // a read-only file in the built subset: refused without --overwrite (matrix row); with it the subset is
  // rebuilt, and the file, reused (same recipe), keeps its mode
  chmodSync(join(mc, 'Synthetic/real_images/a.png'), 0o444);
  r = await runCli([...args, '--variants', '2', '--overwrite']);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  assert.equal(statSync(join(mc, 'Synthetic/real_images/a.png')).mode & 0o777, 0o444);
  chmodSync(join(mc, 'Synthetic/real_images/a.png'), 0o644);
  assert.deepEqual(diff(reference, snapshot(mc)), { created: [], changed: [], removed: [] }, 'rebuilt with --overwrite');

  // another recipe (seed) over a built subset: rebuilt from scratch, no file of the old recipe kept
  const s5 = await makeComposites(src, join(d, 'mc5'), { seed: 5, minFmse: 0 });
  r = await runCli([...args, '--seed', '5']);
  assert.equal(r.code, 0);
  assert.equal(s5.skippedExisting, 0);
  assert.deepEqual(diff(snapshot(join(d, 'mc5')), snapshot(mc)), { created: [], changed: [], removed: [] }, 'seed 5 over seed 0 = a fresh seed-5 build');
  assert.deepEqual(diff(sources, snapshot(src)), { created: [], changed: [], removed: [] }, 'the source folder is byte-identical');
});

test('checkpoint state.json schema: a real-looking state passes; hand edits of every kind are refused naming the field', () => {
  const f = '/run/checkpoint/state.json';
  assert.equal(validateCheckpointState(checkpointState(), f).step, 2);
  assert.equal(validateCheckpointState(checkpointState({ step: 5, epoch: 1, batch: 2, adam: { G: { t: 5, sizes: [3] }, D: { t: 5, sizes: [1] } } }), f).batch, 2);
  const bad: [Record<string, unknown> | unknown, RegExp][] = [
    [{ step: -5 }, /step must be a non-negative integer, got -5/],
    [{ step: 2.5 }, /step must be a non-negative integer, got 2\.5/],
    [{ step: '2' }, /step must be a non-negative integer, got "2"/],
    [{ epoch: 'abc' }, /epoch must be a non-negative integer, got "abc"/],
    [{ batch: null }, /batch must be a non-negative integer, got null/],
    [{ epoch: 0, batch: 1 }, /step 2 and batch 1 disagree/],
    [{ epoch: 3 }, /step 2 is too small for epoch 3, batch 0/],
    [{ step: 4, epoch: 1, batch: 2, adam: { G: { t: 4, sizes: [3] }, D: { t: 4, sizes: [1] } } }, /batch 2 is not below the 2 batches per epoch/],
    [{ epoch: 1, step: 1, batch: 0, adam: { G: { t: 1, sizes: [3] }, D: { t: 1, sizes: [1] } }, config: { ...(checkpointState().config as object), epochs: 0 } }, /config: train\.epochs: must be a positive integer/],
    [{ step: 99, epoch: 99, adam: { G: { t: 99, sizes: [3] }, D: { t: 99, sizes: [1] } } }, /epoch 99 is beyond the \d+ epochs of its config/],
    [{ version: 2 }, /checkpoint version 2 is not supported/],
    [{ notes: 'x' }, /notes must be a list of strings/],
    [{ savedAt: 'yesterday' }, /savedAt must be a date/],
    [{ adam: { G: { t: 2, sizes: [] }, D: { t: 2, sizes: [1] } } }, /adam\.G\.sizes must be a non-empty list of positive integers/],
    [{ adam: { G: { t: 2, sizes: [3] } } }, /adam\.D must be an object/],
    [{ config: 'cpu' }, /config must be an object/],
  ];
  for (const [edit, re] of bad) {
    assert.throws(() => validateCheckpointState(checkpointState(edit as Record<string, unknown>), f), (e: unknown) => e instanceof HarmoniaError && e.message.startsWith(`${f}: `) && re.test(e.message) && /refusing to resume/.test(e.message), `${JSON.stringify(edit)} ${re}`);
  }
  for (const raw of [null, [], 'x', 3]) assert.throws(() => validateCheckpointState(raw, f), /state must be a JSON object/);
});

test('make-procedural builds atomically too: a smaller --count leaves no orphans, another --seed rebuilds from scratch', async () => {
  const d = tempDir('harmonia-matrix-proc-');
  const p = join(d, 'p');
  const run = (out: string, count: number, seed: number) => runCli(['make-procedural', '--out', out, '--count', String(count), '--size', '32', '--seed', String(seed), '--quiet']);
  assert.equal((await run(p, 6, 1)).code, 0);
  assert.deepEqual(readdirSync(p).sort(), ['IHD_test.txt', 'IHD_train.txt', 'Procedural']);
  const ref6 = snapshot(p);
  chmodSync(join(p, 'Procedural/masks'), 0o555);
  let r = await run(p, 4, 1);
  assert.equal(r.code, 2);
  assert.match(r.stderr[0], /Procedural\/masks: --out \(Procedural\/masks\) exists and is read-only; refusing to rebuild the subset over it/);
  chmodSync(join(p, 'Procedural/masks'), 0o755);
  assert.deepEqual(diff(ref6, snapshot(p)), { created: [], changed: [], removed: [] }, 'refused over a read-only folder');
  r = await run(p, 4, 1);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  for (const sub of ['composite_images', 'masks', 'real_images', 'intrinsics']) assert.equal(readdirSync(join(p, 'Procedural', sub)).length, 4, sub);
  const listed = ['train', 'test'].flatMap((s) => readFileSync(join(p, 'Procedural', `Procedural_${s}.txt`), 'utf8').split('\n').filter(Boolean)).sort();
  assert.deepEqual(listed, readdirSync(join(p, 'Procedural/composite_images')).sort());
  assert.equal((await run(p, 6, 1)).code, 0);
  assert.deepEqual(diff(ref6, snapshot(p)), { created: [], changed: [], removed: [] }, 'back to 6');
  assert.equal((await run(p, 6, 2)).code, 0);
  assert.equal((await run(join(d, 'q'), 6, 2)).code, 0);
  assert.deepEqual(diff(snapshot(join(d, 'q')), snapshot(p)), { created: [], changed: [], removed: [] }, 'seed 2 over seed 1 = a fresh seed-2 build');
});


/**
 * The output-rule matrix of issue 28: every output option of every command that writes, through every
 * hostile target — a symbolic link, a hard link, a path through `..`, a trailing slash, a case variant,
 * a device node, a FIFO, a read-only file, an input, a model file (and a new file inside a model
 * folder). Each row runs through main() in a fresh fixture and must be refused with one clean line
 * (exit 2) with nothing created, changed or removed — except the case-variant rows of file outputs: on
 * a case-sensitive file system `C.PNG` is another file, so they may also succeed, creating only new
 * files, never changing one.
 */
interface Writer {
  name: string;
  kind: 'file' | 'folder';
  /** File outputs: the extension of the format written. */
  ext?: string;
  /** An input file of the command (file outputs) or an input folder (folder outputs; default: the model folder). */
  input: string;
  /** Folder outputs: a file the command writes inside (the read-only and hard-link rows), or null. */
  inner?: string | null;
  /** The input file the hard link of a folder output's inner file points to. */
  innerLink?: string;
  args: (target: string) => string[];
}

const WRITERS: Writer[] = [
  { name: 'harmonize -o (file)', kind: 'file', ext: '.png', input: '@/c.png', args: (t) => ['harmonize', '@/c.png', '-m', '@/m.png', '-o', t, ...I] },
  { name: 'harmonize --report', kind: 'file', ext: '.json', input: '@/m.png', args: (t) => ['harmonize', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', '--report', t, ...I] },
  { name: 'harmonize -o (folder mode)', kind: 'folder', input: '@/f/m', inner: 'a.png', innerLink: '@/f/c/a.jpg', args: (t) => ['harmonize', '@/f/c', '-m', '@/f/m', '-o', t, ...I] },
  { name: 'intrinsic -o', kind: 'file', ext: '.png', input: '@/c.png', args: (t) => ['intrinsic', '@/c.png', '-m', '@/m.png', '-o', t] },
  { name: 'intrinsic --intermediates', kind: 'folder', input: '@/model', inner: 'albedo.png', innerLink: '@/c.png', args: (t) => ['intrinsic', '@/c.png', '-m', '@/m.png', '-o', '@/o.png', '--intermediates', t] },
  { name: 'intrinsic --cache', kind: 'folder', input: '@/ds', inner: null, args: (t) => ['intrinsic', '--data', '@/ds', '--cache', t] },
  { name: 'evaluate --out', kind: 'folder', input: '@/ds', inner: 'table.md', innerLink: '@/ds/Sub/x.png', args: (t) => ['evaluate', '--data', '@/ds', '--out', t, '--lpips', 'none', '--quiet'] },
  { name: 'export-onnx --out', kind: 'file', ext: '.onnx', input: '@/model/weights.bin', args: (t) => ['export-onnx', '@/model', '--out', t] },
  { name: 'train --out', kind: 'folder', input: '@/ds', inner: 'config.json', innerLink: '@/ds/Sub/x.png', args: (t) => ['train', '--config', 'smoke', '--data', '@/ds', '--out', t] },
  { name: 'train-light --out', kind: 'folder', input: '@/model', inner: 'weights.bin', innerLink: '@/model/weights.bin', args: (t) => ['train-light', '--out', t, '--count', '20', '--epochs', '1', '--quiet'] },
  { name: 'train-light --features', kind: 'file', ext: '.bin', input: '@/model/weights.bin', args: (t) => ['train-light', '--out', '@/lt', '--features', t, '--count', '20', '--epochs', '1', '--quiet'] },
  { name: 'make-composites --out', kind: 'folder', input: '@/ds', inner: 'Synthetic/x.png', innerLink: '@/ds/Sub/x.png', args: (t) => ['make-composites', '--real', '@/ds', '--out', t, '--quiet'] },
  { name: 'make-composites --sheet', kind: 'file', ext: '.png', input: '@/ds/Sub/x.png', args: (t) => ['make-composites', '--real', '@/ds', '--out', '@/mc', '--sheet', t, '--quiet'] },
  { name: 'make-procedural --out', kind: 'folder', input: '@/model', inner: 'Procedural/x.png', innerLink: '@/c.png', args: (t) => ['make-procedural', '--out', t, '--count', '2', '--size', '32', '--quiet'] },
  { name: 'demo -o', kind: 'folder', input: '@/model', inner: 'index.html', innerLink: '@/model/harmonia.json', args: (t) => ['demo', '-o', t, '--no-real', '--model', '@/model', '--count', '1', '--size', '32'] },
  { name: 'sweep --out', kind: 'folder', input: '@/ds', inner: 'sweep.md', innerLink: '@/ds/Sub/x.png', args: (t) => ['sweep', '--config', 'smoke', '--data', '@/ds', '--out', t] },
  { name: 'experiment --out', kind: 'folder', input: '@/ds', inner: 'table1.md', innerLink: '@/ds/Sub/x.png', args: (t) => ['experiment', '--config', 'smoke', '--data', '@/ds', '--out', t] },
];

const HOSTILE = ['symlink', 'hard link', '..', 'trailing slash', 'case variant', 'device node', 'FIFO', 'read-only file', 'an input', 'a model file', 'inside a model folder'] as const;
type Hostile = typeof HOSTILE[number];

/** A model folder (model.json, weights.bin, harmonia.json) and a training run folder (log.jsonl) in the fixture. */
function artifacts(d: string): void {
  mkdirSync(join(d, 'model'));
  writeFileSync(join(d, 'model/model.json'), '{"modelTopology":{}}');
  writeFileSync(join(d, 'model/weights.bin'), Buffer.alloc(64, 3));
  writeFileSync(join(d, 'model/harmonia.json'), '{"kind":"paper"}');
  mkdirSync(join(d, 'run'));
  writeFileSync(join(d, 'run/log.jsonl'), '{"type":"step","step":1,"epoch":0,"losses":{"G":1}}\n{"type":"step","step":2,"epoch":0,"losses":{"G":0.5}}\n');
}
const mkfifoAt = (p: string): void => { assert.equal(spawnSync('mkfifo', [p]).status, 0, `mkfifo ${p}`); };
const at = (d: string, p: string): string => p.replace(/^@(?=\/)/, d);

/** Arranges the hostile target of a row and returns its path as typed (`@/…`). */
function hostileTarget(w: Writer, h: Hostile, d: string): string {
  const ext = w.ext ?? '';
  if (w.kind === 'file') {
    switch (h) {
      case 'symlink': symlinkSync(at(d, w.input), join(d, `lnk${ext}`)); return `@/lnk${ext}`;
      case 'hard link': linkSync(at(d, w.input), join(d, `hard${ext}`)); return `@/hard${ext}`;
      case '..': return `@/f/../${w.input.slice(2)}`;
      case 'trailing slash': return `${w.input}/`;
      case 'case variant': { const i = w.input.lastIndexOf('/'); return w.input.slice(0, i + 1) + w.input.slice(i + 1).toUpperCase(); }
      case 'device node': symlinkSync('/dev/null', join(d, `null${ext}`)); return `@/null${ext}`;
      case 'FIFO': mkfifoAt(join(d, `fifo${ext}`)); return `@/fifo${ext}`;
      case 'read-only file': writeFileSync(join(d, `ro${ext}`), 'old'); chmodSync(join(d, `ro${ext}`), 0o444); return `@/ro${ext}`;
      case 'an input': return w.input;
      case 'a model file': return '@/model/weights.bin';
      case 'inside a model folder': return `@/model/out${ext}`;
    }
  }
  const inner = w.inner;
  switch (h) {
    case 'symlink': symlinkSync(at(d, w.input), join(d, 'lnkdir')); return '@/lnkdir';
    case 'hard link': {
      if (!inner) { linkSync(at(d, '@/ds/Sub/x.png'), join(d, 'hard.png')); return '@/hard.png'; } // a hard link where the folder goes
      mkdirSync(dirname(join(d, 'hl', inner)), { recursive: true });
      linkSync(at(d, w.innerLink as string), join(d, 'hl', inner));
      return '@/hl';
    }
    case '..': return `@/f/../${w.input.slice(2)}`;
    case 'trailing slash': return `${w.input}/`;
    case 'case variant': return `@/MODEL/../${w.input.slice(2)}`;
    case 'device node': symlinkSync('/dev/null', join(d, 'devdir')); return '@/devdir';
    case 'FIFO': mkfifoAt(join(d, 'fifodir')); return '@/fifodir';
    case 'read-only file': {
      if (!inner) { writeFileSync(join(d, 'rofile'), 'old'); chmodSync(join(d, 'rofile'), 0o444); return '@/rofile'; }
      mkdirSync(dirname(join(d, 'rodir', inner)), { recursive: true });
      writeFileSync(join(d, 'rodir', inner), 'old');
      chmodSync(join(d, 'rodir', inner), 0o444);
      return '@/rodir';
    }
    case 'an input': return w.input;
    case 'a model file': return '@/model/weights.bin';
    case 'inside a model folder': return '@/model/sub';
  }
}

test(`output-rule matrix (issue 28): ${WRITERS.length} output options × ${HOSTILE.length} hostile targets + report, each a clean refusal that changes nothing`, { timeout: 600_000 }, async () => {
  let rows = 0, caseOk = 0;
  const run = async (name: string, flag: string, args: string[], d: string, allowSuccess: boolean): Promise<void> => {
    const before = snapshot(d);
    const r = await runCli(expand(args, d));
    const where = `${name}: exit ${r.code}: ${r.stderr.join(' | ')}`;
    const changes = diff(before, snapshot(d));
    rows++;
    if (allowSuccess && r.code === 0) {
      caseOk++;
      assert.deepEqual({ changed: changes.changed, removed: changes.removed }, { changed: [], removed: [] }, where);
      return;
    }
    assert.equal(r.code, 2, where);
    assert.equal(r.stderr.length, 1, where);
    assert.ok(r.stderr[0].startsWith(`harmonia ${args[0]}: `), where);
    assert.doesNotMatch(r.stderr[0], /internal error|\n\s+at |TypeError|ENOENT|EACCES|ENOTDIR|ELOOP/, where);
    assert.deepEqual(changes, { created: [], changed: [], removed: [] }, where);
    if (process.env.MATRIX_MESSAGES) console.log(`${name}: ${r.stderr[0].split(d).join('@')}`);
    // refused by the output rule itself (naming the flag), or by the format or content check of that same path
    assert.ok(r.stderr[0].includes(` ${flag} `) || r.stderr[0].includes(` ${flag}:`) || /unknown output format|not a feature cache|not built by Harmonia|no log\.jsonl here/.test(r.stderr[0]), `${where}: not refused by the output rule for ${flag}`);
  };
  for (const w of WRITERS) {
    for (const h of HOSTILE) {
      const d = await fixture();
      artifacts(d);
      const target = hostileTarget(w, h, d);
      await run(`${w.name} → ${h} (${target})`, w.name.split(' ')[1], w.args(target), d, h === 'case variant' && w.kind === 'file');
    }
  }
  // report <run>: its one output is <run>/losses.html, made hostile in place
  const reportRows: [Hostile, (d: string) => void, string][] = [
    ['symlink', (d) => symlinkSync(join(d, 'run/log.jsonl'), join(d, 'run/losses.html')), '@/run'],
    ['hard link', (d) => linkSync(join(d, 'run/log.jsonl'), join(d, 'run/losses.html')), '@/run'],
    ['..', (d) => symlinkSync('../model/model.json', join(d, 'run/losses.html')), '@/f/../run'],
    ['trailing slash', (d) => symlinkSync(join(d, 'run/log.jsonl'), join(d, 'run/losses.html')), '@/run/'],
    ['case variant', () => undefined, '@/RUN/../run/../RUN'],
    ['device node', (d) => symlinkSync('/dev/null', join(d, 'run/losses.html')), '@/run'],
    ['FIFO', (d) => mkfifoAt(join(d, 'run/losses.html')), '@/run'],
    ['read-only file', (d) => { writeFileSync(join(d, 'run/losses.html'), 'old'); chmodSync(join(d, 'run/losses.html'), 0o444); }, '@/run'],
    ['an input', (d) => symlinkSync('log.jsonl', join(d, 'run/losses.html')), '@/run'],
    ['a model file', (d) => symlinkSync(join(d, 'model/weights.bin'), join(d, 'run/losses.html')), '@/run'],
    ['inside a model folder', (d) => writeFileSync(join(d, 'model/log.jsonl'), readFileSync(join(d, 'run/log.jsonl'))), '@/model'],
  ];
  for (const [h, prep, dir] of reportRows) {
    const d = await fixture();
    artifacts(d);
    prep(d);
    await run(`report → ${h}`, 'the report', ['report', dir], d, false);
  }
  assert.equal(rows, WRITERS.length * HOSTILE.length + HOSTILE.length);
  assert.ok(caseOk <= WRITERS.filter((w) => w.kind === 'file').length);
});
