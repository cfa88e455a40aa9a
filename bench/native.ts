/**
 * Native (oneDNN addon) vs wasm vs PyTorch, side by side, on the workloads the project runs:
 *  - GAN step: the trainer's own step (src/train/engines.ts LocalEngine.step: GanStep.computeGradients,
 *    the gradient-norm check, the project's Adam in src/engine/parallel/adam.ts, setWeights) on the
 *    paper GAN (paperGanOptions: paper G and D, BCE-with-logits + 100·L1, Adam(2e-4, 0.5, 0.999) ε 1e-8)
 *    at batch 4, random data;
 *  - global G step: the same LocalEngine.step on the `global` colour-transform generator with the
 *    shipped model's recipe (globalRecipe() below: the global-cpu preset, analysis copy 64², patch D
 *    base 16 on [RGB, mask], mask setting + FN-MSE and the add-on terms of the recipe's last command);
 *    at 256² batch 4 and at the recipe's own 64² batch 16;
 *  - G inference (paper G) at batch 1;
 *  - the VGG-19 feature loss (mean over relu1_2…relu5_4 of the feature-map MSE, forward of both
 *    images + backward to the input, seeded random weights: same arithmetic as the real ones).
 * The PyTorch twins (TORCH_SERVER below and bench/torch/color_transform.py) have the same layers,
 * parameter counts (checked at start-up), losses, optimiser and step order; `--verify-global`
 * loads the tfjs global model's weights into the twin and compares output, losses and gradients.
 * What the twins leave out: LocalEngine's per-step overhead (tensors built from the batch's arrays,
 * gradients read back, the finite/gradient-norm check, setWeights) has no PyTorch counterpart; it is
 * part of what the trainer pays, so it is timed on the tfjs side.
 * (The paper twin's L_D used to be halved; the trainer's is not (src/train/step.ts), and neither is the twin's now.)
 *
 * One persistent server process per configuration (models built once per size, warmed up), driven
 * in alternating rounds (A, B, C, …, A, B, C, …) so load changes on a shared machine hit every
 * configuration alike; the figure is the median over all rounds. Each run ends with a contamination
 * verdict (bench/quality.ts): load average above 1.5 at start, a workload/configuration whose round
 * medians spread more than 30 % (max/min − 1), or PyTorch on the reference BLAS. `--check` makes a
 * contaminated run exit with status 3 (`npm run bench` passes it).
 *
 * Configurations: native-1t / native-2t (HARMONIA_NATIVE_THREADS=1/2), wasm (the project's wasm
 * kernels, 1 thread), pt1 / pt2 (Debian python3-torch with 1 / 2 intra-op threads and
 * OPENBLAS_NUM_THREADS=1 / 2 unless set: torch.set_num_threads does not reach OpenBLAS's own pool),
 * pt2p (pt2 with OMP_WAIT_POLICY=passive, the setting the native addon used until 2026-12-03), ptNbM (ptN with
 * OpenBLAS on M threads: pt2b1 avoids 4 threads on 2 cores and was the faster PyTorch on the GAN step).
 * With several PyTorch configurations of one thread count, the table adds a column against the
 * faster of them per workload ("best"), and the contamination check covers every configuration.
 *
 * Peak memory: the maximum resident set size of each server process over the whole run (getrusage).
 *
 * Usage: node --import tsx bench/native.ts [--rounds 5] [--reps 2] [--sizes 128,256] [--global 256x4,64x16]
 *          [--infer 256,1024] [--vgg 256] [--configs native-1t,native-2t,wasm,pt1,pt2,pt2p] [--json out.json] [--check]
 *        node --import tsx bench/native.ts --verify-global     # the global twin against the tfjs model, same weights
 *        node --import tsx bench/native.ts --ab-fused 64x16,256x4   # issue 25's fused kernels on/off, one process
 *        node --import tsx bench/native.ts --configs native-2t,base-native-2t --baseline DIR …
 *                                        # against another checkout's server (e.g. `git archive <commit> bench src package.json tsconfig.json`)
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { cpus, loadavg, tmpdir } from 'node:os';
import { tf } from '../src/engine/tf.ts';
import { initEngine } from '../src/engine/index.ts';
import { loadNativeAddon } from '../src/engine/native/addon.ts';
import { DEFAULT_ADAM, type AdamConfig } from '../src/engine/parallel/adam.ts';
import { GanStep, type StepConfig, type TrainBatch } from '../src/train/step.ts';
import { LocalEngine } from '../src/train/engines.ts';
import { paperGanOptions } from '../src/train/step-module.ts';
import type { GanModuleOptions } from '../src/train/step-module.ts';
import { GLOBAL_CPU_PRESET } from '../src/train/presets.ts';
import { runGenerator } from '../src/models/generator.ts';
import { createRandomVgg19, VGG_CONFIG, DEFAULT_VGG19_TAPS, type VggFeatures } from '../src/models/vgg.ts';
import { featureLoss } from '../src/losses/feature.ts';
import { Rng } from '../src/util/random.ts';
import { writeFileAtomic } from '../src/util/atomic.ts';
import { checkContamination, classifyBlas, median, type BlasKind } from './quality.ts';

/** Pause before each timed call of the rounds (see there), in ms. */
const SETTLE_MS = 400;

/** Direct-convolution FLOPs (2·MAC), counted as in ../shared/docs/engine-probe.md §1. */
const GAN_GFLOP: Record<number, number> = { 128: 10.22, 256: 40.87 };
const INFER_GFLOP: Record<number, number> = { 256: 1.17, 1024: 18.79 };

/** VGG-19 feature loss at h², batch n: 3 × the direct-convolution FLOPs up to relu5_4 (forward of the
 * prediction and of the target, and the input-gradient backward pass; no weight gradients). */
function vggGflop(h: number, n = 1): number {
  let side = h, inC = 3, flop = 0, convs = 0;
  for (const c of VGG_CONFIG[19]) {
    if (convs === 16) break;
    if (c === 'M') { side /= 2; continue; }
    flop += 2 * side * side * 9 * inC * c;
    inC = c;
    convs++;
  }
  return (3 * n * flop) / 1e9;
}

