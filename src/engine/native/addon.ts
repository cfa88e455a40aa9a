/**
 * Loads the optional native addon (native/build/harmonia_native.node, built by `npm run build:native`
 * from native/harmonia_native.cc on oneDNN). Nothing here throws at import time: `loadNativeAddon()`
 * returns the addon or the reason it is unavailable, so the engine can fall back to wasm.
 *
 * No static node:* imports (Node's built-ins come from process.getBuiltinModule when called): the
 * TF.js-free colour-transform apply (src/models/color-transform-apply.ts), which the browser bundle
 * also includes, uses the addon when it runs in Node; in a browser loadNativeAddon() says "not Node".
 */
import { env, passToLibgomp } from '../../config/index.ts';
import { ACT_OPS, codesByName } from './op-codes.ts';
type NodeModules = {
  module: typeof import('node:module');
  fs: typeof import('node:fs');
  os: typeof import('node:os');
  worker: typeof import('node:worker_threads');
  url: typeof import('node:url');
};
let nodeModules: NodeModules | null | undefined;
function node(): NodeModules | null {
  if (nodeModules !== undefined) return nodeModules;
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof p?.getBuiltinModule !== 'function') return (nodeModules = null);
  const get = <T>(id: string) => p.getBuiltinModule!(id) as T;
  nodeModules = { module: get('node:module'), fs: get('node:fs'), os: get('node:os'), worker: get('node:worker_threads'), url: get('node:url') };
  return nodeModules;
}
/** The addon's place relative to this file (not a literal in `new URL`, which bundlers would copy as an asset). */
const ADDON_RELATIVE = ['..', '..', '..', 'native', 'build', 'harmonia_native.node'].join('/');

/** Activation codes understood by the addon (`enum Act`, generated from op-codes.ts, the one source). */
export const ACTIVATIONS: Readonly<Record<string, number>> = codesByName(ACT_OPS);

/** The functions exported by harmonia_native.node. All work in place on caller-allocated arrays. */
export interface NativeAddon {
  /** y = act(conv(x, filter) + bias); geometry from `convGeometry`. */
  conv2d(x: Float32Array, filter: Float32Array, bias: Float32Array | null, y: Float32Array, geom: Int32Array, act: number, alpha: number): void;
  /** dx = gradient of conv(x, filter) w.r.t. x, given dy (also the forward pass of conv2dTranspose). */
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, geom: Int32Array): void;
  /** dw = gradient of conv(x, filter) w.r.t. the filter (HWIO), given x and dy. */
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geom: Int32Array): void;
  /** c = act(op(a)·op(b) + bias); dims [batchA, batchB, M, N, K, transposeA, transposeB]. */
  matMul(a: Float32Array, b: Float32Array, c: Float32Array, dims: Int32Array, bias: Float32Array | null, act: number, alpha: number): void;
  /** Max pooling, NHWC; geometry from `poolGeometry`. */
  maxPool(x: Float32Array, y: Float32Array, geom: Int32Array): void;
  /** dx (zeroed by the addon) gets dy at the first maximum of each window. */
  maxPoolGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, geom: Int32Array): void;
  /** out = a ∘ b; a and b have out's length, 1 value, or a length dividing it (suffix broadcast). */
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array): void;
  /** Any broadcast: out (dims) = a ∘ b read with per-dimension strides (0 = broadcast); compare ops write 0/1 bytes. */
  binaryStrided(op: number, isCompare: boolean, a: Float32Array, b: Float32Array, out: Float32Array | Uint8Array, dims: Int32Array, aStrides: Int32Array, bStrides: Int32Array): void;
  /** out = a ⋈ b as 0/1 bytes (same broadcasting as binary). */
  compare(op: number, a: Float32Array, b: Float32Array, out: Uint8Array): void;
  /** y = f(x); alpha for LeakyRelu and Step. */
  unary(op: number, x: Float32Array, y: Float32Array, alpha: number): void;
  /** out = the gradient of an activation (ACTIVATIONS code: relu or leakyrelu) given dy and its input x, in one pass. */
  activationGrad(act: number, alpha: number, dy: Float32Array, x: Float32Array, out: Float32Array): void;
  /** One Adam update in place (w, m, v), bit-identical to adamUpdate's loop; hp = [lr, beta1, beta2, eps, 1-beta1^t, 1-beta2^t]. */
  adam(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, hp: Float64Array): void;
  /** y = min(max(x, lo), hi) with NaN passing through (the cpu backend's ClipByValue). */
  clip(x: Float32Array, y: Float32Array, lo: number, hi: number): void;
  /** out = the sum of the inputs (each of out's length). */
  addN(inputs: Float32Array[], out: Float32Array): void;
  /** out = the inputs side by side along one axis: input i contributes inner[i] values per outer index. */
  concat(inputs: Float32Array[], inner: Int32Array, outer: number, out: Float32Array): void;
  /** out = lo <= x <= hi ? dy : 0 (ClipByValue's gradient; 0 where x is NaN). */
  clipGrad(dy: Float32Array, x: Float32Array, out: Float32Array, lo: number, hi: number): void;
  /** Per-channel monotone curves: y[n,p,c] = Σ_k clip(x − k/K, 0, 1/K)·s[n,c,k]; dims [n, pixels, C, K]. */
  curve(x: Float32Array, slopes: Float32Array, y: Float32Array, dims: Int32Array): void;
  /** The curves' gradient for x and for the slopes, in one pass. */
  curveGrad(dy: Float32Array, x: Float32Array, slopes: Float32Array, dx: Float32Array, dslopes: Float32Array, dims: Int32Array): void;
  /** The global generator's colour transform (training): y [n,p,3] from x [n,p,4] (RGB + mask) and theta [n,3K+13]; dims [n, p, K]. */
  colorApply(x: Float32Array, theta: Float32Array, y: Float32Array, dims: Int32Array): void;
  /** Its gradient w.r.t. theta and/or x (either may be null), one pass. */
  colorApplyGrad(dy: Float32Array, x: Float32Array, theta: Float32Array, dtheta: Float32Array | null, dx: Float32Array | null, dims: Int32Array): void;
  /** The transform at full resolution for inference, in double precision, bit-identical to the JS loop; dims [w, h, K (a power of two), fw, fh]. */
  colorApplyImage(rgb: Float32Array, mask: Float32Array, out: Float32Array, dims: Int32Array, coef: Float64Array, field: Float32Array | null,
    ix: Int32Array | null, iy: Int32Array | null, fx: Float32Array | null, fy: Float32Array | null): void;
  /** out = cond ? t : e; cond has out's length or one value per leading index. */
  select(cond: Uint8Array, t: Float32Array, e: Float32Array, out: Float32Array): void;
  /** y[o, i] = reduce over k of x[o, k, i]; op 0 sum, 1 mean, 2 max, 3 min. */
  reduce(op: number, x: Float32Array, y: Float32Array, outer: number, r: number, inner: number): void;
  /** glibc mallopt: blocks up to mmapThreshold bytes from the heap, keep up to trimThreshold freed bytes; true when applied. */
  tuneAllocator(mmapThreshold: number, trimThreshold: number): boolean;
  setThreads(n: number): void;
  info(): { dnnl: string; threads: number; lastImpl: string; cachedPrimitives: number };
}

