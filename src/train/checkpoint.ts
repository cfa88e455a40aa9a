/**
 * Training checkpoints: one folder holding everything needed to continue exactly, written under a
 * temporary name and swapped in by rename, so a crash (even SIGKILL) at any moment leaves either
 * the previous complete checkpoint or the new complete one, never a mixture.
 *
 *   checkpoint/
 *     generator/      model.json + weights.bin (standard TensorFlow.js format: loads in Node and browsers)
 *     discriminator/  model.json + weights.bin
 *     optimizer.bin   Adam moments m, v of G then D (little-endian float32, in state.json's order)
 *     state.json      step, epoch, batch position, Adam step counts, config, run notes
 */
import { promises as fsp, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { writeFileAtomic, describeFsError, describeMkdirError, acquireLock, pidAlive } from '../util/atomic.ts';
import { saveModel, loadModel } from '../models/index.ts';
import { normalizeDiscriminatorKind } from '../models/discriminator.ts';
import type { AdamState } from '../engine/parallel/adam.ts';
import { validateTrainConfig, type TrainConfig } from './config.ts';

export const CHECKPOINT_DIR = 'checkpoint';
export const CHECKPOINT_VERSION = 1;

export interface CheckpointPosition {
  /** Optimisation steps done. */
  step: number;
  /** Epoch (0-based) and batch index within it of the NEXT batch to train on. */
  epoch: number;
  batch: number;
}

export interface CheckpointState extends CheckpointPosition {
  version: number;
  config: TrainConfig;
  /** Notes that every output must repeat (e.g. random VGG-19 features). */
  notes: string[];
  adam: { G: { t: number; sizes: number[] }; D: { t: number; sizes: number[] } };
  savedAt: string;
}

export interface Checkpoint {
  state: CheckpointState;
  weights: { G: Float32Array[]; D: Float32Array[] };
  adam: { G: AdamState; D: AdamState };
}

function concat(arrays: readonly Float32Array[]): Uint8Array {
  const total = arrays.reduce((a, x) => a + x.length, 0);
  const out = new Float32Array(total);
  let off = 0;
  for (const a of arrays) { out.set(a, off); off += a.length; }
  return new Uint8Array(out.buffer);
}

function split(bytes: Uint8Array, sizes: readonly number[], file: string): Float32Array[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (bytes.byteLength !== total * 4) throw new HarmoniaError(`expected ${total * 4} bytes, found ${bytes.byteLength} (truncated or mismatched checkpoint)`, { file });
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const out: Float32Array[] = [];
  let off = 0;
  for (const n of sizes) { out.push(all.slice(off, off + n)); off += n; }
  return out;
}

/** Copies weight arrays into a model's trainable variables (same order as GanStep.getWeights). */
function assignModel(model: tf.LayersModel, values: readonly Float32Array[]): void {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  tf.tidy(() => vars.forEach((v, i) => v.assign(tf.tensor(values[i], v.shape, 'float32'))));
}

function readModelWeights(model: tf.LayersModel): Float32Array[] {
  return model.trainableWeights.map((w) => new Float32Array((w.read() as tf.Variable).dataSync()));
}

/**
 * Writes a checkpoint into `runDir/checkpoint` atomically. `models` are the live models whose
 * topology is saved; their variables are set to `weights` first (they normally already hold them).
 */
export async function saveCheckpoint(
  runDir: string,
  models: { G: tf.LayersModel; D: tf.LayersModel },
  ck: Checkpoint,
): Promise<void> {
  const final = join(runDir, CHECKPOINT_DIR);
  const tmp = join(runDir, `.${CHECKPOINT_DIR}.tmp-${process.pid}`);
  const old = join(runDir, `.${CHECKPOINT_DIR}.old`);
  try {
    await fsp.rm(tmp, { recursive: true, force: true });
    await fsp.mkdir(tmp, { recursive: true });
    assignModel(models.G, ck.weights.G);
    assignModel(models.D, ck.weights.D);
    await saveModel(models.G, join(tmp, 'generator'));
    await saveModel(models.D, join(tmp, 'discriminator'));
    await writeFileAtomic(join(tmp, 'optimizer.bin'), concat([...ck.adam.G.m, ...ck.adam.G.v, ...ck.adam.D.m, ...ck.adam.D.v]));
    await writeFileAtomic(join(tmp, 'state.json'), JSON.stringify(ck.state, null, 1));
    const dirHandle = await fsp.open(tmp, 'r');
    await dirHandle.sync().catch(() => undefined);
    await dirHandle.close();
    await fsp.rm(old, { recursive: true, force: true });
    if (existsSync(final)) await fsp.rename(final, old);
    await fsp.rename(tmp, final);
    await fsp.rm(old, { recursive: true, force: true });
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (err instanceof HarmoniaError) throw err;
    throw new HarmoniaError(`cannot write checkpoint: ${describeFsError(err)}`, { file: final, cause: err });
  }
}

/** The folder of the newest complete checkpoint in `runDir`, or undefined. */
export function findCheckpoint(runDir: string): string | undefined {
  const final = join(runDir, CHECKPOINT_DIR);
  if (existsSync(join(final, 'state.json'))) return final;
  // killed between the two renames of a swap: the previous checkpoint is complete under .old
  const old = join(runDir, `.${CHECKPOINT_DIR}.old`);
  if (existsSync(join(old, 'state.json'))) return old;
  return undefined;
}

/** The lock file of a run folder: one writer (train) per run folder at a time. */
export const RUN_LOCK = '.harmonia-run.lock';

/**
 * Takes the run folder's lock (`<runDir>/.harmonia-run.lock`, the pid; the folder is created), or
 * throws a HarmoniaError naming the folder when another live process trains into it. Re-entrant in one
 * process; a lock left by a killed run is taken over. Returns the release function.
 */
export function lockRunFolder(runDir: string): () => void {
  try {
    mkdirSync(runDir, { recursive: true });
  } catch (err) {
    throw new HarmoniaError(`--out: cannot create the run folder: ${describeMkdirError(runDir, err)}`, { file: runDir, cause: err });
  }
  const p = join(runDir, RUN_LOCK);
  return acquireLock(p, (pid) => `--out: another harmonia train${pid ? ` (pid ${pid})` : ''} is training into ${runDir}; one run folder takes one run at a time (wait for it, or choose another --out; delete ${p} only if that process is not training)`);
}

/**
 * Refuses, without taking it, a run folder whose lock is held by another live process: the CLI's
 * first check, before it reads the checkpoint (which a running train rewrites).
 */
export function checkRunLock(runDir: string): void {
  const p = join(runDir, RUN_LOCK);
  let pid = NaN;
  try { pid = Number(readFileSync(p, 'utf8').trim()); } catch { return; }
  if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
    throw new HarmoniaError(`--out: another harmonia train (pid ${pid}) is training into ${runDir}; one run folder takes one run at a time (wait for it, or choose another --out; delete ${p} only if that process is not training)`, { file: p });
  }
}

