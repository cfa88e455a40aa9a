/**
 * Fast CPU inference with ONNX Runtime (onnxruntime-node, an optional dependency), from a model
 * folder's model.onnx (written when the folder is saved; src/models/folder-onnx.ts). Node only; the web app
 * uses onnxruntime-web (web/src/worker.ts).
 *  - paper-style generators: G itself. Same contract as runGenerator: any H×W, reflect padding to a
 *    multiple of 8 (replicate when a side is too small), the mask appended as a 4th channel when the
 *    model takes one, output cropped back to H×W×3.
 *  - colour-transform generators (global, pct): the parameter network, analysis copy → θ (+ field);
 *    the transform is applied in JavaScript (applyColorTransformArrays).
 * The model.onnx is used only while its recorded SHA-256 matches model.json + weights.bin; loading
 * never exports (a missing or stale file is reported with the command that re-exports it).
 *
 * Sessions are created through onnxruntime-node's native binding when its shape is the one this
 * file was written against (1.30: `dist/binding`, a synchronous `run`), which gives `runSync` —
 * the pipeline's generator hook is synchronous. Otherwise the public async API is used and
 * `runSync` is unavailable (`syncAvailable` false); callers then keep TensorFlow.js.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { HarmoniaError } from '../errors.ts';
import type { FloatImage, Mask } from '../image/types.ts';
// no module here imports TensorFlow.js (the ONNX Runtime path of `harmonia harmonize` runs without it;
// the generator registry's descriptions do not either)
import { readOnnxModel, type OnnxFileState } from '../onnx/file.ts';
import { readOnnxSummary } from '../onnx/proto.ts';
import { META_CONFIG, META_GRAPH, ONNX_INPUT, ONNX_OUTPUT, COLOR_TRANSFORM_GRAPH, ONNX_FIELD, ONNX_THETA } from '../onnx/meta.ts';
import type { GeneratorConfig, PadMode } from './generator.ts';
import { padGeneratorInput, cropRgb } from './pad.ts';
import { TRANSFORM_PARAMS, type ColorTransformParams } from './color-transform-apply.ts';
import type { HarmonizationModel } from './harmonization.ts';
import { readModelMeta, checkModelFiles, generatorConfigDifference, checkFiniteOutput, smokeInput, ModelCheckError, MODEL_META } from './folder-meta.ts';
import { env, parseInference, type InferenceMode } from '../config/index.ts';
import { analysisSizeOf, generatorEntryOf, type InferenceFamily } from './registry.ts';

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

export { padIndexMap, padAmounts, padGeneratorInput, cropRgb } from './pad.ts';

function checkArgs(input: Float32Array, mask: Float32Array | undefined, h: number, w: number, channels: number): void {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) throw new HarmoniaError(`ONNX generator: height and width must be positive integers, got ${h}×${w}`);
  if (!(input instanceof Float32Array) || input.length !== h * w * 3) throw new HarmoniaError(`ONNX generator: input must be a Float32Array of ${h}×${w}×3 = ${h * w * 3} values, got ${input?.length}`);
  if (channels === 4 && !mask) throw new HarmoniaError('ONNX generator: this model needs a mask (it takes RGB + mask)');
  if (mask && (!(mask instanceof Float32Array) || mask.length !== h * w)) throw new HarmoniaError(`ONNX generator: mask must be a Float32Array of ${h}×${w} = ${h * w} values, got ${mask.length}`);
}

/** The config recorded in an export's metadata, and what its graph computes. */
function readExportMeta(bytes: Uint8Array, source: string): { config: GeneratorConfig; graph: string } {
  const summary = readOnnxSummary(bytes);
  const cfgText = summary.metadata[META_CONFIG];
  if (cfgText === undefined) throw new HarmoniaError(`not a Harmonia generator export (metadata ${META_CONFIG} missing)`, { file: source });
  try {
    return { config: JSON.parse(cfgText) as GeneratorConfig, graph: summary.metadata[META_GRAPH] ?? 'generator' };
  } catch (err) {
    throw new HarmoniaError(`generator config in the ONNX metadata is not valid JSON (${(err as Error).message})`, { file: source, cause: err });
  }
}

interface Session {
  ort: OrtModule;
  threads: number;
  /** Synchronous run (native binding), when available. */
  runSync?: (feeds: Record<string, OrtTensor>, outputs: string[]) => Record<string, OrtTensor>;
  run: (feeds: Record<string, OrtTensor>, outputs: string[]) => Promise<Record<string, OrtTensor>>;
  dispose: () => void;
}

