/**
 * Per-kernel speed of the project's wasm kernels against the stock tfjs-backend-wasm 4.22 kernels,
 * at the shapes of G.enc2 for 128² training images at batch 4 (64²×32 → 32²×64, 4×4, stride 2,
 * 'same'), plus dense-gradient and resize shapes. Kernels are called directly (wasm kernels are
 * synchronous, so wall time is exact); median of REPS calls after WARMUP calls.
 * Usage: npm run bench:kernels [-- reps]
 */
import { performance } from 'node:perf_hooks';
import { tf } from '../src/engine/tf.ts';
import { initEngine } from '../src/engine/index.ts';
import { stockWasmKernel } from '../src/engine/kernels/index.ts';
import { Rng } from '../src/util/random.ts';

const REPS = Number(process.argv[2] ?? 7);
const WARMUP = 2;

interface Backend { readSync(id: object): Float32Array; disposeData(id: object): boolean }

function randT(shape: number[], seed: number, relu = false): tf.Tensor {
  const r = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => (relu ? Math.max(0, r.uniform(-1, 1)) : r.uniform(-1, 1))), shape);
}

function median(a: number[]): number {
  const b = [...a].sort((x, y) => x - y);
  return b[b.length >> 1];
}

interface Timing { ms: number; out: Float32Array }

/** Median ms per call of each function, calls interleaved (A, B, A, B, …) so load changes hit both alike. */
function time(fns: tf.KernelFunc[], inputs: Record<string, tf.Tensor>, attrs: object): Timing[] {
  const backend = tf.backend() as unknown as Backend;
  const ts: number[][] = fns.map(() => []);
  const outs: Float32Array[] = fns.map(() => new Float32Array(0));
  for (let i = 0; i < WARMUP + REPS; i++) {
    fns.forEach((fn, k) => {
      const t0 = performance.now();
      const o = fn({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
      const dt = performance.now() - t0;
      if (i >= WARMUP) ts[k].push(dt);
      if (i === WARMUP + REPS - 1) outs[k] = backend.readSync(o.dataId).slice();
      backend.disposeData(o.dataId);
    });
  }
  return fns.map((_, k) => ({ ms: median(ts[k]), out: outs[k] }));
}

function relDiff(a: Float32Array, b: Float32Array): number {
  let m = 0, r = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    r = Math.max(r, Math.abs(b[i]));
  }
  return m / (r || 1);
}

async function main(): Promise<void> {
  const info = await initEngine({ backend: 'wasm' });
  const [N, H, W, C, O, K] = [4, 64, 64, 32, 64, 4];
  const conv = { strides: [2, 2], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined };
  const x = randT([N, H, W, C], 1), w = randT([K, K, C, O], 2, false), dy = randT([N, H / 2, W / 2, O], 3);
  const convFlop = 2 * N * (H / 2) * (W / 2) * K * K * C * O;
  const xr = tf.tidy(() => tf.abs(randT([N, H, W, C], 4))); // positive, no ties: stock and registered must agree
  const pdy = randT([N, H / 2, W / 2, C], 5);
  const pooled = tf.maxPool(xr as tf.Tensor4D, 2, 2, 'valid');
  const [M, Kd, Nd] = [1024, 512, 512];
  const a = randT([1, M, Kd], 6), b = randT([1, M, Nd], 7);
  const img = randT([N, H, W, C], 8), rdy = randT([N, 2 * H, 2 * W, C], 9);

  const rows: string[][] = [];
  const add = (label: string, flop: number, stockFn: tf.KernelFunc | undefined, ours: tf.KernelFunc, inputs: Record<string, tf.Tensor>, attrs: object): void => {
    const [o, s] = time(stockFn ? [ours, stockFn] : [ours], inputs, attrs) as [Timing, Timing | undefined];
    const gf = (ms: number): string => (flop ? ` (${(flop / ms / 1e6).toFixed(1)} GF/s)` : '');
    const reference = !stockFn && ours === k('Conv2D');
    rows.push([
      label,
      s ? `${s.ms.toFixed(1)}${gf(s.ms)}` : reference ? `${o.ms.toFixed(1)}${gf(o.ms)}` : 'missing',
      reference ? '(stock kept)' : `${o.ms.toFixed(1)}${gf(o.ms)}`,
      s ? `${(s.ms / o.ms).toFixed(1)}x` : '–',
      s ? relDiff(o.out, s.out).toExponential(1) : '–',
    ]);
  };
  const k = (name: string): tf.KernelFunc => (tf.getKernel(name, 'wasm') as tf.KernelConfig).kernelFunc;
  add(`Conv2D forward (reference) ${N}×${H}²×${C}→${O}`, convFlop, undefined, k('Conv2D'), { x, filter: w }, conv);
  add(`Conv2DBackpropFilter ${N}×${H}²×${C}→${O}`, convFlop, stockWasmKernel('Conv2DBackpropFilter'), k('Conv2DBackpropFilter'),
    { x, dy }, { ...conv, filterShape: [K, K, C, O] });
  add(`Conv2DBackpropInput ${N}×${H}²×${C}→${O}`, convFlop, stockWasmKernel('Conv2DBackpropInput'), k('Conv2DBackpropInput'),
    { dy, filter: w }, { ...conv, inputShape: [N, H, W, C] });
  add(`MaxPoolGrad 2×2/2 ${N}×${H}²×${C} (positive input)`, 0, stockWasmKernel('MaxPoolGrad'), k('MaxPoolGrad'),
    { dy: pdy, input: xr, output: pooled }, { filterSize: [2, 2], strides: [2, 2], pad: 'valid' });
  add(`BatchMatMul transposeA [${M}×${Kd}]ᵀ·[${M}×${Nd}] (dense dW)`, 2 * M * Kd * Nd, stockWasmKernel('BatchMatMul'), k('BatchMatMul'),
    { a, b }, { transposeA: true, transposeB: false });
  add(`ResizeBilinearGrad ${N}×${H}²×${C} ← ${2 * H}² (halfPixelCenters; stock is wrong)`, 0, stockWasmKernel('ResizeBilinearGrad'), k('ResizeBilinearGrad'),
    { images: img, dy: rdy }, { alignCorners: false, halfPixelCenters: true });
  add(`ResizeNearestNeighborGrad ${N}×${H}²×${C} ← ${2 * H}² (default)`, 0, stockWasmKernel('ResizeNearestNeighborGrad'), k('ResizeNearestNeighborGrad'),
    { images: img, dy: rdy }, { alignCorners: false, halfPixelCenters: false });

  console.log(`wasm, ${info.threads} thread(s), tfjs ${tf.version.tfjs}, node ${process.version}; median of ${REPS} calls (ms)\n`);
  console.log('| kernel | stock | registered | speed-up | max rel diff |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  tf.dispose([x, w, dy, xr, pdy, pooled, a, b, img, rdy]);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
