/**
 * Fast CPU inference of the generator with ONNX Runtime (onnxruntime-node, an optional
 * dependency). Same contract as runGenerator: any H×W, reflect padding to a multiple of 8 (replicate
 * when a side is too small), the mask appended as a 4th channel when the model takes one, output
 * cropped back to H×W×3. Node only; the browser keeps TensorFlow.js.
 *
 * Sessions are created through onnxruntime-node's native binding when its shape is the one this
 * file was written against (1.30: `dist/binding`, a synchronous `run`), which gives `runSync` —
 * the pipeline's generator hook is synchronous. Otherwise the public async API is used and
 * `runSync` is unavailable (`syncAvailable` false); callers then keep TensorFlow.js.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { HarmoniaError } from '../errors.ts';
import { generatorEntry } from './registry.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { ensureOnnxModel, type OnnxArtifact } from '../export/cache.ts';
import { readOnnxSummary } from '../export/onnx-proto.ts';
import { META_CONFIG, ONNX_INPUT, ONNX_OUTPUT } from '../export/generator.ts';
import { GENERATOR_STRIDE, type GeneratorConfig, type PadMode } from './generator.ts';
import type { HarmonizationModel } from '../pipeline/refine.ts';

const ORT_PACKAGE = 'onnxruntime-node';

// Minimal structural types of the parts of onnxruntime-node used here (no type import, so this
// file typechecks where the optional package is absent).
interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}
type OrtTensorCtor = new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface OrtModule {
  Tensor: OrtTensorCtor;
  InferenceSession: { create(bytes: Uint8Array, options: Record<string, unknown>): Promise<OrtSession> };
}
interface NativeSession {
  loadModel(buf: ArrayBufferLike, offset: number, length: number, options: Record<string, unknown>): void;
  run(feeds: Record<string, OrtTensor>, fetches: Record<string, null>, options: Record<string, unknown>): Record<string, OrtTensor>;
  dispose(): void;
}
interface NativeBinding {
  initOrt(): void;
  binding: { InferenceSession: new () => NativeSession };
}

let ortPromise: Promise<OrtModule | null> | undefined;

/** Loads onnxruntime-node once; null when it is not installed or cannot start. */
function loadOrt(): Promise<OrtModule | null> {
  ortPromise ??= (async () => {
    try {
      const spec: string = ORT_PACKAGE;
      const mod = (await import(spec)) as { default?: OrtModule } & Partial<OrtModule>;
      const ort = (mod.InferenceSession ? mod : mod.default) as OrtModule | undefined;
      return ort && typeof ort.InferenceSession?.create === 'function' && typeof ort.Tensor === 'function' ? ort : null;
    } catch {
      return null;
    }
  })();
  return ortPromise;
}

/** True when onnxruntime-node can be loaded in this process. */
export async function onnxAvailable(): Promise<boolean> {
  return (await loadOrt()) !== null;
}

/** The native binding with a synchronous run, or null when this onnxruntime-node does not have that shape. */
function nativeBinding(): NativeBinding | null {
  try {
    const req = createRequire(import.meta.url);
    const b = req(`${ORT_PACKAGE}/dist/binding`) as Partial<NativeBinding>;
    if (typeof b.initOrt !== 'function' || typeof b.binding?.InferenceSession !== 'function') return null;
    const proto = b.binding.InferenceSession.prototype as Partial<NativeSession>;
    if (typeof proto.loadModel !== 'function' || typeof proto.run !== 'function') return null;
    return b as NativeBinding;
  } catch {
    return null;
  }
}

export interface OnnxGeneratorOptions {
  /** Intra-op threads (default: available parallelism). */
  threads?: number;
  /** Padding to a multiple of 8 (default 'reflect', like runGenerator). */
  pad?: PadMode;
  /** Use the public async API even where the synchronous native session is available (tests). */
  asyncOnly?: boolean;
}