/** An ONNX Runtime session on the CPU provider: the native synchronous one when possible, else the public async API. */
async function openSession(bytes: Uint8Array, opts: OnnxGeneratorOptions, source: string): Promise<Session> {
  const ort = await loadOrt();
  if (!ort) throw new HarmoniaError(`ONNX Runtime is not available (install the optional dependency ${ORT_PACKAGE}, or set HARMONIA_INFERENCE=tfjs)`);
  const threads = opts.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new HarmoniaError(`ONNX generator: threads must be an integer in 1..256, got ${opts.threads}`);
  const options: Record<string, unknown> = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  };
  const native = opts.asyncOnly ? null : nativeBinding();
  if (native) {
    native.initOrt();
    const session = new native.binding.InferenceSession();
    try {
      session.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, options);
    } catch (err) {
      throw new HarmoniaError(`ONNX Runtime could not load the model: ${(err as Error).message}`, { file: source, cause: err });
    }
    let disposed = false;
    const runSync = (feeds: Record<string, OrtTensor>, outputs: string[]) => {
      if (disposed) throw new HarmoniaError('ONNX generator: used after dispose()');
      return session.run(feeds, Object.fromEntries(outputs.map((o) => [o, null])), {});
    };
    return {
      ort,
      threads,
      runSync,
      run: (feeds, outputs) => new Promise((res, rej) => setImmediate(() => { try { res(runSync(feeds, outputs)); } catch (e) { rej(e); } })),
      dispose: () => {
        if (!disposed) session.dispose();
        disposed = true;
      },
    };
  }
  let session: OrtSession;
  try {
    session = await ort.InferenceSession.create(bytes, options);
  } catch (err) {
    throw new HarmoniaError(`ONNX Runtime could not load the model: ${(err as Error).message}`, { file: source, cause: err });
  }
  return { ort, threads, run: (feeds) => session.run(feeds), dispose: () => void session.release() };
}

function float32Output(out: Record<string, OrtTensor>, name: string): OrtTensor & { data: Float32Array } {
  const y = out[name];
  if (!y || !(y.data instanceof Float32Array)) throw new HarmoniaError(`ONNX Runtime: the session returned no float32 "${name}"`);
  return y as OrtTensor & { data: Float32Array };
}

/**
 * Creates a generator runner from ONNX bytes made by exportGeneratorToOnnx (the config is read from
 * their metadata). Throws HarmoniaError when onnxruntime-node is not installed.
 */
export async function createOnnxGenerator(bytes: Uint8Array, opts: OnnxGeneratorOptions = {}, source = 'memory'): Promise<OnnxGenerator> {
  if (!(await loadOrt())) throw new HarmoniaError(`ONNX Runtime is not available (install the optional dependency ${ORT_PACKAGE}, or set HARMONIA_INFERENCE=tfjs)`);
  const { config, graph } = readExportMeta(bytes, source);
  if (graph !== 'generator') throw new HarmoniaError(`this ONNX file computes "${graph}", not a generator G(x) (use createOnnxColorTransform)`, { file: source });
  const entry = generatorEntryOf(config);
  const inputChannels = entry.inputChannels(config);
  const pad = opts.pad ?? 'reflect';
  if (pad !== 'reflect' && pad !== 'replicate') throw new HarmoniaError(`ONNX generator: pad must be reflect or replicate, got "${String(pad)}"`);
  const session = await openSession(bytes, opts, source);
  const feeds = (x: Float32Array, H: number, W: number) => ({ [ONNX_INPUT]: new session.ort.Tensor('float32', x, [1, H, W, inputChannels]) });
  const runPadded = async (x: Float32Array, H: number, W: number) => float32Output(await session.run(feeds(x, H, W), [ONNX_OUTPUT]), ONNX_OUTPUT).data;
  const sessionSync = session.runSync;
  const runPaddedSync = sessionSync ? (x: Float32Array, H: number, W: number) => float32Output(sessionSync(feeds(x, H, W), [ONNX_OUTPUT]), ONNX_OUTPUT).data : undefined;

  const prepare = (input: Float32Array, mask: Float32Array | undefined, h: number, w: number) => {
    checkArgs(input, mask, h, w, inputChannels);
    return padGeneratorInput(input, mask, h, w, inputChannels, pad, entry.stride);
  };
  const finish = (y: Float32Array, p: { height: number; width: number; top: number; left: number }, h: number, w: number): Float32Array =>
    p.height === h && p.width === w ? y : cropRgb(y, p.width, p.top, p.left, h, w);

  return {
    config,
    inputChannels,
    threads: session.threads,
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
    dispose: session.dispose,
  };
}

