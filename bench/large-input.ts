/**
 * Peak memory of harmonizing one large input (docs/RELIABILITY.md, "Resource limits").
 *
 *   npm run bench:large -- [--width 6000] [--height 4000] [--stages intrinsic,full] [--budget-mb 2600] [--runs 1]
 *
 * The parent writes a generated composite (JPEG, smooth colours + texture) and mask (PNG, an ellipse
 * covering about 20% of the image) and a small random generator model folder, then runs each stage in a
 * fresh child process that decodes the files, harmonizes, encodes the PNG and writes it atomically, as
 * `harmonia harmonize` does. Each child reports its peak resident set (VmHWM from /proc/self/status), its
 * resident set after start-up (modules + engine loaded, before reading any image) and the wall time.
 * With --budget-mb the command exits 1 when a stage's peak exceeds the budget.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { writeFileAtomic } from '../src/util/atomic.ts';
import type { Stage } from '../src/pipeline/refine.ts';

const SELF = fileURLToPath(import.meta.url);

/** VmHWM / VmRSS of this process in MiB (Linux), from /proc/self/status. */
export function procMemoryMiB(): { hwm: number; rss: number } {
  const s = readFileSync('/proc/self/status', 'utf8');
  const get = (k: string): number => {
    const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s);
    return m ? Number(m[1]) / 1024 : NaN;
  };
  return { hwm: get('VmHWM'), rss: get('VmRSS') };
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** Writes a W×H composite JPEG and a mask PNG (ellipse, ~20% of the area) built row band by row band. */
export async function writeLargeInputs(dir: string, W: number, H: number): Promise<{ composite: string; mask: string }> {
  const img = Buffer.alloc(W * H * 3);
  const m = Buffer.alloc(W * H);
  const cx = W * 0.55, cy = H * 0.6, rx = W * 0.28, ry = H * 0.23;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const dx = (x - cx) / rx, dy = (y - cy) / ry;
      const fg = dx * dx + dy * dy <= 1;
      m[i] = fg ? 255 : 0;
      const t = 0.5 + 0.25 * Math.sin(x / 97) * Math.cos(y / 131) + 0.08 * Math.sin((x * 7 + y * 3) / 11);
      const base = fg ? [0.85 * t + 0.1, 0.55 * t, 0.3 * t] : [0.35 * t + 0.2, 0.5 * t + 0.15, 0.75 * t + 0.1];
      for (let k = 0; k < 3; k++) img[i * 3 + k] = Math.max(0, Math.min(255, Math.round(base[k] * 255)));
    }
  }
  const composite = join(dir, 'composite.jpg');
  const mask = join(dir, 'mask.png');
  await writeFileAtomic(composite, await sharp(img, { raw: { width: W, height: H, channels: 3 }, limitInputPixels: false }).jpeg({ quality: 92 }).toBuffer());
  await writeFileAtomic(mask, await sharp(m, { raw: { width: W, height: H, channels: 1 }, limitInputPixels: false }).png().toBuffer());
  return { composite, mask };
}

/** Child: one harmonize of the files, then its memory figures as one JSON line on stdout. */
async function child(): Promise<void> {
  const [stage, composite, mask, out, model] = process.argv.slice(process.argv.indexOf('--child') + 1);
  const { harmonizeWithReport, resolveModel } = await import('../src/pipeline/harmonize.ts');
  const { initEngine } = await import('../src/engine/index.ts');
  await initEngine();
  const resolved = stage === 'intrinsic' ? null : await resolveModel(model, stage as Stage);
  const startup = procMemoryMiB();
  const t0 = performance.now();
  const r = await harmonizeWithReport({ composite, mask, stage: stage as Stage, model: resolved, format: 'png' });
  await writeFileAtomic(out, r.image);
  const ms = performance.now() - t0;
  const mem = procMemoryMiB();
  process.stdout.write(JSON.stringify({ stage, width: r.width, height: r.height, startupMiB: startup.rss, peakMiB: mem.hwm, ms, outBytes: statSync(out).size, timings: r.timings }) + '\n');
}

interface ChildResult { stage: string; width: number; height: number; startupMiB: number; peakMiB: number; ms: number; outBytes: number; timings: Record<string, number> }

/** Runs one stage in a fresh process and returns its figures. */
export function measureStage(stage: Stage, files: { composite: string; mask: string; model?: string }, out: string): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--child', stage, files.composite, files.mask, out, files.model ?? ''], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`stage ${stage} failed (exit ${r.status}): ${r.stderr.slice(-2000)}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as ChildResult;
}

async function main(): Promise<void> {
  const W = Number(arg('width', '6000'));
  const H = Number(arg('height', '4000'));
  const stages = arg('stages', 'intrinsic,full').split(',') as Stage[];
  const budget = Number(arg('budget-mb', 'NaN'));
  const runs = Number(arg('runs', '1'));
  const dir = mkdtempSync(join(tmpdir(), 'harmonia-large-'));
  try {
    const files = await writeLargeInputs(dir, W, H);
    let model: string | undefined;
    if (stages.some((s) => s !== 'intrinsic')) {
      const { buildGenerator } = await import('../src/models/generator.ts');
      const { saveHarmonizationModel } = await import('../src/pipeline/model.ts');
      const cfg = { base: 8, maskInput: true, residual: true, residualScale: 0.3, seed: 3 };
      model = join(dir, 'model');
      await saveHarmonizationModel(model, buildGenerator(cfg), cfg, { name: 'bench-random', input: 'semiHarmonized' });
    }
    console.log(`input ${W}×${H} (${((W * H) / 1e6).toFixed(1)} MP): composite ${(statSync(files.composite).size / 1e6).toFixed(1)} MB JPEG, mask PNG; one fresh process per run`);
    console.log('| stage | run | start-up RSS (MiB) | peak RSS VmHWM (MiB) | peak − start-up (MiB) | wall (s) | stage times (ms) |');
    console.log('|---|---|---|---|---|---|---|');
    let over = false;
    for (const stage of stages) {
      for (let k = 1; k <= runs; k++) {
        const r = measureStage(stage, { ...files, model }, join(dir, `out-${stage}.png`));
        const t = Object.entries(r.timings).map(([a, b]) => `${a} ${b.toFixed(0)}`).join(', ');
        console.log(`| ${stage} | ${k} | ${r.startupMiB.toFixed(0)} | ${r.peakMiB.toFixed(0)} | ${(r.peakMiB - r.startupMiB).toFixed(0)} | ${(r.ms / 1000).toFixed(1)} | ${t} |`);
        if (Number.isFinite(budget) && r.peakMiB > budget) over = true;
      }
    }
    if (Number.isFinite(budget)) console.log(over ? `OVER the budget of ${budget} MiB` : `within the budget of ${budget} MiB`);
    process.exitCode = over ? 1 : 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--child')) await child();
else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