/** A generator running in ONNX Runtime. Buffers are NHWC float32 (batch 1), like FloatImage data. */
export interface OnnxGenerator {
  readonly config: GeneratorConfig;
  /** 3 (RGB) or 4 (RGB + mask). */
  readonly inputChannels: 3 | 4;
  readonly threads: number;
  /** Where the .onnx came from (a path) or "memory". */
  readonly source: string;
  /** Whether runSync works (native synchronous session). */
  readonly syncAvailable: boolean;
  /** G(x) for an H×W×3 image (and an H×W mask when the model takes one): H×W×3, any H, W. */
  run(input: Float32Array, mask: Float32Array | undefined, height: number, width: number): Promise<Float32Array>;
  /** Same as run, synchronously; throws when syncAvailable is false. */
  runSync(input: Float32Array, mask: Float32Array | undefined, height: number, width: number): Float32Array;
  /** Frees the session. */
  dispose(): void;
}

/** Row (or column) source indices for padding a side of length n by before/after, like padAxis. */
export function padIndexMap(n: number, before: number, after: number, mode: PadMode): Int32Array {
  const map = new Int32Array(n + before + after);
  const reflect = mode === 'reflect' && n > Math.max(before, after);
  for (let p = 0; p < map.length; p++) {
    let s = p - before;
    if (s < 0) s = reflect ? -s : 0;
    else if (s >= n) s = reflect ? 2 * (n - 1) - s : n - 1;
    map[p] = s;
  }
  return map;
}

/** Split of the padding to the next multiple of `stride` (centred, extra at the end), as runGenerator does. */
export function padAmounts(size: number, stride = GENERATOR_STRIDE): [number, number] {
  const total = (stride - (size % stride)) % stride;
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** Builds the padded NHWC model input (RGB, plus the mask channel when `channels` is 4); returns `input` itself when nothing is to be added. */
export function padGeneratorInput(input: Float32Array, mask: Float32Array | undefined, h: number, w: number, channels: 3 | 4, mode: PadMode): { data: Float32Array; height: number; width: number; top: number; left: number } {
  const [top, bottom] = padAmounts(h);
  const [left, right] = padAmounts(w);
  if (channels === 3 && top + bottom + left + right === 0) return { data: input, height: h, width: w, top: 0, left: 0 };
  const rows = padIndexMap(h, top, bottom, mode);
  const cols = padIndexMap(w, left, right, mode);
  const H = rows.length;
  const W = cols.length;
  const data = new Float32Array(H * W * channels);
  let o = 0;
  for (let y = 0; y < H; y++) {
    const r = rows[y] * w;
    for (let x = 0; x < W; x++) {
      const p = r + cols[x];
      const i = p * 3;
      data[o++] = input[i];
      data[o++] = input[i + 1];
      data[o++] = input[i + 2];
      if (channels === 4) data[o++] = (mask as Float32Array)[p];
    }
  }
  return { data, height: H, width: W, top, left };
}

/** Crops an NHWC 3-channel buffer of width W to h×w starting at (top, left). */
export function cropRgb(src: Float32Array, W: number, top: number, left: number, h: number, w: number): Float32Array {
  const out = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) out.set(src.subarray(((y + top) * W + left) * 3, ((y + top) * W + left + w) * 3), y * w * 3);
  return out;
}

function checkArgs(input: Float32Array, mask: Float32Array | undefined, h: number, w: number, channels: number): void {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) throw new HarmoniaError(`ONNX generator: height and width must be positive integers, got ${h}×${w}`);
  if (!(input instanceof Float32Array) || input.length !== h * w * 3) throw new HarmoniaError(`ONNX generator: input must be a Float32Array of ${h}×${w}×3 = ${h * w * 3} values, got ${input?.length}`);
  if (channels === 4 && !mask) throw new HarmoniaError('ONNX generator: this model needs a mask (it takes RGB + mask)');
  if (mask && (!(mask instanceof Float32Array) || mask.length !== h * w)) throw new HarmoniaError(`ONNX generator: mask must be a Float32Array of ${h}×${w} = ${h * w} values, got ${mask.length}`);
}

/**
 * Creates a generator runner from ONNX bytes made by exportGeneratorToOnnx (the config is read from
 * their metadata). Throws HarmoniaError when onnxruntime-node is not installed.
 */