/** The parameter network of a colour-transform generator in ONNX Runtime: analysis copy → θ (+ the pct field). */
export interface OnnxColorTransform {
  readonly config: GeneratorConfig;
  /** Side of the analysis copy the network takes (size×size×4). */
  readonly size: number;
  readonly threads: number;
  readonly source: string;
  readonly syncAvailable: boolean;
  predict(input: Float32Array): Promise<ColorTransformParams>;
  predictSync(input: Float32Array): ColorTransformParams;
  dispose(): void;
}

function toParams(out: Record<string, OrtTensor>): ColorTransformParams {
  const theta = float32Output(out, ONNX_THETA).data;
  if (theta.length !== TRANSFORM_PARAMS) throw new HarmoniaError(`ONNX Runtime: theta has ${theta.length} values, expected ${TRANSFORM_PARAMS}`);
  const f = out[ONNX_FIELD];
  if (!f) return { theta: new Float32Array(theta) };
  const field = float32Output(out, ONNX_FIELD);
  const [, h, w] = field.dims;
  return { theta: new Float32Array(theta), field: { width: w, height: h, data: new Float32Array(field.data) } };
}

/** Creates the parameter-network runner from ONNX bytes made by exportColorTransformToOnnx. */
export async function createOnnxColorTransform(bytes: Uint8Array, opts: Pick<OnnxGeneratorOptions, 'threads' | 'asyncOnly'> = {}, source = 'memory'): Promise<OnnxColorTransform> {
  if (!(await loadOrt())) throw new HarmoniaError(`ONNX Runtime is not available (install the optional dependency ${ORT_PACKAGE}, or set HARMONIA_INFERENCE=tfjs)`);
  const { config, graph } = readExportMeta(bytes, source);
  if (graph !== COLOR_TRANSFORM_GRAPH) throw new HarmoniaError(`this ONNX file computes "${graph}", not colour-transform parameters`, { file: source });
  const size = analysisSizeOf(config);
  const session = await openSession(bytes, opts, source);
  const outputs = generatorEntryOf(config).field ? [ONNX_THETA, ONNX_FIELD] : [ONNX_THETA];
  const feeds = (input: Float32Array) => {
    if (!(input instanceof Float32Array) || input.length !== size * size * 4) throw new HarmoniaError(`ONNX colour transform: input must be a Float32Array of ${size}×${size}×4 = ${size * size * 4} values, got ${input?.length}`);
    return { [ONNX_INPUT]: new session.ort.Tensor('float32', input, [1, size, size, 4]) };
  };
  const sync = session.runSync;
  return {
    config,
    size,
    threads: session.threads,
    source,
    syncAvailable: sync !== undefined,
    async predict(input) {
      return toParams(await session.run(feeds(input), outputs));
    },
    predictSync(input) {
      if (!sync) throw new HarmoniaError('ONNX colour transform: synchronous runs need onnxruntime-node’s native binding (1.30 layout); use predict()');
      return toParams(sync(feeds(input), outputs));
    },
    dispose: session.dispose,
  };
}

/** A folder's model.onnx when it matches the TF.js files; otherwise a HarmoniaError saying why and how to re-export. */
export async function freshOnnxFile(modelDir: string): Promise<OnnxFileState & { status: 'fresh' }> {
  const state = await readOnnxModel(modelDir);
  if (state.status !== 'fresh') throw new HarmoniaError(`ONNX Runtime not used: ${state.reason}`, { file: modelDir });
  return state;
}

/** Loads the ONNX generator of a model folder from its model.onnx (never exports; a missing or stale file throws, naming the re-export command). */
export async function loadOnnxGenerator(modelDir: string, opts: OnnxGeneratorOptions = {}): Promise<OnnxGenerator & { file: OnnxFileState & { status: 'fresh' } }> {
  if (!(await onnxAvailable())) throw new HarmoniaError(`ONNX Runtime is not available (install the optional dependency ${ORT_PACKAGE}, or set HARMONIA_INFERENCE=tfjs)`);
  const file = await freshOnnxFile(modelDir);
  const g = await createOnnxGenerator(file.bytes, opts, file.path);
  return Object.assign(g, { file });
}