/** True when `runDir` holds a finished run: its final generator/ folder (whether or not checkpoint/ is still there). */
export function isFinishedRun(runDir: string): boolean {
  try { return statSync(join(runDir, 'generator')).isDirectory(); } catch { return false; }
}

/**
 * A run folder is never trained over by accident (issue 28): an existing checkpoint needs --resume or
 * --overwrite; a finished run (generator/ there, even with checkpoint/ deleted) needs --overwrite, or
 * --resume when its checkpoint is still there; --resume needs a checkpoint.
 */
export function checkRunFolder(runDir: string, opts: { resume?: boolean; overwrite?: boolean }): string | undefined {
  const existing = findCheckpoint(runDir);
  const finished = isFinishedRun(runDir);
  if (opts.resume && !existing) {
    throw new HarmoniaError(finished
      ? `--resume: nothing to resume: ${runDir} is a finished run (generator/ is there, no checkpoint); pass --overwrite to train over it, or choose another --out`
      : `--resume: nothing to resume: no checkpoint in ${runDir}`);
  }
  if (opts.resume || opts.overwrite) return existing;
  if (existing) throw new HarmoniaError(`${runDir} already has a checkpoint: pass --resume to continue it or --overwrite to start over`);
  if (finished) throw new HarmoniaError(`${runDir} is a finished training run (its generator/ is there): pass --overwrite to train over it, or choose another --out`);
  return undefined;
}

const REFUSE = 'hand-edited or corrupt checkpoint; refusing to resume from it';

/**
 * Checks a parsed state.json against its schema (issue 17): types, ranges, and consistency of the
 * position: step, epoch and batch are non-negative integers; in epoch 0, step = batch; after that,
 * every finished epoch had at least one batch (step ≥ epoch + batch) and, when the epochs were full,
 * batch is below the batches per epoch that step and epoch imply; each Adam step count equals step
 * (both networks are updated once a step); epoch ≤ the stored config's epochs; the config itself passes
 * validateTrainConfig. Returns the state typed; throws a HarmoniaError naming the file and the field.
 */