export async function createOnnxGenerator(bytes: Uint8Array, opts: OnnxGeneratorOptions = {}, source = 'memory'): Promise<OnnxGenerator> {
  const ort = await loadOrt();
  if (!ort) throw new HarmoniaError(`ONNX Runtime is not available (install the optional dependency ${ORT_PACKAGE}, or set HARMONIA_INFERENCE=tfjs)`);
  const summary = readOnnxSummary(bytes);
  const cfgText = summary.metadata[META_CONFIG];
  if (cfgText === undefined) throw new HarmoniaError(`not a Harmonia generator export (metadata ${META_CONFIG} missing)`, { file: source });
  let config: GeneratorConfig;
  try {
    config = JSON.parse(cfgText) as GeneratorConfig;
  } catch (err) {
    throw new HarmoniaError(`generator config in the ONNX metadata is not valid JSON (${(err as Error).message})`, { file: source, cause: err });
  }
  const inputChannels: 3 | 4 = config.maskInput || config.residual ? 4 : 3;
  const threads = opts.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new HarmoniaError(`ONNX generator: threads must be an integer in 1..256, got ${opts.threads}`);
  const pad = opts.pad ?? 'reflect';
  if (pad !== 'reflect' && pad !== 'replicate') throw new HarmoniaError(`ONNX generator: pad must be reflect or replicate, got "${String(pad)}"`);
  const options: Record<string, unknown> = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  };

  let runPadded: (x: Float32Array, H: number, W: number) => Promise<Float32Array>;
  let runPaddedSync: ((x: Float32Array, H: number, W: number) => Float32Array) | undefined;
  let dispose: () => void;
  const native = opts.asyncOnly ? null : nativeBinding();
  const take = (out: Record<string, OrtTensor>): Float32Array => {
    const y = out[ONNX_OUTPUT];
    if (!y || !(y.data instanceof Float32Array)) throw new HarmoniaError(`ONNX generator: the session returned no float32 "${ONNX_OUTPUT}"`);
    return y.data;
  };
  if (native) {
    native.initOrt();
    const session = new native.binding.InferenceSession();
    try {
      session.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, options);
    } catch (err) {
      throw new HarmoniaError(`ONNX Runtime could not load the model: ${(err as Error).message}`, { file: source, cause: err });
    }
    let disposed = false;
    runPaddedSync = (x, H, W) => {
      if (disposed) throw new HarmoniaError('ONNX generator: used after dispose()');
      return take(session.run({ [ONNX_INPUT]: new ort.Tensor('float32', x, [1, H, W, inputChannels]) }, { [ONNX_OUTPUT]: null }, {}));
    };
    const sync = runPaddedSync;
    runPadded = (x, H, W) => new Promise((res, rej) => setImmediate(() => { try { res(sync(x, H, W)); } catch (e) { rej(e); } }));
    dispose = () => {
      if (!disposed) session.dispose();
      disposed = true;
    };
  } else {
    let session: OrtSession;
    try {
      session = await ort.InferenceSession.create(bytes, options);
    } catch (err) {
      throw new HarmoniaError(`ONNX Runtime could not load the model: ${(err as Error).message}`, { file: source, cause: err });
    }
    runPadded = async (x, H, W) => take(await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', x, [1, H, W, inputChannels]) }));
    dispose = () => void session.release();
  }

  const prepare = (input: Float32Array, mask: Float32Array | undefined, h: number, w: number) => {
    checkArgs(input, mask, h, w, inputChannels);
    return padGeneratorInput(input, mask, h, w, inputChannels, pad);
  };
  const finish = (y: Float32Array, p: { height: number; width: number; top: number; left: number }, h: number, w: number): Float32Array =>
    p.height === h && p.width === w ? y : cropRgb(y, p.width, p.top, p.left, h, w);

  return {
    config,
    inputChannels,
    threads,
    source,
    syncAvailable: runPaddedSync !== undefined,
    async run(input, mask, h, w) {
      const p = prepare(input, mask, h, w);
      return finish(await runPadded(p.data, p.height, p.width), p, h, w);
    },
    runSync(input, mask, h, w) {
      if (!runPaddedSync) throw new HarmoniaError('ONNX generator: synchronous runs need onnxruntime-node’s native binding (1.30 layout); use run()');
      const p = prepare(input, mask, h, w);
      return finish(runPaddedSync(p.data, p.height, p.width), p, h, w);
    },
    dispose,
  };
}

/**
 * Loads the ONNX generator of a model folder: its cached model.onnx when fresh, otherwise exported
 * from the tfjs model (and cached). Pass `model` when the folder is already loaded.
 */
