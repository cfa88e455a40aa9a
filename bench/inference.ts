/**
 * Generator inference speed, batch 1: TensorFlow.js (wasm), ONNX Runtime (1 and 2 intra-op threads)
 * and PyTorch CPU (1 and 2 threads, the identical network with the same weights: bench/torch/generator.py),
 * plus the full harmonize (intrinsic + GAN) of a 1024×1024 composite with G on ORT and on tfjs-wasm.
 *
 *   npm run bench:inference                       # sizes 256,1024; 5 rounds
 *   npm run bench:inference -- --sizes 256 --rounds 3 --reps 2 --no-torch --no-full
 *   npm run bench:inference -- --json harmonia-out/inference.json
 *
 * Method: the engines run in alternating rounds (the order rotates every round), `reps` timed calls
 * per engine per round after one warm-up call each; the table shows the median of all timed calls
 * and the min–max range. The machine may be shared: read medians, not single calls. Outputs of all
 * engines are compared on the same input (max abs difference against tfjs).
 * The weights are the seeded paper G (random biases), identical in every engine.
 *
 * First (issue 25), the full-resolution colour transform of the `global` generator on arrays
 * (applyColorTransformArrays, what every harmonize with the shipped model runs at the input's size),
 * at 12 MP (2832×4256, `--apply 2832x4256`; `--apply none` skips it): the loop it replaced (copied
 * below), the new JavaScript loop and the native addon (C++/OpenMP row bands), alternating, with a
 * bit-for-bit comparison of their outputs.
 */
import { parseArgs } from 'node:util';
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { tf } from '../src/engine/tf.ts';
import { initEngine } from '../src/engine/index.ts';
import { buildGenerator, runGenerator, PAPER_GENERATOR, type GeneratorConfig } from '../src/models/generator.ts';
import { exportGeneratorToOnnx } from '../src/export/generator.ts';
import { onnxAvailable, createOnnxGenerator, withOnnxRunner, type OnnxGenerator } from '../src/models/onnx.ts';
import { saveHarmonizationModel, loadHarmonizationModel, DEFAULT_MODEL_DIR } from '../src/pipeline/model.ts';
import { harmonizeImage, type HarmonizationModel } from '../src/pipeline/refine.ts';
import { encodeImage } from '../src/image/io.ts';
import { makeProceduralComposite } from '../src/data/procedural.ts';
import { Rng } from '../src/util/random.ts';
import { applyColorTransformArrays, CURVE_KNOTS, TRANSFORM_PARAMS, type ColorTransformParams } from '../src/models/color-transform-apply.ts';
import { loadNativeAddon } from '../src/engine/native/addon.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,1024' },
    rounds: { type: 'string', default: '5' },
    reps: { type: 'string' },
    'no-torch': { type: 'boolean', default: false },
    'no-full': { type: 'boolean', default: false },
    'full-rounds': { type: 'string', default: '3' },
    apply: { type: 'string', default: '2832x4256' },
    'apply-only': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const SIZES = values.sizes.split(',').map(Number);
const ROUNDS = Number(values.rounds);
const PYTHON = '/usr/bin/python3';
const CFG: GeneratorConfig = { ...PAPER_GENERATOR, seed: 1 };

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

function seededPaperG(): tf.LayersModel {
  const g = buildGenerator(CFG);
  const rng = new Rng('bench-inference-bias');
  for (const layer of g.layers) {
    const w = layer.getWeights();
    if (w.length !== 2) continue;
    const b = tf.tensor(Float32Array.from({ length: w[1].size }, () => rng.uniform(-0.1, 0.1)), w[1].shape);
    layer.setWeights([w[0], b]);
    b.dispose();
  }
  return g;
}

function pattern(n: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (i % 255) / 255;
  return v;
}

/** NHWC pattern whose NCHW transpose is torch's `arange % 255 / 255` input (so all engines see one image). */
function torchPatternNhwc(h: number, w: number): Float32Array {
  const nchw = pattern(3 * h * w);
  const out = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) for (let p = 0; p < h * w; p++) out[p * 3 + c] = nchw[c * h * w + p];
  return out;
}

