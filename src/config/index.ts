/**
 * Harmonia's run-time configuration, in the spirit of transformers.js's `env`: the one module that
 * reads `process.env`, once, at load (a snapshot; nothing here or elsewhere writes `process.env`).
 * Each variable is a typed, documented property of `env`, parsed when first read (a bad value throws
 * a HarmoniaError naming the variable where it is used, as before) and assignable in code
 * (`env.inference = 'tfjs'`), which is how the CLI, the batch worker and the tests change a setting.
 * ENV_VARIABLES documents every variable (docs/CONFIGURATION.md lists them, test/config checks it).
 *
 * Also the lists several layers share: the pipeline's stages, the TensorFlow.js backends and the
 * inference engines. Browser-safe: where there is no `process`, every variable is unset.
 */
import { HarmoniaError } from '../errors.ts';

/** The pipeline's stages: the intrinsic stage alone, the GAN alone, or both (src/pipeline/stages.ts). */
export const STAGES = ['intrinsic', 'gan', 'full'] as const;
export type Stage = (typeof STAGES)[number];

/** TensorFlow.js backends initEngine can start (src/engine/index.ts), in 'auto''s order of preference. */
export const BACKENDS = ['tensorflow', 'native', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
/** A backend request: one of BACKENDS, or 'auto'. */
export const BACKEND_REQUESTS = ['auto', ...BACKENDS] as const;
export type BackendRequest = (typeof BACKEND_REQUESTS)[number];

/** What runs the generator at inference: 'auto' (ONNX Runtime when installed and the model has a fresh model.onnx), 'onnx' or 'tfjs'. */
export const INFERENCE_ENGINES = ['auto', 'onnx', 'tfjs'] as const;
export type InferenceMode = (typeof INFERENCE_ENGINES)[number];

/** "a, b or c" */
export function listWords(words: readonly string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

/** True when `v` is one of `list` (a type guard for the shared lists). */
export function isOneOf<T extends string>(list: readonly T[], v: unknown): v is T {
  return typeof v === 'string' && (list as readonly string[]).includes(v);
}

/** The typed settings; each property is one environment variable (ENV_VARIABLES says which). */
export interface HarmoniaEnv {
  /** HARMONIA_BACKEND: the TensorFlow.js backend `initEngine()` uses when asked for 'auto'; undefined = choose. */
  backend: BackendRequest | undefined;
  /** HARMONIA_INFERENCE: what runs the generator at inference. */
  inference: InferenceMode;
  /** HARMONIA_ORT_THREADS: ONNX Runtime intra-op threads; undefined = available parallelism. */
  ortThreads: number | undefined;
  /** HARMONIA_NATIVE_THREADS: threads of the native (oneDNN) kernels; undefined = one per core on the main thread, 1 in workers. */
  nativeThreads: number | undefined;
  /** HARMONIA_NATIVE_ADDON: path of the native addon (.node); undefined = native/build/harmonia_native.node. */
  nativeAddon: string | undefined;
  /** HARMONIA_NATIVE_POOL_MB: megabytes of output buffers the native backend recycles. */
  nativePoolMb: number;
  /** HARMONIA_NATIVE_MALLOC: 'default' leaves glibc's allocator alone; 'tuned' (default) keeps tensor buffers on the heap. */
  nativeMalloc: 'tuned' | 'default';
  /** OMP_WAIT_POLICY and GOMP_SPINCOUNT as set by the user (the native addon sets a short spin when both are unset). */
  ompWaitPolicy: string | undefined;
  gompSpinCount: string | undefined;
  /** VIPS_CONCURRENCY as set by the user (libvips threads per image operation). */
  vipsConcurrency: string | undefined;
  /** HARMONIA_DEBUG: stack traces for internal errors and notes on which engine runs. */
  debug: boolean;
  /** HARMONIA_QUIET: no notes or progress bars (what --quiet sets for its command). */
  quiet: boolean;
  /** HARMONIA_DIST: '1' makes bin/harmonia.mjs run the built dist/ even in a checkout with src/ (it asks dist/config for this). */
  dist: boolean;
  /** HARMONIA_WEIGHTS: the pretrained-weights folder; undefined = ~/.cache/harmonia/weights. */
  weights: string | undefined;
  /** HARMONIA_VGG19: path of torchvision's vgg19-dcbb9e9d.pth; undefined = the weights folder's. */
  vgg19: string | undefined;
}

/** One environment variable: its name, the `env` property it sets, and what it means. */
export interface EnvVariable {
  name: string;
  key: keyof HarmoniaEnv;
  /** The accepted values, in words. */
  values: string;
  description: string;
}

const parsers: { [K in keyof HarmoniaEnv]: (raw: string | undefined, name: string) => HarmoniaEnv[K] } = {
  backend: (v, name) => {
    if (!v) return undefined;
    if (!isOneOf(BACKEND_REQUESTS, v)) throw new HarmoniaError(`${name}: backend must be ${listWords(BACKEND_REQUESTS)}, got "${v}"`);
    return v;
  },
  inference: (v, name) => parseInference(v, name),
  ortThreads: (v, name) => {
    if (v === undefined || v.trim() === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 256) throw new HarmoniaError(`${name} must be an integer in 1..256, got "${v}"`);
    return n;
  },
  // a bad value falls back to the default, as the native addon always did
  nativeThreads: (v) => {
    const n = v ? Number(v) : NaN;
    return Number.isInteger(n) && n >= 1 ? n : undefined;
  },
  nativeAddon: (v) => v,
  nativePoolMb: (v) => {
    const mb = Number(v ?? 256);
    return Number.isFinite(mb) && mb >= 0 ? mb : 256;
  },
  nativeMalloc: (v) => (v === 'default' ? 'default' : 'tuned'),
  ompWaitPolicy: (v) => v,
  gompSpinCount: (v) => v,
  vipsConcurrency: (v) => v,
  debug: (v) => Boolean(v),
  quiet: (v) => Boolean(v),
  dist: (v) => v === '1',
  weights: (v) => v || undefined,
  vgg19: (v) => v || undefined,
};

/** Parses an inference-engine name ('' = auto); throws a HarmoniaError naming `name`. */
export function parseInference(v: string | undefined, name = 'HARMONIA_INFERENCE'): InferenceMode {
  const s = (v ?? '').trim().toLowerCase();
  if (s === '') return 'auto';
  if (!isOneOf(INFERENCE_ENGINES, s)) throw new HarmoniaError(`${name} must be ${listWords(INFERENCE_ENGINES)}, got "${v}"`);
  return s;
}

/** Every environment variable Harmonia reads at run time. */
export const ENV_VARIABLES: readonly EnvVariable[] = [
  { name: 'HARMONIA_BACKEND', key: 'backend', values: listWords(BACKEND_REQUESTS), description: 'the TensorFlow.js backend for training and TF.js inference (default: auto, the first of tensorflow, native, wasm, cpu that starts); set, it also keeps `harmonize` on the TF.js path' },
  { name: 'HARMONIA_INFERENCE', key: 'inference', values: listWords(INFERENCE_ENGINES), description: 'what runs the generator at inference (default auto: ONNX Runtime when installed and model.onnx is fresh, else TensorFlow.js)' },
  { name: 'HARMONIA_ORT_THREADS', key: 'ortThreads', values: 'an integer in 1..256', description: 'ONNX Runtime intra-op threads (default: available parallelism; 1 in service pool threads and the batch worker)' },
  { name: 'HARMONIA_NATIVE_THREADS', key: 'nativeThreads', values: 'a positive integer', description: 'threads of the native oneDNN kernels (default: one per core on the main thread, 1 in worker threads and the batch worker)' },
  { name: 'HARMONIA_NATIVE_ADDON', key: 'nativeAddon', values: 'a path', description: 'the native addon to load (default native/build/harmonia_native.node)' },
  { name: 'HARMONIA_NATIVE_POOL_MB', key: 'nativePoolMb', values: 'megabytes ≥ 0', description: 'output buffers the native backend keeps for reuse (default 256)' },
  { name: 'HARMONIA_NATIVE_MALLOC', key: 'nativeMalloc', values: 'default', description: '"default" leaves glibc\'s allocator settings alone (otherwise tensor buffers stay on the heap)' },
  { name: 'OMP_WAIT_POLICY', key: 'ompWaitPolicy', values: 'OpenMP\'s', description: 'read by libgomp; when neither it nor GOMP_SPINCOUNT is set, the native addon passes a short spin (10k) to libgomp' },
  { name: 'GOMP_SPINCOUNT', key: 'gompSpinCount', values: 'libgomp\'s', description: 'read by libgomp (see OMP_WAIT_POLICY)' },
  { name: 'VIPS_CONCURRENCY', key: 'vipsConcurrency', values: 'libvips\'s', description: 'libvips threads per image operation; unset, `harmonia worker` uses 1' },
  { name: 'HARMONIA_DEBUG', key: 'debug', values: 'any non-empty value', description: 'stack traces for internal errors; notes on the backend and the inference engine chosen' },
  { name: 'HARMONIA_QUIET', key: 'quiet', values: 'any non-empty value', description: 'no notes or progress bars (what --quiet does for one command)' },
  { name: 'HARMONIA_DIST', key: 'dist', values: '1', description: 'run the built dist/ even in a checkout with src/ (bin/harmonia.mjs reads it through dist/config, before any source loads)' },
  { name: 'HARMONIA_WEIGHTS', key: 'weights', values: 'a folder', description: 'where pretrained weights are found and downloaded to (default ~/.cache/harmonia/weights; `harmonia weights`)' },
  { name: 'HARMONIA_VGG19', key: 'vgg19', values: 'a file', description: 'torchvision\'s vgg19-dcbb9e9d.pth for the feature loss setting (default: the weights folder\'s)' },
];

/**
 * The variables of the process, read once here. Only ENV_VARIABLES' names are kept, so nothing else
 * of the environment is held.
 */
const SNAPSHOT: Readonly<Record<string, string | undefined>> = (() => {
  const source = typeof process !== 'undefined' && process.env ? process.env : {};
  const out: Record<string, string | undefined> = {};
  for (const v of ENV_VARIABLES) out[v.name] = source[v.name];
  return Object.freeze(out);
})();

function makeEnv(): HarmoniaEnv {
  const values = new Map<keyof HarmoniaEnv, unknown>();
  const target = {} as HarmoniaEnv;
  for (const v of ENV_VARIABLES) {
    Object.defineProperty(target, v.key, {
      enumerable: true,
      get() {
        if (!values.has(v.key)) values.set(v.key, parsers[v.key](SNAPSHOT[v.name], v.name));
        return values.get(v.key);
      },
      set(x: unknown) {
        values.set(v.key, x);
      },
    });
  }
  return target;
}

/** The settings (see HarmoniaEnv); assign to change one for this process (worker threads read their own environment). */
export const env: HarmoniaEnv = makeEnv();

/** The value the environment gave a variable (before any assignment in code), as text: for messages. */
export function environmentValue(name: string): string | undefined {
  return SNAPSHOT[name];
}

/**
 * Sets an OpenMP variable for libgomp, which reads its environment from the C library when the native
 * addon loads it (so only the process environment can carry it): the one write to `process.env`, kept
 * here with the reads. Only OMP_WAIT_POLICY and GOMP_SPINCOUNT, and never over a value the user set.
 */
export function passToLibgomp(name: 'GOMP_SPINCOUNT' | 'OMP_WAIT_POLICY', value: string): void {
  if (typeof process === 'undefined' || !process.env || process.env[name] !== undefined) return;
  process.env[name] = value;
}