export async function loadOnnxGenerator(modelDir: string, opts: OnnxGeneratorOptions & { model?: HarmonizationModel } = {}): Promise<OnnxGenerator & { artifact: OnnxArtifact }> {
  if (!(await onnxAvailable())) throw new HarmoniaError(`ONNX Runtime is not available (install the optional dependency ${ORT_PACKAGE}, or set HARMONIA_INFERENCE=tfjs)`);
  const artifact = await ensureOnnxModel(modelDir, { model: opts.model });
  const g = await createOnnxGenerator(artifact.bytes, opts, artifact.path ?? `${modelDir} (in memory)`);
  return Object.assign(g, { artifact });
}

/** The pipeline hook (HarmonizationModel.runner): G(x) as a FloatImage, synchronously. */
export function onnxRunner(g: OnnxGenerator): (x: FloatImage, mask: Mask) => FloatImage {
  if (!g.syncAvailable) throw new HarmoniaError('ONNX generator: the pipeline hook needs synchronous runs (native binding unavailable)');
  return (x, mask) => {
    if (x.channels !== 3) throw new HarmoniaError(`ONNX generator: expected an RGB image, got ${x.channels} channels`);
    if (mask.width !== x.width || mask.height !== x.height) throw new HarmoniaError(`ONNX generator: mask is ${mask.width}×${mask.height} but the image is ${x.width}×${x.height}`);
    return { width: x.width, height: x.height, channels: 3, data: g.runSync(x.data, mask.data, x.height, x.width) };
  };
}

export type InferenceMode = 'auto' | 'onnx' | 'tfjs';

/** The inference engine requested by HARMONIA_INFERENCE: 'tfjs', 'onnx', or 'auto' (default: ONNX Runtime when installed). */
export function inferenceMode(env: string | undefined = process.env.HARMONIA_INFERENCE): InferenceMode {
  const v = (env ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'onnx' || v === 'tfjs') return v;
  throw new HarmoniaError(`HARMONIA_INFERENCE must be auto, onnx or tfjs, got "${env}"`);
}

/** Intra-op threads from HARMONIA_ORT_THREADS (a positive integer), or undefined for the default (available parallelism). */
export function ortThreads(env: string | undefined = process.env.HARMONIA_ORT_THREADS): number | undefined {
  if (env === undefined || env.trim() === '') return undefined;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new HarmoniaError(`HARMONIA_ORT_THREADS must be an integer in 1..256, got "${env}"`);
  return n;
}

const runners = new Map<string, Promise<OnnxGenerator | null>>();

/**
 * Adds the ONNX Runtime runner to a model loaded from folder `dir` (the pipeline hook), once per
 * folder and process (threads: HARMONIA_ORT_THREADS, default available parallelism). mode 'tfjs' returns the model unchanged; 'auto' also does when ONNX Runtime
 * is missing or cannot run this model (HARMONIA_DEBUG prints why); 'onnx' throws instead.
 */
export async function withOnnxRunner(dir: string, model: HarmonizationModel, mode: InferenceMode = inferenceMode()): Promise<HarmonizationModel> {
  if (mode === 'tfjs' || model.runner) return model;
  // generators the ONNX exporter does not handle (registry) run on TensorFlow.js without trying
  if (!generatorEntry(model.config.kind ?? 'paper').onnx) {
    if (mode === 'onnx') throw new HarmoniaError(`generator "${model.config.kind}" has no ONNX export; run it with TensorFlow.js`);
    return model;
  }
  const threads = ortThreads();
  let p = runners.get(dir);
  if (!p) {
    p = (async () => {
      try {
        const g = await loadOnnxGenerator(dir, { model, threads });
        if (!g.syncAvailable) {
          g.dispose();
          throw new HarmoniaError('ONNX Runtime is installed but its synchronous native session is not available in this version');
        }
        return g;
      } catch (err) {
        if (mode === 'onnx') throw err;
        if (process.env.HARMONIA_DEBUG) console.error(`harmonia: ONNX Runtime not used for ${dir} (${(err as Error).message}); using TensorFlow.js`);
        return null;
      }
    })();
    runners.set(dir, p);
    p.catch(() => runners.delete(dir));
  }
  const g = await p;
  if (process.env.HARMONIA_DEBUG && g) console.error(`harmonia: generator on ONNX Runtime (${g.threads} threads, ${g.source})`);
  return g ? { ...model, runner: onnxRunner(g) } : model;
}
