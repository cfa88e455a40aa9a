/**
 * Native (oneDNN addon) vs wasm vs PyTorch on the paper GAN: the training step (G update with D
 * frozen, then D update; BCE-with-logits + 100·L1; Adam(2e-4, 0.5, 0.999)) at batch 4, and G
 * inference at batch 1, and the VGG-19 feature loss (mean over relu1_2…relu5_4 of the feature-map MSE,
 * forward of both images + backward to the input, seeded random weights: same arithmetic as the real
 * ones). One persistent server process per configuration (models built once per
 * size, warmed up), driven in alternating rounds (A, B, C, …, A, B, C, …) so load changes on a
 * shared machine hit every configuration alike; the figure is the median over all rounds.
 *
 * Configurations: native-1t / native-2t (HARMONIA_NATIVE_THREADS=1/2), wasm (the project's wasm
 * kernels, 1 thread), pt1 / pt2 (Debian python3-torch with 1 / 2 intra-op threads; the model is
 * the PyTorch twin below, same layers, losses, optimiser and step order), pt2p (pt2 with
 * OMP_WAIT_POLICY=passive, the OpenMP setting the native addon uses).
 *
 * Peak memory: the maximum resident set size of each server process over the whole run (getrusage).
 *
 * Usage: node --import tsx bench/native.ts [--rounds 5] [--reps 2] [--sizes 128,256] [--infer 256,1024] [--vgg 256]
 *                                          [--configs native-1t,native-2t,wasm,pt1,pt2,pt2p] [--json out.json]
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { tf } from '../src/engine/tf.ts';
import { initEngine } from '../src/engine/index.ts';
import { GanStep } from '../src/train/step.ts';
import { paperGanOptions } from '../src/train/step-module.ts';
import type { GanModuleOptions } from '../src/train/step-module.ts';
import { runGenerator } from '../src/models/generator.ts';
import { createRandomVgg19, VGG_CONFIG, DEFAULT_VGG19_TAPS, type VggFeatures } from '../src/models/vgg.ts';
import { featureLoss } from '../src/losses/feature.ts';
import { Rng } from '../src/util/random.ts';
import { writeFileAtomic } from '../src/util/atomic.ts';

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

// ------------------------------------------------------------------------------------------------
// Server side (tfjs): `bench/native.ts --serve native|wasm`
// ------------------------------------------------------------------------------------------------
async function serveTf(backend: 'native' | 'wasm'): Promise<void> {
  const info = await initEngine({ backend });
  type Adam = ReturnType<typeof tf.train.adam>;
  // the trainer's GAN step (src/train/step.ts) with the paper configs; one per cached batch shape
  const stepConfig = (paperGanOptions() as unknown as GanModuleOptions).step;
  const cache = new Map<string, { gan: GanStep; x: tf.Tensor4D; y: tf.Tensor4D; mask: tf.Tensor4D; optG: Adam; optD: Adam }>();
  const rand = (shape: [number, number, number, number], seed: number) => {
    const r = new Rng(seed);
    return tf.tensor4d(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.next()), shape);
  };
  const ganStep = (n: number, h: number): number => {
    const key = `${n}x${h}`;
    let c = cache.get(key);
    if (!c) {
      c = { gan: new GanStep(stepConfig), x: rand([n, h, h, 3], 1), y: rand([n, h, h, 3], 2), mask: tf.ones([n, h, h, 1]) as tf.Tensor4D, optG: tf.train.adam(2e-4, 0.5, 0.999, 1e-8), optD: tf.train.adam(2e-4, 0.5, 0.999, 1e-8) };
      cache.set(key, c);
    }
    const gan = c.gan;
    const t = { input: c.x, real: c.y, mask: c.mask };
    const named = (m: tf.LayersModel, grads: tf.Tensor[]) => m.trainableWeights.map((w, i) => ({ name: (w.read() as tf.Variable).name, tensor: grads[i] }));
    const g = gan.phaseTensors('G', t, key);
    c.optG.applyGradients(named(gan.generator, g.grads));
    tf.dispose([...g.grads, ...Object.values(g.losses)]);
    const d = gan.phaseTensors('D', t, key);
    c.optD.applyGradients(named(gan.discriminator, d.grads));
    const loss = d.losses.d.dataSync()[0];
    tf.dispose([...d.grads, ...Object.values(d.losses)]);
    return loss;
  };
  const inferCache = new Map<number, { G: tf.LayersModel; x: tf.Tensor4D }>();
  const infer = (h: number): void => {
    let c = inferCache.get(h);
    if (!c) {
      c = { G: new GanStep(stepConfig).generator, x: rand([1, h, h, 3], 3) };
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
  const rl = createInterface({ input: process.stdin });
  process.stdout.write(JSON.stringify({ ready: true, backend: info.backend, threads: info.threads }) + '\n');
  for await (const line of rl) {
    const [cmd, ...rest] = line.trim().split(/\s+/);
    if (cmd === 'quit') break;
    const nums = rest.map(Number);
    const times: number[] = [];
    if (cmd === 'gan') {
      const [n, h, reps] = nums;
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        const l = ganStep(n, h);
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
    } else if (cmd === 'mem') {
      process.stdout.write(JSON.stringify([process.resourceUsage().maxRSS / 1024]) + '\n');
      continue;
    }
    process.stdout.write(JSON.stringify(times) + '\n');
  }
  process.exit(0);
}

// ------------------------------------------------------------------------------------------------
// Server side (PyTorch twin), same line protocol.
// ------------------------------------------------------------------------------------------------
const TORCH_SERVER = String.raw`
import json, resource, sys, time, torch, torch.nn as nn
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
    def __init__(self):
        torch.manual_seed(0); self.G, self.D = G(), D()
        self.og = torch.optim.Adam(self.G.parameters(), 2e-4, betas=(0.5, 0.999)); self.od = torch.optim.Adam(self.D.parameters(), 2e-4, betas=(0.5, 0.999))
        self.bce, self.l1 = nn.BCEWithLogitsLoss(), nn.L1Loss()
    def step(self, x, y):
        for p in self.D.parameters(): p.requires_grad_(False)
        self.og.zero_grad(set_to_none=True); fake = self.G(x); lg = self.D(fake)
        loss = self.bce(lg, torch.ones_like(lg)) + 100 * self.l1(fake, y); loss.backward(); self.og.step()
        for p in self.D.parameters(): p.requires_grad_(True)
        self.od.zero_grad(set_to_none=True); r, f = self.D(y), self.D(fake.detach())
        ld = 0.5 * (self.bce(r, torch.ones_like(r)) + self.bce(f, torch.zeros_like(f))); ld.backward(); self.od.step()
        return ld.item()
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
vcache = {}
threads = int(sys.argv[1]); torch.set_num_threads(threads); cache = {}; icache = {}
print(json.dumps({'ready': True, 'backend': 'torch ' + torch.__version__, 'threads': torch.get_num_threads()}), flush=True)
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
    elif a[0] == 'peak':
        # physical reference: one large 3x3 convolution in PyTorch's oneDNN (8x256x64x64, 256 filters:
        # 38.7 GFLOP), GFLOP/s of the best of 5 (torch.mm is no reference here: Debian's torch uses a slow BLAS)
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
interface Server { name: string; proc: ChildProcessWithoutNullStreams; lines: AsyncIterator<string>; desc: string }

async function startServer(name: string): Promise<Server> {
  const self = fileURLToPath(import.meta.url);
  let proc: ChildProcessWithoutNullStreams;
  if (name.startsWith('pt')) {
    // ptN: PyTorch with N threads, defaults as installed; ptNp: the same with OMP_WAIT_POLICY=passive (as the native addon sets).
    const passive = name.endsWith('p');
    const env = passive ? { ...process.env, OMP_WAIT_POLICY: 'passive' } : process.env;
    proc = spawn('/usr/bin/python3', ['-c', TORCH_SERVER, name.slice(2).replace('p', '')], { stdio: 'pipe', env });
  } else {
    const [backend, t] = name.split('-');
    const env = { ...process.env, HARMONIA_BACKEND: backend, ...(t ? { HARMONIA_NATIVE_THREADS: t.replace('t', '') } : {}) };
    proc = spawn(process.execPath, ['--import', 'tsx', self, '--serve', backend], { stdio: 'pipe', env });
  }
  proc.stderr.on('data', (d: Buffer) => process.stderr.write(`[${name}] ${d}`));
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error(`${name}: server exited before it was ready`);
  const hello = JSON.parse(first.value) as { backend: string; threads: number };
  return { name, proc, lines, desc: `${hello.backend}, ${hello.threads} thread(s)` };
}

async function ask(s: Server, cmd: string): Promise<number[]> {
  s.proc.stdin.write(cmd + '\n');
  const r = await s.lines.next();
  if (r.done) throw new Error(`${s.name}: server exited during "${cmd}"`);
  return JSON.parse(r.value) as number[];
}

function median(a: number[]): number {
  const b = [...a].sort((x, y) => x - y);
  const m = b.length >> 1;
  return b.length % 2 ? b[m] : (b[m - 1] + b[m]) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      serve: { type: 'string' },
      rounds: { type: 'string', default: '5' },
      reps: { type: 'string', default: '2' },
      sizes: { type: 'string', default: '128,256' },
      infer: { type: 'string', default: '256,1024' },
      vgg: { type: 'string', default: '256' },
      configs: { type: 'string', default: 'native-1t,native-2t,wasm,pt1,pt2,pt2p' },
      json: { type: 'string' },
    },
  });
  if (values.serve) return serveTf(values.serve as 'native' | 'wasm');
  const rounds = Number(values.rounds), reps = Number(values.reps);
  const sizes = values.sizes ? values.sizes.split(',').filter(Boolean).map(Number) : [];
  const inferSizes = values.infer ? values.infer.split(',').filter(Boolean).map(Number) : [];
  const vggSizes = values.vgg ? values.vgg.split(',').filter(Boolean).map(Number) : [];
  let names = values.configs.split(',').filter(Boolean);
  if (names.some((n) => n.startsWith('pt')) && spawnSync('/usr/bin/python3', ['-c', 'import torch']).status !== 0) {
    console.error('bench/native: PyTorch not available (/usr/bin/python3 -c "import torch" failed); skipping pt configs');
    names = names.filter((n) => !n.startsWith('pt'));
  }
  console.log(`# bench/native: ${cpus().length} cores (${cpus()[0]?.model}), load average at start ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const servers: Server[] = [];
  for (const n of names) servers.push(await startServer(n));
  for (const s of servers) console.log(`#   ${s.name}: ${s.desc}`);
  const workloads = [
    ...sizes.map((h) => ({ label: `GAN step ${h}² b4`, cmd: (r: number) => `gan 4 ${h} ${r}`, gflop: GAN_GFLOP[h], warm: 2 })),
    ...inferSizes.map((h) => ({ label: `G inference ${h}² b1`, cmd: (r: number) => `infer ${h} ${r}`, gflop: INFER_GFLOP[h], warm: 2 })),
    ...vggSizes.map((h) => ({ label: `VGG-19 feature loss fwd+bwd ${h}² b1`, cmd: (r: number) => `vgg 1 ${h} ${r}`, gflop: vggGflop(h), warm: 1 })),
  ];
  const results: { workload: string; gflop: number | undefined; ms: Record<string, number>; all: Record<string, number[]> }[] = [];
  for (const w of workloads) {
    for (const s of servers) await ask(s, w.cmd(w.warm)); // build models, caches, oneDNN primitives
    const all: Record<string, number[]> = Object.fromEntries(servers.map((s) => [s.name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const s of servers) all[s.name].push(...(await ask(s, w.cmd(reps))));
    }
    const ms = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, median(v) * 1000]));
    results.push({ workload: w.label, gflop: w.gflop, ms, all });
    const cols = servers.map((s) => `${s.name} ${ms[s.name].toFixed(1)} ms${w.gflop ? ` (${(w.gflop / ms[s.name] * 1000).toFixed(0)} GF/s)` : ''}`);
    console.log(`${w.label}: ${cols.join(' | ')}`);
  }
  for (const s of servers.filter((x) => x.name === 'pt1' || x.name === 'pt2')) {
    console.log(`# physical reference: 3×3 conv 8×256×64×64 → 256 in PyTorch's oneDNN, ${s.name}: ${(await ask(s, 'peak'))[0].toFixed(0)} GFLOP/s`);
  }
  const peakMB: Record<string, number> = {};
  for (const s of servers) peakMB[s.name] = (await ask(s, 'mem'))[0];
  for (const s of servers) {
    s.proc.stdin.write('quit\n');
    s.proc.stdin.end();
  }
  // Markdown table: medians, GFLOP/s, and ratios to PyTorch.
  const head = ['workload', 'GFLOP', ...servers.map((s) => s.name)];
  const ratioCols: [string, string][] = [];
  for (const a of ['native-1t', 'native-2t']) for (const b of ['pt1', 'pt2', 'pt2p']) if (names.includes(a) && names.includes(b)) ratioCols.push([a, b]);
  console.log('');
  console.log(`| ${[...head, ...ratioCols.map(([a, b]) => `${a}/${b}`)].join(' | ')} |`);
  console.log(`| ${[...head, ...ratioCols].map(() => '---').join(' | ')} |`);
  for (const r of results) {
    const cells = servers.map((s) => `${r.ms[s.name].toFixed(1)} ms${r.gflop ? ` (${(r.gflop / r.ms[s.name] * 1000).toFixed(0)} GF/s)` : ''}`);
    const ratios = ratioCols.map(([a, b]) => (r.ms[a] / r.ms[b]).toFixed(2));
    console.log(`| ${[r.workload, r.gflop?.toFixed(2) ?? '', ...cells, ...ratios].join(' | ')} |`);
  }
  console.log(`| peak RSS (whole run) | | ${servers.map((s) => `${peakMB[s.name].toFixed(0)} MB`).join(' | ')} |${ratioCols.map(() => ' |').join('')}`);
  console.log(`\n# ${rounds} alternating rounds × ${reps} reps after 2 warm-up calls; load average at end ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  if (values.json) {
    await writeFileAtomic(values.json, JSON.stringify({ configs: servers.map((s) => ({ name: s.name, desc: s.desc })), rounds, reps, loadavg: loadavg(), peakMB, results }, null, 2));
  }
}

main().catch((err: unknown) => {
  console.error(`bench/native: ${(err as Error).message}`);
  process.exit(1);
});
