/**
 * Engine benchmark: one paper GAN training step (G + D, L1·100 + BCE-with-logits, Adam) at
 * batch 4, for
 *   tf1  TensorFlow.js single process (initEngine default backend, 1 thread)
 *   dp2  TensorFlow.js data-parallel pool, 2 workers × half batch (src/engine/parallel), Adam in
 *        the workers; dp2m the same with Adam on the main thread; dp1 one worker (pool overhead)
 *   pt1 / pt2  the identical model in PyTorch (bench/torch/gan.py), 1 and 2 threads
 * Each configuration is a persistent server process, warmed up, then measured in alternating
 * rounds (A, B, C, D, A, B, …); the median step time is reported with achieved GFLOP/s
 * (analytic FLOP count) and peak memory.
 *
 *   npm run bench:engine -- [--sizes 128,256] [--rounds 5] [--steps 2] [--batch 4]
 *                          [--configs tf1,dp2,pt1,pt2] [--backend wasm] [--write docs/BENCHMARKS.md]
 *
 * PyTorch configurations are skipped when `/usr/bin/python3 -c "import torch"` fails.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { cpus, loadavg, totalmem } from 'node:os';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../src/util/atomic.ts';
import type { tf as TF } from '../src/engine/tf.ts';
import type { BackendRequest } from '../src/engine/index.ts';
import type { PhaseTiming } from '../src/engine/parallel/index.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------- FLOPs (analytic, 2 per MAC)

interface StepFlops { gStep: number; dStep: number; total: number }

/** FLOPs of the paper GAN step at batch n, square size h (direct-convolution count, 4×4 kernels). */
export function ganStepFlops(n: number, h: number, base = 32): StepFlops {
  const conv = (pixels: number, ci: number, co: number) => 2 * n * pixels * 16 * ci * co;
  const b = base;
  // encoder convs: output pixels (h/2^(i+1))²; decoder convT: 16 taps per INPUT pixel
  const enc = [[3, b], [b, 2 * b], [2 * b, 4 * b]].map(([ci, co], i) => conv((h / 2 ** (i + 1)) ** 2, ci, co));
  const dec = [[4 * b, 2 * b], [2 * b, b], [b, 3]].map(([ci, co], i) => conv((h / 2 ** (3 - i)) ** 2, ci, co));
  const d = [[3, b], [b, 2 * b], [2 * b, 4 * b], [4 * b, 8 * b]].map(([ci, co], i) => conv((h / 2 ** (i + 1)) ** 2, ci, co));
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  const gF = sum(enc) + sum(dec);
  const dF = sum(d) + 2 * n * 8 * b;
  // G step: G fwd, D fwd on the fake, D backward dx (all layers: the gradient flows into the fake),
  // G backward dx (all but the first layer) + dW
  const gStep = gF + dF + dF + (gF - enc[0]) + gF;
  // D step: D fwd on real and fake, each with backward dx (not into the image) + dW
  const dStep = 2 * (dF + (dF - d[0]) + dF);
  return { gStep, dStep, total: gStep + dStep };
}

// ---------------------------------------------------------------- servers (child processes)

type TfMode = 'tf1' | 'dp1' | 'dp2' | 'dp2m';
const TF_MODES: readonly string[] = ['tf1', 'dp1', 'dp2', 'dp2m'];