/**
 * The training step of the shipped default model (models/default, docs/MODEL_CARD.md): the
 * `global-cpu` preset (global G with a 64² analysis copy, mask-conditioned PatchGAN base 16, mask
 * setting λ_mask 100 / λ_unmask 0 + 100·FN-MSE + BCE) with the add-on terms and Adam of the recipe's
 * last command (`--no-worse 600 --log-ratio 5 --worse-log 20 --lr 3e-4 --seed 5`), which has every
 * loss term of the recipe. The recipe trains at 64² batch 16 with 2 data-parallel workers; here one
 * process (LocalEngine) with the configuration's threads.
 */
export function globalRecipe(): { step: StepConfig; optimizer: AdamConfig } {
  const t = GLOBAL_CPU_PRESET.train;
  return {
    step: { generator: t.generator, discriminator: t.discriminator, loss: { ...t.loss, noWorseWeight: 600, logRatioWeight: 5, worseLogWeight: 20 }, seed: 5 },
    optimizer: { ...t.optimizer, lr: 3e-4 },
  };
}

function randArray(length: number, seed: number): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length }, () => r.next());
}

/** The paper GAN's batch: input and ground truth uniform random, mask all ones (the paper step does not read it). */
function paperBatch(n: number, h: number): TrainBatch {
  return { n, height: h, width: h, input: randArray(n * h * h * 3, 1), real: randArray(n * h * h * 3, 2), mask: new Float32Array(n * h * h).fill(1), ids: Array.from({ length: n }, (_, i) => `bench-${i}`) };
}

/** The global step's batch (the PyTorch server builds the same shape): ground truth uniform random,
 * mask a centred h/2 square (binary), input = ground truth with the foreground shifted (0.7·x + 0.2). */
function globalBatch(n: number, h: number, w = h): TrainBatch {
  const real = randArray(n * h * w * 3, 11);
  const mask = new Float32Array(n * h * w);
  const input = new Float32Array(real);
  const y0 = h >> 2, x0 = w >> 2;
  for (let b = 0; b < n; b++) {
    for (let y = y0; y < y0 + (h >> 1); y++) {
      for (let x = x0; x < x0 + (w >> 1); x++) {
        const p = (b * h + y) * w + x;
        mask[p] = 1;
        for (let c = 0; c < 3; c++) input[p * 3 + c] = 0.7 * real[p * 3 + c] + 0.2;
      }
    }
  }
  return { n, height: h, width: w, input, real, mask, ids: Array.from({ length: n }, (_, i) => `bench-${i}`) };
}

const paramCount = (gan: GanStep, net: 'G' | 'D') => gan.sizes(net).reduce((a, b) => a + b, 0);

// ------------------------------------------------------------------------------------------------
// Server side (tfjs): `bench/native.ts --serve native|wasm`
// ------------------------------------------------------------------------------------------------
async function serveTf(backend: 'native' | 'wasm'): Promise<void> {
  const info = await initEngine({ backend });
  const paperStep = (paperGanOptions() as unknown as GanModuleOptions).step;
  const recipe = globalRecipe();
  // the trainer's engine (LocalEngine: gradients, norm check, the project's Adam, setWeights), one per batch shape
  const engines = new Map<string, { engine: LocalEngine; batch: TrainBatch }>();
  const trainStep = async (kind: 'gan' | 'global', n: number, h: number): Promise<number> => {
    const key = `${kind} ${n}x${h}`;
    let c = engines.get(key);
    if (!c) {
      c = kind === 'gan'
        ? { engine: new LocalEngine(new GanStep(paperStep), DEFAULT_ADAM), batch: paperBatch(n, h) }
        : { engine: new LocalEngine(new GanStep(recipe.step), recipe.optimizer), batch: globalBatch(n, h) };
      engines.set(key, c);
    }
    const r = await c.engine.step(c.batch);
    if (!r.ok) throw new Error(`${key}: step failed in phase ${r.phase}: ${r.detail}`);
    return r.losses.d;
  };
  const rand = (shape: [number, number, number, number], seed: number) => tf.tensor4d(randArray(shape.reduce((a, b) => a * b, 1), seed), shape);
  const inferCache = new Map<number, { G: tf.LayersModel; x: tf.Tensor4D }>();
  const infer = (h: number): void => {
    let c = inferCache.get(h);
    if (!c) {
      c = { G: new GanStep(paperStep).generator, x: rand([1, h, h, 3], 3) };
      inferCache.set(h, c);
    }
    const entry = c;
    // dataSync outside tidy: tidy walks a returned container element by element (3M values at 1024²).
    const y = tf.tidy(() => runGenerator(entry.G, entry.x));
    y.dataSync();
    y.dispose();
  };
  const vggCache = new Map<string, { vgg: VggFeatures; x: tf.Tensor4D; y: tf.Tensor4D }>();
  const vggStep = (n: number, h: number): void => {
    const key = `${n}x${h}`;
    let c = vggCache.get(key);
    if (!c) {
      c = { vgg: createRandomVgg19(7, DEFAULT_VGG19_TAPS), x: rand([n, h, h, 3], 4), y: rand([n, h, h, 3], 5) };
      vggCache.set(key, c);
    }
    const { vgg, x, y } = c;
    const dx = tf.grad((xx: tf.Tensor) => featureLoss((im) => vgg.forward(im), xx as tf.Tensor4D, y))(x);
    dx.dataSync();
    dx.dispose();
  };
  const addon = backend === 'native' ? loadNativeAddon() : undefined;
  const dnnl = addon?.ok ? addon.addon.info().dnnl : undefined;
  const rl = createInterface({ input: process.stdin });
  process.stdout.write(JSON.stringify({ ready: true, backend: info.backend, threads: info.threads, tfjs: tf.version.tfjs, dnnl }) + '\n');
  for await (const line of rl) {
    const [cmd, ...rest] = line.trim().split(/\s+/);
    if (cmd === 'quit') break;
    const nums = rest.map(Number);
    const times: number[] = [];
    if (cmd === 'gan' || cmd === 'global') {
      const [n, h, reps] = nums;
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        const l = await trainStep(cmd, n, h);
        times.push((performance.now() - t0) / 1000);
        if (!Number.isFinite(l)) throw new Error(`non-finite D loss ${l}`);
      }
    } else if (cmd === 'infer') {
      const [h, reps] = nums;
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        infer(h);
        times.push((performance.now() - t0) / 1000);
      }
    } else if (cmd === 'vgg') {
      const [n, h, reps] = nums;
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        vggStep(n, h);
        times.push((performance.now() - t0) / 1000);
      }
    } else if (cmd === 'params') {
      const gan = new GanStep(paperStep), glob = new GanStep(recipe.step);
      process.stdout.write(JSON.stringify({ gan: { G: paramCount(gan, 'G'), D: paramCount(gan, 'D') }, global: { G: paramCount(glob, 'G'), D: paramCount(glob, 'D') } }) + '\n');
      gan.dispose();
      glob.dispose();
      continue;
    } else if (cmd === 'mem') {
      process.stdout.write(JSON.stringify([process.resourceUsage().maxRSS / 1024]) + '\n');
      continue;
    }
    process.stdout.write(JSON.stringify(times) + '\n');
  }
  process.exit(0);
}

