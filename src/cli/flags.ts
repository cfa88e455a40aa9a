/**
 * Numeric CLI options: every one has a documented range, checked before any work, with an error
 * that names the flag as the user typed it and the range: `--scale must be in (0, 16], got "200"` (src/util/is.ts).
 * The ranges live here (FLAG_RANGES) so help texts, docs/RELIABILITY.md and the tests agree.
 */
import { HarmoniaError } from '../errors.ts';
import { describeRange, inRange, invalidParameter } from '../util/is.ts';

export interface FlagRange {
  min: number;
  max: number;
  /** (min, …: min itself excluded. */
  minExclusive?: boolean;
  /** …, max): max itself excluded. */
  maxExclusive?: boolean;
  integer?: boolean;
  /** Why the bound exists, appended to the error ("memory", "the SSIM window is 11 px"). */
  why?: string;
}

/** The documented ranges of the size-like and other numeric options, per command. */
export const FLAG_RANGES = {
  harmonize: {
    scale: { min: 0, max: 16, minExclusive: true, why: 'and the scaled cut-out must stay within the 100 MP input pixel limit' },
    'max-side': { min: 16, max: 4096, integer: true, why: 'G runs at this long side; larger needs more memory than the budget' },
    quality: { min: 1, max: 100, integer: true },
  },
  intrinsic: {
    'max-side': { min: 16, max: 1024, integer: true, why: 'the Intrinsic Compositing spec analyses at most 1024 px' },
    limit: { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true },
    size: { min: 8, max: 4096, integer: true, why: 'the training size composites are resized to' },
  },
  evaluate: {
    size: { min: 11, max: 2048, integer: true, why: 'the SSIM window is 11 px; the protocol uses 256' },
  },
  'make-composites': {
    variants: { min: 1, max: 1000, integer: true },
    seed: { min: 0, max: 4_294_967_295, integer: true },
    'min-fmse': { min: 0, max: 65025 },
    'max-fmse': { min: 0, max: 65025 },
    limit: { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true },
    'sheet-rows': { min: 1, max: 200, integer: true, why: 'the contact sheet is one image' },
  },
  'make-procedural': {
    count: { min: 1, max: 100_000, integer: true },
    seed: { min: 0, max: 4_294_967_295, integer: true },
    size: { min: 16, max: 4096, integer: true, why: 'side of the rendered images (memory)' },
    'test-fraction': { min: 0, max: 1 },
  },
  'train-light': {
    count: { min: 20, max: 100_000, integer: true },
    seed0: { min: 0, max: 4_294_967_295, integer: true },
    epochs: { min: 1, max: 100_000, integer: true },
    'render-sizes': { min: 128, max: 1024, integer: true, why: 'each at least the light net\'s 128-px input (memory)' },
    hidden: { min: 1, max: 4096, integer: true },
  },
  demo: {
    count: { min: 1, max: 1000, integer: true },
    size: { min: 16, max: 2048, integer: true, why: 'side of the procedural composites (memory)' },
    seed: { min: 1, max: 4_294_967_295, integer: true },
  },
  /** train, experiment and sweep (the shared training flags); loss weights: TRAIN_LOSS_WEIGHT_RANGE. */
  train: {
    epochs: { min: 1, max: 100_000, integer: true },
    batch: { min: 1, max: 256, integer: true, why: 'and --batch × --crop² at most 16,777,216 pixels a step (memory)' },
    crop: { min: 8, max: 1024, integer: true, why: 'a multiple of the generator\'s stride' },
    size: { min: 8, max: 1024, integer: true, why: 'side of the on-the-fly samples' },
    lr: { min: 0, max: 1, minExclusive: true },
    beta1: { min: 0, max: 1, maxExclusive: true },
    seed: { min: 0, max: 4_294_967_295, integer: true },
    workers: { min: 1, max: 2, integer: true, why: 'data-parallel workers' },
    'checkpoint-every': { min: 1, max: 1_000_000_000, integer: true },
    'max-steps': { min: 1, max: 1_000_000_000, integer: true },
    'batches-per-epoch': { min: 1, max: 10_000_000, integer: true },
    illumination: { min: 0, max: 1, why: 'a probability' },
    procedural: { min: 0, max: 1, why: 'a share of the samples' },
    identity: { min: 0, max: 1, why: 'a share of the samples' },
    mild: { min: 0, max: 1, why: 'a share of the samples' },
    'analysis-size': { min: 32, max: 256, integer: true, why: 'a multiple of 16: side of the colour-transform generator\'s analysis copy' },
    width: { min: 1, max: 256, integer: true, why: 'channels of the first generator layer' },
    hidden: { min: 1, max: 4096, integer: true, why: 'width of the colour-transform generator\'s MLP' },
    'mlp-layers': { min: 1, max: 4, integer: true, why: 'hidden layers of the colour-transform generator\'s MLP' },
    histogram: { min: 0, max: 64, integer: true, why: 'bins per channel (0 = off)' },
    'log-ratio-floor': { min: 0, max: 10000, minExclusive: true, why: 'fMSE on the 0–255 scale' },
  },
  /**
   * The service commands. Memory: each `serve` thread holds its own engine and models and works on one
   * image at a time (or up to --pipeline small ones, together at most 4 MP), and every accepted request (running or queued) holds its body: at the maxima, 32 threads
   * + 256 queued bodies of 64 MB stay within the 24 GB machine for inputs of the usual size.
   */
  serve: {
    port: { min: 0, max: 65535, integer: true },
    threads: { min: 1, max: 32, integer: true, why: 'each thread holds its own engine and models (memory)' },
    'max-queue': { min: 0, max: 256, integer: true, why: 'each queued request holds its body (memory)' },
    'body-limit': { min: 0.01, max: 64, why: 'megabytes; each accepted request holds its body (memory)' },
    'max-pixels': { min: 1, max: 100_000_000, integer: true, why: 'the library\'s 100 MP input limit' },
    timeout: { min: 1, max: 3600, why: 'seconds' },
    'body-timeout': { min: 1, max: 3600, why: 'seconds' },
    'idle-timeout': { min: 1, max: 3600, why: 'seconds' },
    drain: { min: 0, max: 3600, why: 'seconds' },
    'png-level': { min: 0, max: 9, integer: true, why: 'zlib level of PNG answers' },
    pipeline: { min: 1, max: 4, integer: true, why: 'requests a thread holds at once, each holding its images (memory)' },
  },
  worker: {
    threads: { min: 1, max: 32, integer: true, why: 'each thread holds its own engine and models (memory)' },
    concurrency: { min: 1, max: 16, integer: true, why: 'jobs at once in one process, each holding its images (memory)' },
    'lock-ms': { min: 500, max: 3_600_000, integer: true, why: 'milliseconds' },
    'max-stalled': { min: 0, max: 1000, integer: true },
    'exit-after': { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true },
  },
  enqueue: {
    attempts: { min: 1, max: 100, integer: true },
    backoff: { min: 0, max: 3_600_000, integer: true, why: 'milliseconds' },
    quality: { min: 1, max: 100, integer: true },
    limit: { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true },
  },
  jobs: {
    failures: { min: 0, max: 1000, integer: true },
    interval: { min: 0.1, max: 3600, why: 'seconds' },
    timeout: { min: 1, max: 30 * 86400, why: 'seconds' },
  },
} as const satisfies Record<string, Record<string, FlagRange>>;