async function serveTf(mode: TfMode, backend: BackendRequest): Promise<void> {
  const { tf } = await import('../src/engine/tf.ts');
  const { initEngine } = await import('../src/engine/index.ts');
  const engine = await initEngine({ backend });
  const { Rng } = await import('../src/util/random.ts');
  // the trainer's GAN step module (src/train/step-module.ts), in the pool and in this process
  const gan = await import('../src/train/step-module.ts');
  const { DataParallelPool } = await import('../src/engine/parallel/index.ts');
  const options = gan.paperGanOptions();
  const pool = mode === 'tf1' ? undefined : await DataParallelPool.create({ module: gan.GAN_STEP_MODULE, workers: mode === 'dp1' ? 1 : 2, backend: engine.backend, adamIn: mode === 'dp2m' ? 'main' : 'workers', options });
  const models = mode === 'tf1' ? await gan.createModels(options) : undefined;
  const optG = tf.train.adam(2e-4, 0.5, 0.999, 1e-8);
  const optD = tf.train.adam(2e-4, 0.5, 0.999, 1e-8);
  const state = new Map<string, unknown>();
  const data = new Map<string, { x: Float32Array; y: Float32Array; mask: Float32Array }>();
  let wasmHeapPeak = 0;
  const breakdown: { computeMs: number; loadMs: number; adamMs: number; overheadMs: number }[] = [];
  const heap = (): number => {
    const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
    return b.wasm?.HEAPU8?.length ?? 0;
  };
  const rl = createInterface({ input: process.stdin });
  const out = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);
  out({ ready: true, backend: engine.backend });
  for await (const line of rl) {
    const a = line.trim().split(/\s+/);
    if (a[0] === 'quit') break;
    if (a[0] === 'breakdown') {
      const med = (k: keyof (typeof breakdown)[number]) => median(breakdown.map((b) => b[k]));
      out(breakdown.length ? { computeMs: med('computeMs'), loadMs: med('loadMs'), adamMs: med('adamMs'), overheadMs: med('overheadMs') } : {});
      breakdown.length = 0;
      continue;
    }
    if (a[0] === 'mem') {
      out({ rssMB: process.resourceUsage().maxRSS / 1024, heapMB: Math.max(wasmHeapPeak, heap()) / 2 ** 20 });
      continue;
    }
    const [n, h, reps] = [Number(a[1]), Number(a[2]), Number(a[3])];
    const key = `${n}x${h}`;
    if (!data.has(key)) {
      const rng = new Rng(1);
      const len = n * h * h * 3;
      data.set(key, { x: Float32Array.from({ length: len }, () => rng.next()), y: Float32Array.from({ length: len }, () => rng.next()), mask: new Float32Array(n * h * h).fill(1) });
    }
    const { x, y, mask } = data.get(key)!;
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      if (pool) {
        const rep = await pool.step({ input: { data: x, shape: [n, h, h, 3] }, real: { data: y, shape: [n, h, h, 3] }, mask: { data: mask, shape: [n, h, h, 1] } });
        const phasesRep = Object.values(rep);
        const sum = (f: (t: PhaseTiming) => number) => phasesRep.reduce((acc, p) => acc + Math.max(...p.workers.map(f)), 0);
        const wall = phasesRep.reduce((acc, p) => acc + p.wallMs, 0);
        const compute = sum((t) => t.computeMs);
        breakdown.push({ computeMs: compute, loadMs: sum((t) => t.loadMs), adamMs: sum((t) => t.adamMs) + phasesRep.reduce((a, p) => a + p.mainAdamMs, 0), overheadMs: wall - compute });
      } else {
        const batch = { input: tf.tensor4d(x, [n, h, h, 3]), real: tf.tensor4d(y, [n, h, h, 3]), mask: tf.tensor4d(mask, [n, h, h, 1]) };
        const ctx = { models: models!, batch, shardSize: n, state, options, step: r, worker: 0, workers: 1 };
        for (const [phase, opt] of [['G', optG], ['D', optD]] as const) {
          const res = gan.runPhase(phase, ctx);
          const grads = res.grads[phase] as TF.Tensor[];
          opt.applyGradients(models![phase].trainableWeights.map((w, i) => ({ name: (w.read() as TF.Variable).name, tensor: grads[i] })));
          for (const l of Object.values(res.losses)) if (typeof l !== 'number') l.dataSync();
          tf.dispose([...grads, ...Object.values(res.losses).filter((l): l is TF.Scalar => typeof l !== 'number')]);
        }
        tf.dispose(Object.values(batch));
      }
      times.push((performance.now() - t0) / 1000);
      wasmHeapPeak = Math.max(wasmHeapPeak, heap());
    }
    out(times);
  }
  await pool?.close();
  process.exit(0);
}

interface Server { name: string; ask(line: string): Promise<string>; quit(): void }