// ------------------------------------------------------------------------------------------------
// Issue 25's fused kernels on and off, in one process (`--ab-fused 64x16,256x4`)
// ------------------------------------------------------------------------------------------------
/**
 * The `global` recipe's training step (LocalEngine, as the trainer and the `global` rows above) on
 * the native backend with the fused kernels registered (the colour transform, the D's conv + bias +
 * leaky ReLU, the broadcast of the Sum/Mean gradients) and unregistered (the ops they replaced, as
 * before issue 25; the native SplitV and concatChannels stay on in both),
 * alternating round by round in one process so load changes hit both alike; min and median per side.
 */
async function abFused(spec: string, rounds: number, reps: number): Promise<void> {
  const info = await initEngine({ backend: 'native' });
  const { CONV_LEAKY_KERNEL, COLOR_APPLY_KERNEL, COLOR_APPLY_GRAD_KERNEL, BROADCAST_KERNEL } = await import('../src/engine/ops.ts');
  const saved = [CONV_LEAKY_KERNEL, COLOR_APPLY_KERNEL, COLOR_APPLY_GRAD_KERNEL, BROADCAST_KERNEL].map((k) => {
    const cfg = tf.getKernel(k, 'native');
    if (!cfg) throw new Error(`kernel ${k} is not registered on native (stale addon? npm run build:native)`);
    return cfg;
  });
  const setFused = (on: boolean) => {
    for (const cfg of saved) {
      const has = tf.getKernel(cfg.kernelName, 'native') !== undefined;
      if (on && !has) tf.registerKernel(cfg);
      if (!on && has) tf.unregisterKernel(cfg.kernelName, 'native');
    }
  };
  const recipe = globalRecipe();
  console.log(`# --ab-fused ${spec}, ${new Date().toISOString()}, native ${info.threads} threads, load average ${fmtLoad(loadavg())}`);
  for (const s of spec.split(',')) {
    const m = /^(\d+)x(\d+)$/.exec(s);
    if (!m) throw new Error(`--ab-fused: expected SIDExBATCH (e.g. 64x16), got "${s}"`);
    const h = Number(m[1]), n = Number(m[2]);
    const batch = globalBatch(n, h);
    const engines = { on: new LocalEngine(new GanStep(recipe.step), recipe.optimizer), off: new LocalEngine(new GanStep(recipe.step), recipe.optimizer) };
    const times: Record<'on' | 'off', number[]> = { on: [], off: [] };
    const cpuTimes: Record<'on' | 'off', number[]> = { on: [], off: [] };
    const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
    const run = async (side: 'on' | 'off', record: boolean) => {
      setFused(side === 'on');
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now(), c0 = cpuMs();
        const r = await engines[side].step(batch);
        if (!r.ok) throw new Error(`${s} fused ${side}: step failed (${r.phase}: ${r.detail})`);
        if (record) {
          times[side].push(performance.now() - t0);
          cpuTimes[side].push(cpuMs() - c0);
        }
      }
    };
    for (const side of ['on', 'off'] as const) await run(side, false);
    for (let r = 0; r < rounds; r++) for (const side of (r % 2 ? ['off', 'on'] : ['on', 'off']) as ('on' | 'off')[]) await run(side, true);
    const f = (t: Record<'on' | 'off', number[]>, side: 'on' | 'off') => `min ${Math.min(...t[side]).toFixed(1)}, median ${median(t[side]).toFixed(1)} ms`;
    console.log(`global G step ${h}² b${n} (${times.on.length} steps each): wall fused ${f(times, 'on')} | unfused ${f(times, 'off')} | ratio of medians ${(median(times.on) / median(times.off)).toFixed(2)}, of minima ${(Math.min(...times.on) / Math.min(...times.off)).toFixed(2)}`);
    console.log(`  process CPU time per step: fused ${f(cpuTimes, 'on')} | unfused ${f(cpuTimes, 'off')} | ratio of medians ${(median(cpuTimes.on) / median(cpuTimes.off)).toFixed(2)}`);
  }
  setFused(true);
  console.log(`# load average at end: ${fmtLoad(loadavg())}`);
}