/** Loads the parameter network of a colour-transform model folder from its model.onnx (same rules as loadOnnxGenerator). */
export async function loadOnnxColorTransform(modelDir: string, opts: Pick<OnnxGeneratorOptions, 'threads' | 'asyncOnly'> = {}): Promise<OnnxColorTransform & { file: OnnxFileState & { status: 'fresh' } }> {
  if (!(await onnxAvailable())) throw new HarmoniaError(`ONNX Runtime is not available (install the optional dependency ${ORT_PACKAGE}, or set HARMONIA_INFERENCE=tfjs)`);
  const file = await freshOnnxFile(modelDir);
  const c = await createOnnxColorTransform(file.bytes, opts, file.path);
  return Object.assign(c, { file });
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

/** The pipeline hook (HarmonizationModel.transformParams): θ (+ field) of one analysis copy, synchronously. */
export function onnxTransformParams(c: OnnxColorTransform): (input: Float32Array, size: number) => ColorTransformParams {
  if (!c.syncAvailable) throw new HarmoniaError('ONNX colour transform: the pipeline hook needs synchronous runs (native binding unavailable)');
  return (input, size) => {
    if (size !== c.size) throw new HarmoniaError(`ONNX colour transform: the network takes a ${c.size}² analysis copy, got ${size}²`);
    return c.predictSync(input);
  };
}

export type { InferenceMode } from '../config/index.ts';

/** The inference engine: `value` parsed as HARMONIA_INFERENCE would be, or the configured one (env.inference, src/config). */
export function inferenceMode(value?: string): InferenceMode {
  return value === undefined ? env.inference : parseInference(value);
}

/** ONNX Runtime intra-op threads (env.ortThreads: HARMONIA_ORT_THREADS), or undefined for the default (available parallelism). */
export function ortThreads(): number | undefined {
  return env.ortThreads;
}

type Hook = Pick<HarmonizationModel, 'runner' | 'transformParams'> & { threads: number; source: string };
const hooks = new Map<string, Promise<Hook | null>>();
const warned = new Set<string>();
/** onnxHookIfReady's attempts in flight. */
const attempts = new Map<string, Promise<Hook | null>>();

/**
 * Makes the ONNX Runtime hook of model folder `dir` from its model.onnx: `transformParams` for a
 * generator of the 'analysis-apply' family, else `runner`. Throws when ONNX Runtime is missing,
 * model.onnx is not fresh (after `onNotFresh`), or no synchronous session is available.
 */
async function createHook(dir: string, family: InferenceFamily, threads: number | undefined, onNotFresh?: (file: Exclude<OnnxFileState, { status: 'fresh' }>) => void): Promise<Hook> {
  if (!(await onnxAvailable())) throw new HarmoniaError(`ONNX Runtime is not available (install the optional dependency ${ORT_PACKAGE})`);
  const file = await readOnnxModel(dir);
  if (file.status !== 'fresh') {
    onNotFresh?.(file);
    throw new HarmoniaError(`ONNX Runtime not used: ${file.reason}`, { file: dir });
  }
  // checked before use, without TensorFlow.js: the weights model.onnx was exported from (tied by their
  // SHA-256) are complete and finite, its generator is the one harmonia.json describes, and a smoke run
  // gives finite outputs (ModelCheckError otherwise)
  const meta = await readModelMeta(dir);
  await checkModelFiles(dir);
  const exported = readExportMeta(file.bytes, file.path).config;
  const diff = generatorConfigDifference(exported, meta.generator);
  if (diff) throw new ModelCheckError(dir, `model.onnx holds another generator than ${MODEL_META} describes (${diff}): model.json and ${MODEL_META} come from different models`);
  if (family === 'analysis-apply') {
    const c = await createOnnxColorTransform(file.bytes, { threads }, file.path);
    if (!c.syncAvailable) {
      c.dispose();
      throw new HarmoniaError('ONNX Runtime is installed but its synchronous native session is not available in this version');
    }
    try {
      const p = c.predictSync(smokeInput(c.size, 4));
      checkFiniteOutput(dir, p.theta, `the colour-transform parameters for a ${c.size}×${c.size} test input`);
      if (p.field) checkFiniteOutput(dir, p.field.data, `the colour-transform field for a ${c.size}×${c.size} test input`);
    } catch (err) {
      c.dispose();
      throw err;
    }
    return { transformParams: onnxTransformParams(c), threads: c.threads, source: c.source };
  }
  const g = await createOnnxGenerator(file.bytes, { threads }, file.path);
  if (!g.syncAvailable) {
    g.dispose();
    throw new HarmoniaError('ONNX Runtime is installed but its synchronous native session is not available in this version');
  }
  try {
    const S = 16;
    const x = smokeInput(S, 4);
    const rgb = new Float32Array(S * S * 3);
    const mask = new Float32Array(S * S);
    for (let p = 0; p < S * S; p++) {
      rgb.set(x.subarray(p * 4, p * 4 + 3), p * 3);
      mask[p] = x[p * 4 + 3];
    }
    checkFiniteOutput(dir, g.runSync(rgb, mask, S, S), `the generator's output on a ${S}×${S} test input`);
  } catch (err) {
    g.dispose();
    throw err;
  }
  return { runner: onnxRunner(g), threads: g.threads, source: g.source };
}

/**
 * Adds the ONNX Runtime hook to a model loaded from folder `dir` — `runner` (G) for paper-style
 * generators, `transformParams` (θ) for colour-transform generators — once per folder and process
 * (threads: HARMONIA_ORT_THREADS, default available parallelism), from the folder's model.onnx.
 * mode 'tfjs' returns the model unchanged; 'auto' also does when ONNX Runtime is missing, the
 * generator has no export, or model.onnx is missing or stale (a stale or unreadable file is reported
 * once on stderr with the re-export command; other reasons with HARMONIA_DEBUG); 'onnx' throws instead.
 */
export async function withOnnxRunner(dir: string, model: HarmonizationModel, mode: InferenceMode = inferenceMode()): Promise<HarmonizationModel> {
  if (mode === 'tfjs' || model.runner || model.transformParams) return model;
  const entry = generatorEntryOf(model.config);
  if (!entry.onnx) {
    if (mode === 'onnx') throw new HarmoniaError(`generator "${entry.name}" has no ONNX export; run it with TensorFlow.js`);
    return model;
  }
  const threads = ortThreads();
  let p = hooks.get(dir);
  if (!p) {
    p = (async (): Promise<Hook | null> => {
      try {
        return await createHook(dir, entry.family, threads, (file) => {
          if (file.status !== 'missing' && mode === 'auto' && !warned.has(dir)) {
            warned.add(dir);
            console.error(`harmonia: ${file.reason}; the generator runs on TensorFlow.js meanwhile`);
          }
        });
      } catch (err) {
        // a model that fails its checks is not used on any engine
        if (mode === 'onnx' || err instanceof ModelCheckError) throw err;
        if (env.debug) console.error(`harmonia: ONNX Runtime not used for ${dir} (${(err as Error).message}); using TensorFlow.js`);
        return null;
      }
    })();
    hooks.set(dir, p);
    p.catch(() => hooks.delete(dir));
  }
  const h = await p;
  if (env.debug && h) console.error(`harmonia: generator on ONNX Runtime (${h.threads} threads, ${h.source})`);
  if (!h) return model;
  return h.runner ? { ...model, runner: h.runner } : { ...model, transformParams: h.transformParams };
}

/**
 * The ONNX Runtime hook of folder `dir` when it works right now, without TensorFlow.js: the one
 * withOnnxRunner made (or this made) earlier, or a new one, kept for both. `family` is the
 * generator's registry family (the caller knows its kind). null when there is none — ONNX Runtime
 * missing, model.onnx missing or stale, no synchronous session, an earlier withOnnxRunner found none —
 * with nothing printed or remembered, so the caller's TensorFlow.js path (withOnnxRunner) reports why
 * exactly as before. The mode (HARMONIA_INFERENCE) is the caller's to check. Threads: HARMONIA_ORT_THREADS.
 */
export async function onnxHookIfReady(dir: string, family: InferenceFamily): Promise<Pick<HarmonizationModel, 'runner' | 'transformParams'> | null> {
  const known = hooks.get(dir);
  let h: Hook | null;
  if (known) h = await known.catch(() => null);
  else {
    // concurrent callers share one attempt; only a hook is kept for withOnnxRunner, never a failure
    let p = attempts.get(dir);
    if (!p) {
      p = createHook(dir, family, ortThreads()).catch(() => null);
      attempts.set(dir, p);
      void p.then((made) => {
        attempts.delete(dir);
        if (made && !hooks.has(dir)) hooks.set(dir, Promise.resolve(made));
      });
    }
    h = await p;
  }
  if (h && env.debug) console.error(`harmonia: generator on ONNX Runtime (${h.threads} threads, ${h.source})`);
  return h;
}