const NUMBER_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

/** Every loss weight flag of train/experiment/sweep (`--l1-weight`, `--lambda-mask`, …). */
export const TRAIN_LOSS_WEIGHT_RANGE: FlagRange = { min: 0, max: 1_000_000 };

/** Pixels one training step may hold per tensor: --batch × --crop² (64 × 512²). */
export const TRAIN_MAX_STEP_PIXELS = 16_777_216;

// "[1, 1000]", "(0, 16]"; "an integer in" for integers: the predicates' (src/util/is.ts)
export { describeRange } from '../util/is.ts';

/**
 * Parses `--<name>` from a string value and checks it against `range`. Returns undefined when the
 * flag is absent (and has no default). Throws, in the one format of src/util/is.ts,
 * `--<name> must be <range>, got "<value>" (<why>)`.
 */
export function numberFlag(values: Record<string, unknown>, name: string, range: FlagRange): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const s = typeof v === 'string' ? v.trim() : String(v);
  const n = NUMBER_RE.test(s) ? Number(s) : NaN;
  if (!inRange(n, range)) throw invalidParameter(`--${name}`, describeRange(range), String(v), range.why);
  return n;
}

/** numberFlag for a flag that must be present (has a default, or is required). */
export function requiredNumberFlag(values: Record<string, unknown>, name: string, range: FlagRange): number {
  const n = numberFlag(values, name, range);
  if (n === undefined) throw new HarmoniaError(`--${name} is required (${describeRange(range)})`);
  return n;
}