// ------------------------------------------------------------------------------------------------
// The global twin against the tfjs model with the same weights (`--verify-global`)
// ------------------------------------------------------------------------------------------------
async function verifyGlobal(): Promise<void> {
  const info = await initEngine({});
  const { step } = globalRecipe();
  const gan = new GanStep(step);
  // θ's layer is zero-initialised, so at init only it gets a gradient: give it small random weights
  // so that every gradient of G (backbone, MLP) is compared too
  const names = { G: gan.variableNames('G'), D: gan.variableNames('D') };
  const wG = gan.getWeights('G');
  const ti = names.G.indexOf('g_theta/kernel');
  if (ti < 0) throw new Error(`no g_theta/kernel among ${names.G.join(', ')}`);
  const r = new Rng(21);
  wG[ti] = wG[ti].map(() => (r.next() - 0.5) * 0.1);
  gan.setWeights('G', wG);
  // a size that is no multiple of the analysis copy (box average + bilinear) and odd PatchGAN sizes
  const n = 2, h = 200, w = 264;
  const batch = globalBatch(n, h, w);
  const out = tf.tidy(() => gan.generate(tf.tensor4d(batch.input, [n, h, w, 3]), tf.tensor4d(batch.mask, [n, h, w, 1])));
  const output = new Float32Array(out.dataSync());
  out.dispose();
  const rG = gan.computeGradients('G', batch);
  const rD = gan.computeGradients('D', batch);
  const dir = mkdtempSync(join(tmpdir(), 'harmonia-verify-global-'));
  try {
    const cat = (arrs: Float32Array[]) => {
      const o = new Float32Array(arrs.reduce((a, x) => a + x.length, 0));
      let off = 0;
      for (const x of arrs) { o.set(x, off); off += x.length; }
      return Buffer.from(o.buffer);
    };
    const vars = (net: 'G' | 'D') => names[net].map((name, i) => ({ name, shape: gan.shapes(net)[i] }));
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ config: step, n, h, w, G: vars('G'), D: vars('D') }));
    writeFileSync(join(dir, 'weights_G.bin'), cat(gan.getWeights('G')));
    writeFileSync(join(dir, 'weights_D.bin'), cat(gan.getWeights('D')));
    writeFileSync(join(dir, 'batch.bin'), cat([batch.input, batch.real, batch.mask]));
    writeFileSync(join(dir, 'output.bin'), cat([output]));
    writeFileSync(join(dir, 'grads_G.bin'), cat(rG.grads));
    writeFileSync(join(dir, 'grads_D.bin'), cat(rD.grads));
    const py = spawnSync('/usr/bin/python3', [fileURLToPath(new URL('torch/color_transform.py', import.meta.url)), '--verify', dir], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    if (py.status !== 0) throw new Error(`color_transform.py --verify failed: ${py.stderr}`);
    const pt = JSON.parse(py.stdout.trim().split('\n').pop() as string) as {
      torch: string; params: { G: number; D: number }; outputShape: number[]; outputMaxAbsDiff: number; losses: Record<string, number>; gradRelDiff: Record<string, number>;
    };
    const tfLosses: Record<string, number> = { ...rG.losses, ...rD.losses };
    const problems: string[] = [];
    console.log(`# global twin check: tfjs ${tf.version.tfjs} on ${info.backend} vs PyTorch ${pt.torch}, same weights, batch ${n}×${h}×${w}`);
    for (const net of ['G', 'D'] as const) {
      const mine = paramCount(gan, net);
      console.log(`parameters ${net}: tfjs ${mine.toLocaleString('en')}, PyTorch ${pt.params[net].toLocaleString('en')}`);
      if (mine !== pt.params[net]) problems.push(`${net} parameter counts differ`);
    }
    console.log(`G output shape: tfjs [${[n, h, w, 3].join(', ')}], PyTorch [${pt.outputShape.join(', ')}]; max |Δ| ${pt.outputMaxAbsDiff.toExponential(2)}`);
    if (pt.outputShape.join() !== [n, h, w, 3].join()) problems.push('output shapes differ');
    if (!(pt.outputMaxAbsDiff < 1e-4)) problems.push(`G outputs differ by ${pt.outputMaxAbsDiff}`);
    console.log('| loss | tfjs | PyTorch | rel. diff |\n| --- | --- | --- | --- |');
    for (const k of Object.keys(tfLosses)) {
      const a = tfLosses[k], b = pt.losses[k];
      const rel = Math.abs(a - b) / Math.max(Math.abs(b), 1e-6);
      console.log(`| ${k} | ${a.toPrecision(7)} | ${b?.toPrecision(7)} | ${rel.toExponential(1)} |`);
      if (!(rel < 1e-3)) problems.push(`loss ${k}: tfjs ${a} vs PyTorch ${b}`);
    }
    const worst = Object.entries(pt.gradRelDiff).sort((a, b) => b[1] - a[1]);
    console.log(`gradients (${worst.length} variables, ‖g_tfjs − g_pt‖/‖g_pt‖): worst ${worst.slice(0, 3).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`);
    for (const [k, v] of worst) if (!(v < 1e-3)) problems.push(`gradient of ${k} differs (rel. ${v})`);
    if (problems.length) {
      console.log(`twin check FAILED:\n  ${problems.join('\n  ')}`);
      process.exitCode = 1;
    } else {
      console.log('twin check passed: same parameter counts, outputs, losses and gradients');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    gan.dispose();
  }
}