class TorchServer {
  private proc: ChildProcessByStdio<Writable, Readable, null>;
  private lines: AsyncIterableIterator<string>;
  constructor(weights: string, manifest: string) {
    this.proc = spawn(PYTHON, [new URL('./torch/generator.py', import.meta.url).pathname, weights, manifest], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  async ask<T>(cmd: string): Promise<T> {
    this.proc.stdin.write(cmd + '\n');
    const r = await this.lines.next();
    if (r.done) throw new Error(`torch server exited (command: ${cmd})`);
    const v = JSON.parse(r.value) as T & { error?: string };
    if (v && typeof v === 'object' && 'error' in v && v.error) throw new Error(`torch server: ${v.error}`);
    return v;
  }
  quit(): void {
    this.proc.stdin.end('quit\n');
  }
}

interface Timing {
  wall: number[];
  cpu: number[];
}

/** Wall and CPU (user + system, all threads of this process) ms of each of `reps` calls of fn. */
function timeCalls(reps: number, fn: () => void): Timing {
  const t: Timing = { wall: [], cpu: [] };
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    t.wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    t.cpu.push((c.user + c.system) / 1000);
  }
  return t;
}

interface Engine {
  name: string;
  /** Runs `reps` forward passes of an S×S image; returns per-call wall and process-CPU ms. */
  time(size: number, reps: number): Promise<Timing>;
  /** The output for NHWC input x (S×S×3). */
  output(x: Float32Array, size: number): Promise<Float32Array>;
}

function tfjsEngine(g: tf.LayersModel): Engine {
  const fwd = (x: Float32Array, s: number) =>
    tf.tidy(() => runGenerator(g, tf.tensor4d(x, [1, s, s, 3]), undefined, CFG).dataSync() as Float32Array);
  return {
    name: 'tfjs-wasm',
    async time(s, reps) {
      const x = torchPatternNhwc(s, s);
      return timeCalls(reps, () => fwd(x, s));
    },
    output: async (x, s) => fwd(x, s),
  };
}

function ortEngine(g: OnnxGenerator): Engine {
  return {
    name: `ort-${g.threads}t`,
    async time(s, reps) {
      const x = torchPatternNhwc(s, s);
      return timeCalls(reps, () => g.runSync(x, undefined, s, s));
    },
    output: async (x, s) => g.runSync(x, undefined, s, s),
  };
}

function torchEngine(server: TorchServer, threads: number, dir: string): Engine {
  return {
    name: `torch-${threads}t`,
    async time(s, reps) {
      const r = await server.ask<{ wall: number[]; cpu: number[] }>(`infer ${s} ${s} ${threads} ${reps}`);
      return { wall: r.wall.map((v) => v * 1000), cpu: r.cpu.map((v) => v * 1000) };
    },
    async output(x, s) {
      const src = join(dir, 'x.bin');
      const dst = join(dir, 'y.bin');
      writeFileSync(src, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
      await server.ask(`run ${src} ${dst} ${s} ${s} ${threads}`);
      const b = readFileSync(dst);
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    },
  };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** applyColorTransformArrays before issue 25 (commit f9758ca), `global` (no field): the baseline. */
function applyBefore(rgb: Float32Array, mask: Float32Array, width: number, height: number, p: ColorTransformParams): Float32Array {
  const K = CURVE_KNOTS, th = p.theta;
  const slope = new Float32Array(3 * K);
  for (let i = 0; i < 3 * K; i++) slope[i] = Math.fround(Math.exp(Math.min(4, Math.max(-4, th[i]))));
  const A = th.subarray(3 * K, 3 * K + 9), b = th.subarray(3 * K + 9, 3 * K + 12);
  const gate = 1 / (1 + Math.exp(-th[3 * K + 12]));
  const out = new Float32Array(rgb);
  const y = [0, 0, 0];
  for (let py = 0; py < height; py++) {
    for (let px = 0; px < width; px++) {
      const pi = py * width + px;
      const m = mask[pi];
      if (!(m > 0)) continue;
      const o = pi * 3;
      for (let c = 0; c < 3; c++) {
        const x = rgb[o + c];
        let acc = 0;
        for (let k = 0; k < K; k++) acc += Math.min(Math.max(x - k / K, 0), 1 / K) * slope[c * K + k];
        y[c] = acc;
      }
      for (let c = 0; c < 3; c++) {
        const v = y[c] + A[c * 3] * y[0] + A[c * 3 + 1] * y[1] + A[c * 3 + 2] * y[2] + b[c];
        const x = rgb[o + c];
        out[o + c] = x + m * (Math.min(1, Math.max(0, x + gate * (v - x))) - x);
      }
    }
  }
  return out;
}

/** The full-resolution apply: before / JavaScript / native, alternating rounds, median and min, bit-identity. */
function applyBench(spec: string): unknown {
  const m = /^(\d+)x(\d+)$/.exec(spec);
  if (!m) throw new Error(`--apply: expected WIDTHxHEIGHT (e.g. 2832x4256) or none, got "${spec}"`);
  const width = Number(m[1]), height = Number(m[2]), n = width * height;
  const r = new Rng('bench-apply');
  const rgb = new Float32Array(n * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = Math.round(r.next() * 255) / 255; // decoded 8-bit values
  // a soft-edged ellipse covering ~40 % of the image (the foreground of a composite)
  const mask = new Float32Array(n);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const d = Math.hypot((x - width / 2) / (0.36 * width), (y - height / 2) / (0.36 * height));
    mask[y * width + x] = Math.min(1, Math.max(0, (1.05 - d) * 10));
  }
  const theta = Float32Array.from({ length: TRANSFORM_PARAMS }, (_, i) => (i < 3 * CURVE_KNOTS ? r.uniform(-0.5, 0.5) : i < TRANSFORM_PARAMS - 1 ? r.uniform(-0.1, 0.1) : 2));
  const p: ColorTransformParams = { theta };
  const native = loadNativeAddon();
  const engines: [string, () => Float32Array][] = [
    ['before (JS, loop over 8 segments)', () => applyBefore(rgb, mask, width, height, p)],
    ['JS, one segment per value', () => applyColorTransformArrays(rgb, mask, width, height, p, 'js')],
  ];
  if (native.ok) engines.push([`native (${native.addon.info().threads} threads)`, () => applyColorTransformArrays(rgb, mask, width, height, p, 'native')]);
  else console.log(`native addon unavailable (${native.reason}): native column skipped`);
  const ref = engines[0][1]();
  const same: Record<string, boolean> = {};
  for (const [name, f] of engines) {
    const o = f();
    same[name] = Buffer.from(o.buffer, o.byteOffset, o.byteLength).equals(Buffer.from(ref.buffer, ref.byteOffset, ref.byteLength));
  }
  const times: Record<string, number[]> = Object.fromEntries(engines.map(([k]) => [k, []]));
  const rounds = Math.max(3, ROUNDS);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < engines.length; i++) {
      const [name, f] = engines[(i + round) % engines.length];
      const t0 = performance.now();
      f();
      times[name].push(performance.now() - t0);
    }
  }
  const fg = mask.reduce((a, v) => a + (v > 0 ? 1 : 0), 0) / n;
  console.log(`\nFull-resolution colour transform (global), ${width}×${height} = ${(n / 1e6).toFixed(1)} MP, ${(100 * fg).toFixed(0)} % of pixels in the mask; ${rounds} alternating rounds; ms`);
  console.log('| engine | median | min | MP/s (median) | bit-identical to before |\n|---|---|---|---|---|');
  const out: Record<string, unknown> = {};
  for (const [name] of engines) {
    const t = times[name];
    out[name] = { median: median(t), min: Math.min(...t), all: t, identical: same[name] };
    console.log(`| ${name} | ${fmt(median(t))} | ${fmt(Math.min(...t))} | ${(n / 1e3 / median(t)).toFixed(0)} | ${same[name] ? 'yes' : 'NO'} |`);
  }
  if (Object.values(same).some((v) => !v)) process.exitCode = 1;
  return { width, height, foreground: fg, engines: out };
}

async function main(): Promise<void> {
  const applyResult = values.apply === 'none' ? undefined : applyBench(values.apply);
  if (values['apply-only']) return;
  const info = await initEngine({ backend: 'wasm' });
  const results: Record<string, unknown> = { date: new Date().toISOString(), backend: info, rounds: ROUNDS, node: process.version, apply: applyResult };
  const g = seededPaperG();
  const bytes = exportGeneratorToOnnx(g, CFG);
  const engines: Engine[] = [tfjsEngine(g)];
  const ortGs: OnnxGenerator[] = [];
  if (await onnxAvailable()) {
    for (const threads of [1, 2]) ortGs.push(await createOnnxGenerator(bytes, { threads }));
    engines.push(...ortGs.map(ortEngine));
  } else console.log('onnxruntime-node not installed: ORT columns skipped');

  const tmp = mkdtempSync(join(tmpdir(), 'harmonia-bench-inf-'));
  let server: TorchServer | undefined;
  const torchOk = !values['no-torch'] && spawnSync(PYTHON, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0;
  if (torchOk) {
    const manifest: [string, number[]][] = [];
    const chunks: Float32Array[] = [];
    for (const layer of g.layers) for (const [i, w] of layer.getWeights().entries()) {
      manifest.push([`${layer.name}/${i === 0 ? 'kernel' : 'bias'}`, w.shape]);
      chunks.push(w.dataSync() as Float32Array);
    }
    const all = new Float32Array(chunks.reduce((a, c) => a + c.length, 0));
    let o = 0;
    for (const c of chunks) { all.set(c, o); o += c.length; }
    writeFileSync(join(tmp, 'weights.bin'), new Uint8Array(all.buffer));
    writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest));
    server = new TorchServer(join(tmp, 'weights.bin'), join(tmp, 'manifest.json'));
    engines.push(torchEngine(server, 1, tmp), torchEngine(server, 2, tmp));
  } else console.log(values['no-torch'] ? 'PyTorch skipped (--no-torch)' : `PyTorch unavailable (${PYTHON} -c "import torch" failed): torch columns skipped`);