export function validateCheckpointState(raw: unknown, file: string): CheckpointState {
  const fail = (what: string): never => { throw new HarmoniaError(`${what} (${REFUSE})`, { file }); };
  const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v));
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('state must be a JSON object');
  const st = raw as Record<string, unknown>;
  if (st.version !== CHECKPOINT_VERSION) fail(`checkpoint version ${show(st.version)} is not supported (expected ${CHECKPOINT_VERSION})`);
  const count = (v: unknown, name: string): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${name} must be a non-negative integer, got ${show(v)}`);
    return v as number;
  };
  const step = count(st.step, 'step'), epoch = count(st.epoch, 'epoch'), batch = count(st.batch, 'batch');
  if (epoch === 0 && step !== batch) fail(`step ${step} and batch ${batch} disagree: in the first epoch they are equal`);
  if (epoch > 0 && step < epoch + batch) fail(`step ${step} is too small for epoch ${epoch}, batch ${batch} (every epoch has at least one batch)`);
  if (epoch > 0 && (step - batch) % epoch === 0 && batch >= (step - batch) / epoch && (step - batch) / epoch > 0) {
    fail(`batch ${batch} is not below the ${(step - batch) / epoch} batches per epoch that step ${step} and epoch ${epoch} imply`);
  }
  if (typeof st.config !== 'object' || st.config === null || Array.isArray(st.config)) fail(`config must be an object, got ${show(st.config)}`);
  const config = st.config as TrainConfig;
  try {
    validateTrainConfig(config);
  } catch (err) {
    fail(`config: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (epoch > config.epochs) fail(`epoch ${epoch} is beyond the ${config.epochs} epochs of its config`);
  if (!Array.isArray(st.notes) || !st.notes.every((n) => typeof n === 'string')) fail(`notes must be a list of strings, got ${show(st.notes)}`);
  if (typeof st.savedAt !== 'string' || Number.isNaN(Date.parse(st.savedAt))) fail(`savedAt must be a date, got ${show(st.savedAt)}`);
  const adam = st.adam as Record<string, unknown> | undefined;
  if (typeof adam !== 'object' || adam === null) fail(`adam must be an object, got ${show(adam)}`);
  for (const net of ['G', 'D'] as const) {
    const a = (adam as Record<string, unknown>)[net] as { t?: unknown; sizes?: unknown } | undefined;
    if (typeof a !== 'object' || a === null) fail(`adam.${net} must be an object, got ${show(a)}`);
    const t = count(a!.t, `adam.${net}.t`);
    if (t !== step) fail(`adam.${net}.t ${t} disagrees with step ${step} (each step updates both networks once)`);
    const sizes = a!.sizes;
    if (!Array.isArray(sizes) || sizes.length === 0 || !sizes.every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n > 0)) {
      fail(`adam.${net}.sizes must be a non-empty list of positive integers`);
    }
  }
  return raw as CheckpointState;
}

/** Reads and validates `<dir>/state.json` only (cheap: the CLI checks it before any work). */
export async function readCheckpointState(dir: string): Promise<CheckpointState> {
  const statePath = join(dir, 'state.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await fsp.readFile(statePath, 'utf8'));
  } catch (err) {
    throw new HarmoniaError(`cannot read checkpoint state: ${(err as Error).message} (${REFUSE})`, { file: statePath, cause: err });
  }
  const state = validateCheckpointState(raw, statePath);
  // configs written before D's per-image kind was renamed ('global' → 'image') resume as before
  const d = state.config.discriminator;
  if (d && d.kind !== undefined) d.kind = normalizeDiscriminatorKind(d.kind, `${statePath}: config.discriminator`);
  return state;
}

/** Reads a checkpoint folder written by saveCheckpoint (state.json validated by validateCheckpointState). */
export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const state = await readCheckpointState(dir);
  const G = await loadModel(join(dir, 'generator'));
  const D = await loadModel(join(dir, 'discriminator'));
  const weights = { G: readModelWeights(G), D: readModelWeights(D) };
  G.dispose();
  D.dispose();
  const check = (net: 'G' | 'D') => {
    const sizes = weights[net].map((w) => w.length);
    if (sizes.join() !== state.adam[net].sizes.join()) throw new HarmoniaError(`${net} weights do not match the optimizer state`, { file: dir });
  };
  check('G');
  check('D');
  const optPath = join(dir, 'optimizer.bin');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await fsp.readFile(optPath));
  } catch (err) {
    throw new HarmoniaError(`cannot read optimizer state: ${describeFsError(err)}`, { file: optPath, cause: err });
  }
  const sG = state.adam.G.sizes, sD = state.adam.D.sizes;
  const parts = split(bytes, [...sG, ...sG, ...sD, ...sD], optPath);
  const nG = sG.length, nD = sD.length;
  return {
    state,
    weights,
    adam: {
      G: { t: state.adam.G.t, m: parts.slice(0, nG), v: parts.slice(nG, 2 * nG) },
      D: { t: state.adam.D.t, m: parts.slice(2 * nG, 2 * nG + nD), v: parts.slice(2 * nG + nD) },
    },
  };
}