// ------------------------------------------------------------------------------------------------
// Server side (PyTorch twin), same line protocol.
// ------------------------------------------------------------------------------------------------
const TORCH_SERVER = String.raw`
import ctypes, json, os, re, resource, sys, time, torch, torch.nn as nn
sys.path.insert(0, sys.argv[2])
import color_transform as ct  # bench/torch/color_transform.py: the global generator's twin
GLOBAL_CFG = json.loads(sys.argv[3])
def G(b=32):
    return nn.Sequential(nn.Conv2d(3,b,4,2,1), nn.ReLU(), nn.Conv2d(b,2*b,4,2,1), nn.ReLU(), nn.Conv2d(2*b,4*b,4,2,1), nn.ReLU(),
        nn.ConvTranspose2d(4*b,2*b,4,2,1), nn.ReLU(), nn.ConvTranspose2d(2*b,b,4,2,1), nn.ReLU(), nn.ConvTranspose2d(b,3,4,2,1), nn.Sigmoid())
class D(nn.Module):
    def __init__(self, b=32):
        super().__init__(); layers, ci = [], 3
        for co in (b, 2*b, 4*b, 8*b): layers += [nn.Conv2d(ci, co, 4, 2, 1), nn.LeakyReLU(0.2)]; ci = co
        self.features = nn.Sequential(*layers); self.logit = nn.Linear(ci, 1)
    def forward(self, x): return self.logit(self.features(x).mean((2, 3)))
class Gan:
    # the paper step as LocalEngine runs it: G phase (D frozen) BCE(D(G(x)), 1) + 100·L1, Adam(G); D phase on the
    # G phase's images, BCE(D(y), 1) + BCE(D(G(x)), 0) (not halved: src/train/step.ts), Adam(D); Adam(2e-4, 0.5, 0.999), eps 1e-8
    def __init__(self):
        torch.manual_seed(0); self.G, self.D = G(), D()
        self.og = torch.optim.Adam(self.G.parameters(), 2e-4, betas=(0.5, 0.999), eps=1e-8); self.od = torch.optim.Adam(self.D.parameters(), 2e-4, betas=(0.5, 0.999), eps=1e-8)
        self.bce, self.l1 = nn.BCEWithLogitsLoss(), nn.L1Loss()
    def step(self, x, y):
        for p in self.D.parameters(): p.requires_grad_(False)
        self.og.zero_grad(set_to_none=True); fake = self.G(x); lg = self.D(fake)
        loss = self.bce(lg, torch.ones_like(lg)) + 100 * self.l1(fake, y); loss.backward(); self.og.step()
        for p in self.D.parameters(): p.requires_grad_(True)
        self.od.zero_grad(set_to_none=True); r, f = self.D(y), self.D(fake.detach())
        ld = self.bce(r, torch.ones_like(r)) + self.bce(f, torch.zeros_like(f)); ld.backward(); self.od.step()
        return ld.item()
def global_batch(n, h):
    # as bench/native.ts's globalBatch: real uniform, mask a centred h/2 square, input = real with the foreground shifted
    g = torch.Generator().manual_seed(11); y = torch.rand(n, 3, h, h, generator=g)
    m = torch.zeros(n, 1, h, h); m[:, :, h // 4:h // 4 + h // 2, h // 4:h // 4 + h // 2] = 1
    return torch.where(m > 0, 0.7 * y + 0.2, y), y, m
VGG19 = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512]
TAPS = (3, 8, 17, 26, 35)  # relu1_2, relu2_2, relu3_4, relu4_4, relu5_4 in torchvision's features
def vgg19():
    layers, ci = [], 3
    for c in VGG19:
        if c == 'M': layers.append(nn.MaxPool2d(2, 2))
        else: layers += [nn.Conv2d(ci, c, 3, 1, 1), nn.ReLU()]; ci = c
    net = nn.Sequential(*layers)
    for p in net.parameters(): p.requires_grad_(False)
    return net
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1); STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
def feats(net, x):
    out, h = [], (x - MEAN) / STD
    for i, layer in enumerate(net):
        h = layer(h)
        if i in TAPS: out.append(h)
    return out
def vgg_step(net, x, y):
    x = x.detach().requires_grad_(True)
    with torch.no_grad(): fy = feats(net, y)
    fx = feats(net, x)
    loss = sum(((a - b) ** 2).mean() for a, b in zip(fx, fy)) / len(fx)
    loss.backward(); return x.grad.sum().item()
def blas_info():
    # which BLAS this process really uses (Debian's libblas.so.3 is an alternative: OpenBLAS or the reference BLAS):
    # the BLAS libraries mapped, and the file that provides sgemm_ as libtorch_cpu resolves it (dlsym on its handle, then dladdr)
    torch.mm(torch.rand(64, 64), torch.rand(64, 64))
    mapped = sorted({l.split()[-1] for l in open('/proc/self/maps') if len(l.split()) >= 6})
    paths = [p for p in mapped if re.search(r'(blas|mkl|blis|lapack)[^/]*\.so', p)]
    threads = provider = None
    for p in paths:
        if 'libopenblas' in os.path.basename(p):
            try: threads = ctypes.CDLL(p).openblas_get_num_threads()
            except Exception: pass
    try:
        class DlInfo(ctypes.Structure):
            _fields_ = [('fname', ctypes.c_char_p), ('fbase', ctypes.c_void_p), ('sname', ctypes.c_char_p), ('saddr', ctypes.c_void_p)]
        tc = next(p for p in mapped if 'libtorch_cpu' in p)
        addr = ctypes.cast(ctypes.CDLL(tc, mode=os.RTLD_NOLOAD | os.RTLD_LAZY).sgemm_, ctypes.c_void_p).value
        info = DlInfo()
        if ctypes.CDLL(None).dladdr(ctypes.c_void_p(addr), ctypes.byref(info)): provider = os.path.realpath(info.fname.decode())
    except Exception: pass
    return paths, threads, provider
vcache = {}
threads = int(sys.argv[1]); torch.set_num_threads(threads); cache = {}; icache = {}; gcache = {}
blas, blas_threads, blas_provider = blas_info()
cfg = torch.__config__.show(); dnnl = re.search(r'(?:MKL-DNN|oneDNN)[^v]*v([0-9.]+)', cfg)
try: capability = torch.backends.cpu.get_cpu_capability()
except Exception:
    cap = re.search(r'CPU capability usage: (\S+)', cfg); capability = cap.group(1) if cap else None
print(json.dumps({'ready': True, 'backend': 'torch ' + torch.__version__, 'threads': torch.get_num_threads(), 'torch': torch.__version__,
    'dnnl': dnnl.group(1) if dnnl else None, 'capability': capability, 'blas': blas, 'blasThreads': blas_threads, 'blasProvider': blas_provider}), flush=True)
for line in sys.stdin:
    a = line.split()
    if not a: continue
    if a[0] == 'quit': break
    times = []
    if a[0] == 'gan':
        n, h, reps = int(a[1]), int(a[2]), int(a[3])
        if (n, h) not in cache:
            g = torch.Generator().manual_seed(1); cache[(n, h)] = (Gan(), torch.rand(n, 3, h, h, generator=g), torch.rand(n, 3, h, h, generator=g))
        gan, x, y = cache[(n, h)]
        for _ in range(reps):
            t0 = time.perf_counter(); gan.step(x, y); times.append(time.perf_counter() - t0)
    elif a[0] == 'global':
        n, h, reps = int(a[1]), int(a[2]), int(a[3])
        if (n, h) not in gcache: gcache[(n, h)] = (ct.GlobalStep(GLOBAL_CFG), *global_batch(n, h))
        st, x, y, m = gcache[(n, h)]
        for _ in range(reps):
            t0 = time.perf_counter(); lg, ld = st.step(x, y, m); times.append(time.perf_counter() - t0)
            if not (lg == lg and ld == ld): raise SystemExit('non-finite global step loss')
    elif a[0] == 'infer':
        h, reps = int(a[1]), int(a[2])
        if h not in icache:
            torch.manual_seed(0); icache[h] = (G().eval(), torch.rand(1, 3, h, h))
        g, x = icache[h]
        with torch.no_grad():
            for _ in range(reps):
                t0 = time.perf_counter(); g(x).sum().item(); times.append(time.perf_counter() - t0)
    elif a[0] == 'vgg':
        n, h, reps = int(a[1]), int(a[2]), int(a[3])
        if (n, h) not in vcache:
            torch.manual_seed(0); gen = torch.Generator().manual_seed(4)
            vcache[(n, h)] = (vgg19(), torch.rand(n, 3, h, h, generator=gen), torch.rand(n, 3, h, h, generator=gen))
        net, x, y = vcache[(n, h)]
        for _ in range(reps):
            t0 = time.perf_counter(); vgg_step(net, x, y); times.append(time.perf_counter() - t0)
    elif a[0] == 'params':
        gg, gd = ct.build(GLOBAL_CFG)
        times = {'gan': {'G': ct.count(G()), 'D': ct.count(D())}, 'global': {'G': ct.count(gg), 'D': ct.count(gd)}}
    elif a[0] == 'peak':
        # physical reference: one large 3x3 convolution in PyTorch's oneDNN (8x256x64x64, 256 filters:
        # 38.7 GFLOP), GFLOP/s of the best of 5 (torch.mm is no reference: it goes through the system BLAS)
        x = torch.rand(8, 256, 64, 64); w = torch.rand(256, 256, 3, 3); best = 1e9
        with torch.no_grad():
            for _ in range(6):
                t0 = time.perf_counter(); torch.nn.functional.conv2d(x, w, padding=1).sum().item(); best = min(best, time.perf_counter() - t0)
        times = [2 * 8 * 64 * 64 * 256 * 256 * 9 / best / 1e9]
    elif a[0] == 'mem':
        times = [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]
    print(json.dumps(times), flush=True)
`;