function startServer(name: string, cmd: string, args: string[]): Promise<Server> {
  const p: ChildProcessWithoutNullStreams = spawn(cmd, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let quitting = false;
  const queue: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  createInterface({ input: p.stdout }).on('line', (l) => {
    if (!l.startsWith('[') && !l.startsWith('{')) return;
    const w = waiters.shift();
    if (w) w(l); else queue.push(l);
  });
  const next = () => new Promise<string>((res) => { const q = queue.shift(); if (q !== undefined) res(q); else waiters.push(res); });
  p.on('exit', (code) => {
    if (!quitting) {
      console.error(`bench: server ${name} exited with code ${code}\n${stderr}`);
      process.exit(1);
    }
  });
  const server: Server = {
    name,
    ask: (line) => { const r = next(); p.stdin.write(`${line}\n`); return r; },
    quit: () => { quitting = true; p.stdin.write('quit\n'); },
  };
  // tf servers announce readiness; the python one answers its first request
  return name.startsWith('pt') ? Promise.resolve(server) : next().then(() => server);
}

// ---------------------------------------------------------------- driver

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

const median = (a: number[]) => { const b = [...a].sort((x, y) => x - y); const m = b.length >> 1; return b.length % 2 ? b[m] : (b[m - 1] + b[m]) / 2; };

function torchAvailable(): boolean {
  return spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

async function drive(): Promise<void> {
  const sizes = arg('sizes', '128,256').split(',').map(Number);
  const rounds = Number(arg('rounds', '5'));
  const steps = Number(arg('steps', '2'));
  const batch = Number(arg('batch', '4'));
  let configs = arg('configs', 'tf1,dp2,pt1,pt2').split(',');
  const write = arg('write', '');
  const backend = arg('backend', 'wasm');
  for (const s of sizes) if (!(Number.isInteger(s) && s >= 8 && s % 8 === 0)) throw new Error(`--sizes: ${s} is not a positive multiple of 8`);
  const haveTorch = torchAvailable();
  if (!haveTorch) {
    console.log('PyTorch not available (/usr/bin/python3 -c "import torch" failed): skipping pt1/pt2');
    configs = configs.filter((c) => !c.startsWith('pt'));
  }
  const servers: Record<string, Server> = {};
  for (const c of configs) {
    if (c === 'pt1' || c === 'pt2') servers[c] = await startServer(c, '/usr/bin/python3', [join(ROOT, 'bench/torch/gan.py')]);
    else if (TF_MODES.includes(c)) servers[c] = await startServer(c, process.execPath, ['--import', 'tsx', join(ROOT, 'bench/engine.ts'), '--serve', c, '--backend', backend]);
    else throw new Error(`--configs: unknown configuration "${c}" (tf1, dp1, dp2, dp2m, pt1, pt2)`);
  }
  const req = (c: string, h: number, reps: number) => (c.startsWith('pt') ? `gan ${batch} ${h} ${c === 'pt1' ? 1 : 2} ${reps}` : `gan ${batch} ${h} ${reps}`);
  const results: { size: number; rows: { config: string; median: number; min: number; max: number; n: number }[] }[] = [];
  const started = new Date();
  const notes: string[] = [];
  const load0 = loadavg()[0];
  for (const h of sizes) {
    for (const c of configs) await servers[c].ask(req(c, h, 1)); // warm-up
    const times: Record<string, number[]> = Object.fromEntries(configs.map((c) => [c, []]));
    for (let r = 0; r < rounds; r++) {
      for (const c of configs) times[c].push(...(JSON.parse(await servers[c].ask(req(c, h, steps))) as number[]));
    }
    for (const c of configs) {
      if (!c.startsWith('dp')) continue;
      const b = JSON.parse(await servers[c].ask('breakdown')) as { computeMs?: number; loadMs?: number; adamMs?: number; overheadMs?: number };
      if (b.computeMs !== undefined) notes.push(`${h}² ${c} per step (medians): slowest-worker compute ${b.computeMs.toFixed(1)} ms (G + D phases), overhead beyond it ${b.overheadMs!.toFixed(1)} ms, of which weight reload ${b.loadMs!.toFixed(1)} ms and gradient averaging + Adam ${b.adamMs!.toFixed(1)} ms.`);
    }
    results.push({ size: h, rows: configs.map((c) => ({ config: c, median: median(times[c]) * 1000, min: Math.min(...times[c]) * 1000, max: Math.max(...times[c]) * 1000, n: times[c].length })) });
  }
  const mem: Record<string, { rssMB: number; heapMB?: number }> = {};
  for (const c of configs) mem[c] = JSON.parse(await servers[c].ask('mem')) as { rssMB: number; heapMB?: number };
  for (const c of configs) servers[c].quit();
  const load1 = loadavg()[0];

  const lines: string[] = [];
  const cmd = `npm run bench:engine -- ${process.argv.slice(2).filter((a, i, all) => a !== '--write' && all[i - 1] !== '--write').join(' ')}`.trim();
  lines.push(`Command: \`${cmd}\``);
  lines.push(`Date: ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC. Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.version}. Load average (1 min) ${load0.toFixed(1)} at start, ${load1.toFixed(1)} at end.`);
  if (Math.max(load0, load1) > 0.5 * cpus().length) {
    lines.push(`**Warning: the machine was busy (load average up to ${Math.max(load0, load1).toFixed(1)} on ${cpus().length} cores): timings and especially ratios are contaminated by other processes.**`);
  }
  lines.push(`TensorFlow.js backend: ${backend} (tf1: one thread; dp2/dp2m: two worker threads, one engine each, Adam in the workers/main thread; dp1: one worker). PyTorch ${haveTorch ? 'via /usr/bin/python3' : 'not available'}.`);
  lines.push(`Batch ${batch}, ${rounds} alternating rounds × ${steps} steps per configuration, after one warm-up step.`);
  lines.push('');
  lines.push('| size | config | median ms | min–max ms | steps/s | GFLOP/s | vs pt1 | vs pt2 | peak RSS MB | wasm heap MB |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    const fl = ganStepFlops(batch, r.size).total / 1e9;
    const ref = (c: string) => r.rows.find((x) => x.config === c)?.median;
    for (const row of r.rows) {
      const p1 = ref('pt1'), p2 = ref('pt2');
      const m = mem[row.config];
      lines.push(`| ${r.size}² | ${row.config} | ${row.median.toFixed(1)} | ${row.min.toFixed(0)}–${row.max.toFixed(0)} | ${(1000 / row.median).toFixed(2)} | ${(fl / (row.median / 1000)).toFixed(1)} | ${p1 ? (row.median / p1).toFixed(2) : '–'} | ${p2 ? (row.median / p2).toFixed(2) : '–'} | ${m.rssMB.toFixed(0)} | ${m.heapMB !== undefined && row.config === 'tf1' ? m.heapMB.toFixed(0) : '–'} |`);
    }
  }
  lines.push('');
  lines.push(`FLOPs per step (analytic, 2·MAC of the direct convolutions): ${sizes.map((s) => `${s}²: ${(ganStepFlops(batch, s).total / 1e9).toFixed(2)} GFLOP`).join(', ')}. Peak RSS is per server process over the whole run (all sizes); dp2's includes its workers' engines (wasm heaps are part of RSS).`);
  for (const n of notes) lines.push(`- ${n}`);
  const text = lines.join('\n');
  console.log(text);
  if (write) {
    const path = resolve(ROOT, write);
    const start = '<!-- bench:engine:start -->';
    const end = '<!-- bench:engine:end -->';
    const block = `${start}\n${text}\n${end}`;
    let doc = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
    if (doc.includes(start) && doc.includes(end)) doc = doc.slice(0, doc.indexOf(start)) + block + doc.slice(doc.indexOf(end) + end.length);
    else doc = `${doc.trimEnd()}\n\n## Engine: GAN training step (\`npm run bench:engine\`)\n\n${block}\n`;
    await writeFileAtomic(path, doc);
    console.log(`wrote ${path}`);
  }
}

const serveIdx = process.argv.indexOf('--serve');
if (serveIdx >= 0) {
  const mode = process.argv[serveIdx + 1];
  if (!TF_MODES.includes(mode)) throw new Error(`--serve: unknown mode ${mode}`);
  await serveTf(mode as TfMode, arg('backend', 'wasm') as BackendRequest);
} else {
  await drive();
}