  // Same input, same weights: outputs must agree.
  const checkSize = 256;
  const xc = torchPatternNhwc(checkSize, checkSize);
  const ref = await engines[0].output(xc, checkSize);
  const diffs: Record<string, number> = {};
  for (const e of engines.slice(1)) diffs[e.name] = maxAbsDiff(await e.output(xc, checkSize), ref);
  results.maxAbsDiffVsTfjs256 = diffs;
  console.log(`outputs at ${checkSize}², max |engine − tfjs-wasm|: ${Object.entries(diffs).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`);

  const table: Record<number, Record<string, { median: number; min: number; max: number; n: number; cpuMedian: number }>> = {};
  for (const size of SIZES) {
    const reps = values.reps ? Number(values.reps) : size >= 1024 ? 2 : 5;
    const times: Record<string, number[]> = Object.fromEntries(engines.map((e) => [e.name, []]));
    const cpus: Record<string, number[]> = Object.fromEntries(engines.map((e) => [e.name, []]));
    for (const e of engines) await e.time(size, 1); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      const order = engines.map((_, i) => engines[(i + r) % engines.length]);
      for (const e of order) {
        const r = await e.time(size, reps);
        times[e.name].push(...r.wall);
        cpus[e.name].push(...r.cpu);
      }
    }
    table[size] = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length, cpuMedian: median(cpus[k]) }]));
    console.log(`\nG forward ${size}×${size}, batch 1 (${ROUNDS} alternating rounds × ${reps} calls; wall median [min–max] ms; CPU-time median ms)`);
    for (const [k, v] of Object.entries(table[size])) console.log(`  ${k.padEnd(10)} ${fmt(v.median).padStart(7)}  [${fmt(v.min)}–${fmt(v.max)}]  cpu ${fmt(v.cpuMedian)}`);
  }
  results.generator = table;
  server?.quit();
  for (const o of ortGs) o.dispose();

  // Markdown table
  const names = engines.map((e) => e.name);
  const md = [`| G forward, batch 1 | ${names.join(' | ')} |`, `|---|${names.map(() => '---').join('|')}|`];
  for (const size of SIZES) md.push(`| ${size}² wall | ${names.map((n) => fmt(table[size][n].median)).join(' | ')} |`);
  for (const size of SIZES) md.push(`| ${size}² CPU time | ${names.map((n) => fmt(table[size][n].cpuMedian)).join(' | ')} |`);
  console.log('\n' + md.join('\n'));

  if (!values['no-full']) results.full = await fullHarmonize(g, tmp);
  rmSync(tmp, { recursive: true, force: true });
  if (values.json) {
    writeFileSync(values.json, JSON.stringify(results, null, 2) + '\n');
    console.log(`\nwrote ${values.json}`);
  }
}