// ------------------------------------------------------------------------------------------------
// Driver
// ------------------------------------------------------------------------------------------------
interface Hello { backend: string; threads: number; tfjs?: string; dnnl?: string | null; torch?: string; capability?: string | null; blas?: string[]; blasThreads?: number | null; blasProvider?: string | null }
interface Server { name: string; proc: ChildProcessWithoutNullStreams; lines: AsyncIterator<string>; desc: string; hello: Hello }

/** Another checkout whose server the `base-…` configurations run (`--baseline DIR`). */
let baselineDir: string | undefined;

async function startServer(name: string): Promise<Server> {
  const self = fileURLToPath(import.meta.url);
  let proc: ChildProcessWithoutNullStreams;
  if (name.startsWith('pt')) {
    // ptN: PyTorch with N threads, defaults as installed; ptNp: the same with OMP_WAIT_POLICY=passive.
    // OpenBLAS (Debian's torch calls the system BLAS for transposed convolutions and weight gradients) keeps its own
    // thread pool, one thread per core, which torch.set_num_threads does not change: OPENBLAS_NUM_THREADS=N unless set.
    // ptNbM: the same with OpenBLAS pinned to M threads. On 2 cores pt2 runs 2 OpenMP + 2 OpenBLAS threads, and
    // pt2b1 (no oversubscription) was the faster PyTorch for the paper GAN step (2026-12-03: 303 vs 432 ms).
    const m = /^pt(\d+)(p?)(?:b(\d+))?$/.exec(name);
    if (!m) throw new Error(`unknown PyTorch configuration "${name}" (ptN, ptNp or ptNbM)`);
    const [, n, p, b] = m;
    const passive = p === 'p';
    const env = { ...process.env, ...(passive ? { OMP_WAIT_POLICY: 'passive' } : {}), OPENBLAS_NUM_THREADS: b ?? process.env.OPENBLAS_NUM_THREADS ?? n };
    const torchDir = fileURLToPath(new URL('torch', import.meta.url));
    proc = spawn('/usr/bin/python3', ['-c', TORCH_SERVER, n, torchDir, JSON.stringify({ ...globalRecipe().step, optimizer: globalRecipe().optimizer })], { stdio: 'pipe', env });
  } else if (name.startsWith('base-')) {
    // base-native-Nt: this benchmark's server from another checkout (--baseline DIR, e.g. the commit before a
    // change, extracted with git archive), with the addon this checkout built unless the baseline has its own
    if (!baselineDir) throw new Error(`${name}: give the other checkout with --baseline DIR`);
    const [, backend, t] = name.split('-');
    const ownAddon = join(baselineDir, 'native', 'build', 'harmonia_native.node');
    const env = {
      ...process.env, HARMONIA_BACKEND: backend, ...(t ? { HARMONIA_NATIVE_THREADS: t.replace('t', '') } : {}),
      HARMONIA_NATIVE_ADDON: process.env.HARMONIA_NATIVE_ADDON ?? (existsSync(ownAddon) ? ownAddon : fileURLToPath(new URL('../native/build/harmonia_native.node', import.meta.url))),
    };
    proc = spawn(process.execPath, ['--import', 'tsx', join(baselineDir, 'bench', 'native.ts'), '--serve', backend], { stdio: 'pipe', env, cwd: baselineDir });
  } else {
    const [backend, t] = name.split('-');
    const env = { ...process.env, HARMONIA_BACKEND: backend, ...(t ? { HARMONIA_NATIVE_THREADS: t.replace('t', '') } : {}) };
    proc = spawn(process.execPath, ['--import', 'tsx', self, '--serve', backend], { stdio: 'pipe', env });
  }
  proc.stderr.on('data', (d: Buffer) => process.stderr.write(`[${name}] ${d}`));
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error(`${name}: server exited before it was ready`);
  const hello = JSON.parse(first.value) as Hello;
  const extra = hello.blasThreads && /openblas/.test(hello.blasProvider ?? '') ? `, OpenBLAS ${hello.blasThreads} thread(s)` : '';
  return { name, proc, lines, desc: `${hello.backend}, ${hello.threads} thread(s)${extra}`, hello };
}

async function ask<T = number[]>(s: Server, cmd: string): Promise<T> {
  s.proc.stdin.write(cmd + '\n');
  const r = await s.lines.next();
  if (r.done) throw new Error(`${s.name}: server exited during "${cmd}"`);
  return JSON.parse(r.value) as T;
}

/** CPU model and the SIMD flags oneDNN dispatches on, from /proc/cpuinfo. */
function cpuDescription(): { model: string; cores: number; simd: string[] } {
  let flags: string[] = [];
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    flags = line ? line.split(':')[1].trim().split(/\s+/) : [];
  } catch { /* not Linux */ }
  const wanted = ['avx2', 'fma', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'amx_tile', 'amx_int8', 'amx_bf16'];
  return { model: cpus()[0]?.model ?? 'unknown', cores: cpus().length, simd: wanted.filter((f) => flags.includes(f)) };
}