export type AddonLoad = { ok: true; addon: NativeAddon; path: string } | { ok: false; reason: string; path: string };

/** Where the addon is looked for: HARMONIA_NATIVE_ADDON, else native/build/harmonia_native.node in the repository. */
export function nativeAddonPath(): string {
  const n = node();
  const rel = new URL(ADDON_RELATIVE, import.meta.url);
  return (n ? env.nativeAddon : undefined) ?? (n ? n.url.fileURLToPath(rel) : decodeURIComponent(rel.pathname));
}

let cached: AddonLoad | undefined;

/**
 * Threads for native kernels: HARMONIA_NATIVE_THREADS, else one per core on the main thread and one
 * in a worker thread (data-parallel workers already use every core between them). The setting is
 * per thread (OpenMP's nthreads is a per-thread value), as are the addon's primitive caches.
 */
export function nativeThreads(): number {
  const nm = node();
  const fallback = !nm ? 1 : nm.worker.isMainThread ? nm.os.availableParallelism() : 1;
  return (nm ? env.nativeThreads : undefined) ?? fallback;
}

/** Loads the addon once per process; never throws. */
export function loadNativeAddon(): AddonLoad {
  if (cached) return cached;
  const n = node();
  if (!n) {
    cached = { ok: false, path: '', reason: 'native addon: not running in Node' };
    return cached;
  }
  const path = nativeAddonPath();
  if (!n.fs.existsSync(path)) {
    cached = { ok: false, path, reason: `native addon not built (${path} missing; run npm run build:native)` };
    return cached;
  }
  // How long an idle OpenMP thread spins before it sleeps. libgomp's default (300k spins) steals the
  // core from the thread still working whenever the machine is busy: measured 2.2-3.3 s instead of
  // 0.3-0.6 s per GAN step at 2 threads under load. Sleeping at once (OMP_WAIT_POLICY=passive, used
  // until 2026-12-03) pays a futex wake-up in each of the hundreds of parallel regions of a step:
  // the paper GAN step took 253-259 ms (median) against 197-212 ms with a short spin of 10k
  // iterations (tens of microseconds), which wastes next to nothing under load. libgomp reads this
  // when it loads (below); OMP_WAIT_POLICY or GOMP_SPINCOUNT set by the user win.
  if (env.ompWaitPolicy === undefined && env.gompSpinCount === undefined) passToLibgomp('GOMP_SPINCOUNT', '10000');
  try {
    const addon = n.module.createRequire(import.meta.url)(path) as NativeAddon;
    for (const fn of ['conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter', 'matMul', 'maxPool', 'maxPoolGrad', 'binary', 'binaryStrided', 'compare', 'unary', 'activationGrad', 'adam', 'clip', 'tuneAllocator', 'addN', 'concat', 'clipGrad', 'curve', 'curveGrad', 'colorApply', 'colorApplyGrad', 'colorApplyImage', 'select', 'reduce', 'setThreads', 'info'] as const) {
      if (typeof addon[fn] !== 'function') throw new Error(`${path} does not export ${fn}() (stale build? run npm run build:native -- --force)`);
    }
    addon.setThreads(nativeThreads());
    cached = { ok: true, addon, path };
  } catch (err) {
    cached = { ok: false, path, reason: `native addon failed to load: ${(err as Error).message.split('\n')[0]}` };
  }
  return cached;
}