/**
 * Full harmonize (intrinsic + GAN, in memory, plus PNG encoding) of a 1024² procedural composite,
 * alternating: the seeded paper G on tfjs-wasm and on ORT, and the shipped models/default on both.
 */
async function fullHarmonize(g: tf.LayersModel, tmp: string): Promise<unknown> {
  const size = 1024;
  const rounds = Number(values['full-rounds']);
  const dir = join(tmp, 'model');
  await saveHarmonizationModel(dir, g, CFG, { name: 'bench-paper-G', input: 'semiHarmonized' });
  const base = await loadHarmonizationModel(dir);
  const variants: [string, HarmonizationModel][] = [['tfjs-wasm', base]];
  if (await onnxAvailable()) variants.push(['ort (default threads)', await withOnnxRunner(dir, base, 'onnx')]);
  // the generator that ships (models/default: U-Net, mask input, residual), as `harmonia harmonize` runs it
  if (existsSync(join(DEFAULT_MODEL_DIR, 'model.json'))) {
    const shipped = await loadHarmonizationModel(DEFAULT_MODEL_DIR);
    variants.push([`shipped ${shipped.card?.name ?? 'default'}, tfjs-wasm`, shipped]);
    if (await onnxAvailable()) variants.push([`shipped ${shipped.card?.name ?? 'default'}, ort`, await withOnnxRunner(DEFAULT_MODEL_DIR, shipped, 'onnx')]);
  }
  const pc = makeProceduralComposite({ seed: 7, width: size, height: size });
  const rows: Record<string, { total: number[]; intrinsic: number[]; gan: number[]; blend: number[]; encode: number[] }> = {};
  for (const [name] of variants) rows[name] = { total: [], intrinsic: [], gan: [], blend: [], encode: [] };
  for (const [, m] of variants) harmonizeImage(pc.composite, pc.mask, m); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < variants.length; i++) {
      const [name, m] = variants[(i + r) % variants.length];
      const t0 = performance.now();
      const res = harmonizeImage(pc.composite, pc.mask, m);
      const t1 = performance.now();
      await encodeImage(res.result, 'png');
      const t2 = performance.now();
      const row = rows[name];
      row.total.push(t1 - t0);
      row.intrinsic.push(res.timings.intrinsic ?? 0);
      row.gan.push(res.timings.gan ?? 0);
      row.blend.push(res.timings.blend ?? 0);
      row.encode.push(t2 - t1);
    }
  }
  console.log(`\nFull harmonizeImage ${size}×${size} (procedural composite, fg ${(100 * pc.mask.data.reduce((a, b) => a + b, 0) / (size * size)).toFixed(0)}%), ${rounds} alternating rounds; the round with the median total, ms (all totals in brackets)`);
  console.log('| G engine | total (in memory) | intrinsic | GAN (G at 1024² + correction) | blend | + PNG encode |');
  console.log('|---|---|---|---|---|---|');
  const out: Record<string, unknown> = {};
  for (const [name, row] of Object.entries(rows)) {
    const order = row.total.map((v, i) => [v, i]).sort((a, b) => a[0] - b[0]);
    const i = order[(order.length - 1) >> 1][1];
    const m = { total: row.total[i], intrinsic: row.intrinsic[i], gan: row.gan[i], blend: row.blend[i], encode: row.encode[i] };
    out[name] = { medianRound: m, all: row };
    console.log(`| ${name} | ${fmt(m.total)} [${row.total.map(fmt).join(', ')}] | ${fmt(m.intrinsic)} (${((100 * m.intrinsic) / m.total).toFixed(0)}%) | ${fmt(m.gan)} | ${fmt(m.blend)} | ${fmt(m.encode)} |`);
  }
  return out;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