const fmtLoad = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      serve: { type: 'string' },
      'verify-global': { type: 'boolean', default: false },
      rounds: { type: 'string', default: '5' },
      reps: { type: 'string', default: '2' },
      sizes: { type: 'string', default: '128,256' },
      global: { type: 'string', default: '256x4,64x16' },
      infer: { type: 'string', default: '256,1024' },
      vgg: { type: 'string', default: '256' },
      configs: { type: 'string', default: 'native-1t,native-2t,wasm,pt1,pt2,pt2p' },
      json: { type: 'string' },
      check: { type: 'boolean', default: false },
      'ab-fused': { type: 'string' },
      baseline: { type: 'string' },
    },
  });
  baselineDir = values.baseline;
  if (values.serve) return serveTf(values.serve as 'native' | 'wasm');
  if (values['ab-fused']) return abFused(values['ab-fused'], Number(values.rounds), Number(values.reps));
  if (values['verify-global']) return verifyGlobal();
  const loadStart = loadavg();
  const date = new Date().toISOString();
  const rounds = Number(values.rounds), reps = Number(values.reps);
  const list = (s: string | undefined) => (s ? s.split(',').filter(Boolean) : []);
  const sizes = list(values.sizes).map(Number);
  const globalSizes = list(values.global).map((s) => {
    const m = /^(\d+)x(\d+)$/.exec(s);
    if (!m) throw new Error(`--global: expected SIDExBATCH (e.g. 256x4), got "${s}"`);
    return { h: Number(m[1]), n: Number(m[2]) };
  });
  const inferSizes = list(values.infer).map(Number);
  const vggSizes = list(values.vgg).map(Number);
  let names = list(values.configs);
  if (names.some((n) => n.startsWith('pt')) && spawnSync('/usr/bin/python3', ['-c', 'import torch']).status !== 0) {
    console.error('bench/native: PyTorch not available (/usr/bin/python3 -c "import torch" failed); skipping pt configs');
    names = names.filter((n) => !n.startsWith('pt'));
  }
  const cpu = cpuDescription();
  const servers: Server[] = [];
  for (const n of names) servers.push(await startServer(n));
  const pick = <K extends keyof Hello>(k: K) => servers.map((s) => s.hello[k]).find((v) => v !== undefined && v !== null);
  const torchServers = servers.filter((s) => s.name.startsWith('pt'));
  const blas: Record<string, { kind: BlasKind; paths: string[]; sgemm?: string }> = {};
  for (const s of torchServers) {
    const sgemm = s.hello.blasProvider ?? undefined;
    blas[s.name] = { kind: classifyBlas(s.hello.blas ?? [], sgemm), paths: s.hello.blas ?? [], sgemm };
  }
  const header = {
    date, cpu: cpu.model, cores: cpu.cores, simd: cpu.simd, loadStart,
    node: process.version, tfjs: (pick('tfjs') as string | undefined) ?? tf.version.tfjs, dnnl: pick('dnnl') as string | undefined,
    torch: pick('torch') as string | undefined, torchDnnl: torchServers[0]?.hello.dnnl ?? undefined, torchCpuCapability: torchServers[0]?.hello.capability ?? undefined,
    blas,
  };
  console.log(`# bench/native, ${date}`);
  console.log(`# CPU: ${cpu.model}, ${cpu.cores} cores; SIMD: ${cpu.simd.join(' ') || 'none of avx2/avx512/amx'}${cpu.simd.some((f) => f.startsWith('amx')) ? '' : ' (no AMX)'}`);
  console.log(`# load average at start: ${fmtLoad(loadStart)}`);
  console.log(`# Node ${header.node}, tfjs ${header.tfjs}, oneDNN (native addon) ${header.dnnl ?? 'n/a'}${header.torch ? `, PyTorch ${header.torch} (its oneDNN ${header.torchDnnl ?? '?'}, CPU capability ${header.torchCpuCapability ?? '?'})` : ''}`);
  for (const s of torchServers) {
    const b = blas[s.name];
    console.log(`# ${s.name} BLAS: ${b.kind} (sgemm_ from ${b.sgemm ?? 'unknown'}; mapped: ${b.paths.join(', ') || 'no BLAS library'})`);
    if (b.kind === 'reference') {
      console.log(`# WARNING: ${s.name} loaded the reference netlib BLAS: PyTorch's ConvTranspose2d and convolution weight gradients go through BLAS, and the reference BLAS makes its GAN step ~3× slower (measured 1.38 s vs 0.41 s per step with OpenBLAS). Install libopenblas0-pthread (update-alternatives libblas.so.3) before comparing.`);
    }
  }
  for (const s of servers) console.log(`#   ${s.name}: ${s.desc}`);
  // the twins' parameter counts must be the tfjs models'
  const params: Record<string, { gan: { G: number; D: number }; global: { G: number; D: number } }> = {};
  for (const s of servers) params[s.name] = await ask(s, 'params');
  const ref = params[servers[0]?.name];
  for (const [name, p] of Object.entries(params)) {
    if (JSON.stringify(p) !== JSON.stringify(ref)) throw new Error(`parameter counts differ: ${servers[0].name} ${JSON.stringify(ref)} vs ${name} ${JSON.stringify(p)}`);
  }
  if (ref) console.log(`# parameters (identical in every configuration): paper GAN G ${ref.gan.G.toLocaleString('en')} + D ${ref.gan.D.toLocaleString('en')}; global G ${ref.global.G.toLocaleString('en')} + patch D ${ref.global.D.toLocaleString('en')}`);
  const workloads = [
    ...sizes.map((h) => ({ label: `GAN step ${h}² b4`, cmd: (r: number) => `gan 4 ${h} ${r}`, gflop: GAN_GFLOP[h] as number | undefined, warm: 2 })),
    ...globalSizes.map(({ h, n }) => ({ label: `global G step ${h}² b${n}`, cmd: (r: number) => `global ${n} ${h} ${r}`, gflop: undefined, warm: 2 })),
    ...inferSizes.map((h) => ({ label: `G inference ${h}² b1`, cmd: (r: number) => `infer ${h} ${r}`, gflop: INFER_GFLOP[h], warm: 2 })),
    ...vggSizes.map((h) => ({ label: `VGG-19 feature loss fwd+bwd ${h}² b1`, cmd: (r: number) => `vgg 1 ${h} ${r}`, gflop: vggGflop(h), warm: 1 })),
  ];
  type Result = { workload: string; gflop: number | undefined; ms: Record<string, number>; all: Record<string, number[]>; rounds: Record<string, number[][]> };
  const results: Result[] = [];
  for (const w of workloads) {
    for (const s of servers) await ask(s, w.cmd(w.warm)); // build models, caches, oneDNN primitives
    // Short steps get more repetitions, the same for every configuration, so that each round lasts at
    // least ~1 s for the fastest one: a 40 ms step's round median is otherwise one scheduler hiccup away from a 30 % spread.
    let fastest = Infinity;
    for (const s of servers) fastest = Math.min(fastest, median(await ask(s, w.cmd(1))));
    const wReps = Math.min(25, Math.max(reps, Math.ceil(1.0 / Math.max(fastest, 1e-3))));
    const perRound: Record<string, number[][]> = Object.fromEntries(servers.map((s) => [s.name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const s of servers) {
        // let the previous configuration's leftovers finish first: OpenBLAS threads spin for ~0.1 s
        // after their last call, and V8 may still be sweeping on a helper thread
        await new Promise((res) => setTimeout(res, SETTLE_MS));
        perRound[s.name].push(await ask(s, w.cmd(wReps)));
      }
    }
    const all = Object.fromEntries(Object.entries(perRound).map(([k, v]) => [k, v.flat()]));
    const ms = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, median(v) * 1000]));
    results.push({ workload: w.label, gflop: w.gflop, ms, all, rounds: perRound });
    const cols = servers.map((s) => `${s.name} ${ms[s.name].toFixed(1)} ms${w.gflop ? ` (${(w.gflop / ms[s.name] * 1000).toFixed(0)} GF/s)` : ''}`);
    console.log(`${w.label} (${rounds} rounds × ${wReps} reps): ${cols.join(' | ')}`);
  }
  const peakGflops: Record<string, number> = {};
  for (const s of servers.filter((x) => x.name === 'pt1' || x.name === 'pt2')) {
    peakGflops[s.name] = (await ask(s, 'peak'))[0];
    console.log(`# physical reference: 3×3 conv 8×256×64×64 → 256 in PyTorch's oneDNN, ${s.name}: ${peakGflops[s.name].toFixed(0)} GFLOP/s`);
  }
  const peakMB: Record<string, number> = {};
  for (const s of servers) peakMB[s.name] = (await ask(s, 'mem'))[0];
  for (const s of servers) {
    s.proc.stdin.write('quit\n');
    s.proc.stdin.end();
  }
  const loadEnd = loadavg();
  const verdict = checkContamination({
    loadStart: loadStart[0],
    series: results.flatMap((r) => servers.map((s) => ({ workload: r.workload, config: s.name, roundMedians: r.rounds[s.name].map(median) }))),
    blas,
  });
  // Markdown table: medians, GFLOP/s, and ratios to PyTorch.
  const head = ['workload', 'GFLOP', ...servers.map((s) => s.name)];
  const ratioCols: [string, string][] = [];
  const ptNames = names.filter((n) => n.startsWith('pt'));
  const ptThreads = (n: string) => /^pt(\d+)/.exec(n)?.[1];
  for (const a of ['native-1t', 'native-2t']) for (const b of ptNames) if (names.includes(a) && ptThreads(b) === a.slice(7, -1)) ratioCols.push([a, b]);
  // against the faster PyTorch configuration of the same thread count, per workload, when there are several
  const bestOf = (a: string) => ptNames.filter((b) => ptThreads(b) === a.slice(7, -1));
  for (const a of ['native-1t', 'native-2t']) if (names.includes(a) && bestOf(a).length > 1) ratioCols.push([a, `best ${bestOf(a).join('|')}`]);
  const msOf = (r: Result, b: string) => (b.startsWith('best ') ? Math.min(...b.slice(5).split('|').map((x) => r.ms[x])) : r.ms[b]);
  console.log('');
  if (verdict.contaminated) console.log('**CONTAMINATED RUN: do not quote these numbers** (reasons below the table)\n');
  console.log(`| ${[...head, ...ratioCols.map(([a, b]) => `${a}/${b}`)].join(' | ')} |`);
  console.log(`| ${[...head, ...ratioCols].map(() => '---').join(' | ')} |`);
  for (const r of results) {
    const cells = servers.map((s) => `${r.ms[s.name].toFixed(1)} ms${r.gflop ? ` (${(r.gflop / r.ms[s.name] * 1000).toFixed(0)} GF/s)` : ''}`);
    const ratios = ratioCols.map(([a, b]) => (r.ms[a] / msOf(r, b)).toFixed(2));
    console.log(`| ${[r.workload, r.gflop?.toFixed(2) ?? '', ...cells, ...ratios].join(' | ')} |`);
  }
  const rssRatio = ([a, b]: [string, string]) => (a in peakMB ? (peakMB[a] / (b.startsWith('best ') ? Math.min(...b.slice(5).split('|').map((x) => peakMB[x])) : peakMB[b])).toFixed(2) : '');
  console.log(`| peak RSS (whole run) | | ${servers.map((s) => `${peakMB[s.name].toFixed(0)} MB`).join(' | ')} | ${ratioCols.map(rssRatio).join(' | ')} |`);
  console.log(`\n# ${rounds} alternating rounds × at least ${reps} reps (more for short steps: each round ≥ 1 s, see the workload lines) after warm-up calls; load average at start ${fmtLoad(loadStart)}, at end ${fmtLoad(loadEnd)}`);
  const spreadText = results.map((r) => `${r.workload}: ${servers.map((s) => {
    const sp = verdict.spreads.find((x) => x.workload === r.workload && x.config === s.name)?.spread ?? 0;
    return `${s.name} ${(sp * 100).toFixed(0)} %`;
  }).join(', ')}`);
  console.log(`# round spread (${verdict.spreadDefinition}; limit ${(verdict.maxSpread * 100).toFixed(0)} %): ${spreadText.join('; ')}`);
  if (verdict.contaminated) {
    for (const line of verdict.reasons) console.log(line);
  } else {
    console.log(`# clean: load ${loadStart[0].toFixed(2)} ≤ ${verdict.maxLoad} at start, every round spread ≤ ${(verdict.maxSpread * 100).toFixed(0)} %${torchServers.length ? ', PyTorch not on the reference BLAS' : ''}`);
  }
  if (values.json) {
    await writeFileAtomic(values.json, JSON.stringify({
      header: { ...header, loadEnd }, configs: servers.map((s) => ({ name: s.name, desc: s.desc, hello: s.hello })), rounds, reps,
      loadavg: { start: loadStart, end: loadEnd }, params: ref, peakMB, peakGflops, results, contamination: verdict,
    }, null, 2));
  }
  if (values.check && verdict.contaminated) process.exitCode = 3;
}

main().catch((err: unknown) => {
  console.error(`bench/native: ${(err as Error).message}`);
  process.exit(1);
});
