/**
 * The GAN trainer: Adam on G and D (plain-JS Adam, exactly resumable), data-parallel gradients
 * through a StepRunner (this process, or the worker pool), atomic checkpoints with optimizer state
 * and data position, a JSONL log, a progress bar with ETA, per-epoch sample grids, interactive loss curves (losses.html),
 * and NaN/Inf detection that stops cleanly and keeps the last good checkpoint. Every run leaves a usable
 * model: `generator/` (a harmonization model folder, swapped in whole) is written at the end of every
 * epoch, when --max-steps stops the run, when `signal` aborts it (SIGINT/SIGTERM in the CLI) and when it
 * is done; its model card says which (partial models say so and how to resume).
 */
import { promises as fsp, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelCard } from '../models/harmonization.ts';
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { Progress } from '../util/progress.ts';
import { saveHarmonizationModel } from '../models/folder.ts';
import { writeFileAtomic, removeStaleTempFiles } from '../util/atomic.ts';
import { loadModel } from '../models/io.ts';
import { checkModelFiles } from '../models/folder-meta.ts';
import { writeTrainingReport } from './curves.ts';
import { createAdamState } from '../engine/parallel/adam.ts';
import { LocalEngine, PoolEngine } from './engines.ts';
import type { TrainEngine } from './engines.ts';
import { createFeatureExtractor, resolveFeatureSource } from './features.ts';
import { validateTrainConfig } from './config.ts';
import type { TrainConfig } from './config.ts';
import { GanStep } from './step.ts';
import type { TrainBatch } from './step.ts';
import { saveCheckpoint, loadCheckpoint, findCheckpoint, CHECKPOINT_VERSION, lockRunFolder, checkRunFolder } from './checkpoint.ts';
import type { CheckpointState } from './checkpoint.ts';
import { JsonlLog, stepRecords } from './log.ts';
import { writeSampleGrid } from './samples.ts';
import type { BatchSource } from '../data/memory.ts';
import { lossSetting } from '../losses/index.ts';

export type { BatchSource };

export interface TrainOptions {
  config: TrainConfig;
  /** Run folder: checkpoint/, log.jsonl, samples/, losses.html (interactive loss curves), generator/ (final G), config.json. */
  runDir: string;
  data: BatchSource;
  /** A fixed batch rendered as the per-epoch sample grid (input / output / real). */
  samples?: TrainBatch;
  /** Continue from runDir's checkpoint (error when there is none). Without it, an existing checkpoint is an error. */
  resume?: boolean;
  /** Start over, deleting runDir's checkpoint and log. */
  overwrite?: boolean;
  quiet?: boolean;
  /** Lines every output of this run must repeat (e.g. "feature loss uses RANDOM VGG-19 weights"). */
  notes?: string[];
  /** Stop (with a checkpoint and generator/) after this many steps in total: for tests and time-boxed runs. */
  maxSteps?: number;
  /**
   * Aborting it stops the run after the step in progress, with a checkpoint and generator/ (status
   * 'interrupted'); the CLI wires SIGINT/SIGTERM to it (stopOnSignals).
   */
  signal?: AbortSignal;
  /** Recorded in the model card of the final generator (e.g. the data folder). */
  trainedOn?: string;
  /**
   * Start G from the weights of this generator folder (fine-tuning; same architecture) instead of its
   * initialiser. D and the optimizer start fresh. Ignored when resuming (the checkpoint has the weights).
   */
  initGenerator?: string;
  /** What G was given in training (recorded in the model card; the pipeline feeds the same). Default 'semiHarmonized'. */
  input?: 'semiHarmonized' | 'composite';
  /** Called after every step. */
  onStep?: (info: { step: number; epoch: number; batch: number; losses: Record<string, number> }) => void;
}

export interface TrainResult {
  /** done: all epochs; stopped: --max-steps; interrupted: `signal` aborted; nonfinite: a NaN/Inf loss or gradient. */
  status: 'done' | 'stopped' | 'interrupted' | 'nonfinite';
  steps: number;
  epochsDone: number;
  runDir: string;
  /**
   * The generator as a harmonization model folder (TensorFlow.js model.json + weights.bin + harmonia.json),
   * usable by `harmonia harmonize --model`: the final one when done, the weights at the stop when stopped or
   * interrupted, the last finished epoch's after a non-finite step (absent when no epoch had finished).
   */
  generatorDir: string;
  /** Mean losses over the last epoch trained in this call (or the last steps). */
  lastLosses: Record<string, number>;
  message: string;
  notes: string[];
  /** The live generator (caller disposes). */
  generator: tf.LayersModel;
}

/** Copies the trainable weights of the generator saved in `dir` into the step's G (same architecture). */
async function initGeneratorFrom(step: GanStep, dir: string): Promise<void> {
  await checkModelFiles(dir); // checked before use (issue 28): a generator, complete and finite weights
  const src = await loadModel(dir);
  try {
    const want = step.shapes('G');
    const got = src.trainableWeights.map((w) => w.shape as number[]);
    if (got.length !== want.length || got.some((s, i) => s.join('x') !== want[i].join('x'))) {
      throw new HarmoniaError(`--init: the generator in ${dir} has a different architecture (${got.length} weight arrays) than this run's (${want.length}); use the same --generator and options`, { file: dir });
    }
    step.setWeights('G', src.trainableWeights.map((w) => new Float32Array(w.read().dataSync() as Float32Array)));
  } finally {
    src.dispose();
  }
}

/**
 * The state one training run shares between its steps (see `train`): the run folder, the log, the
 * models and engine, the position (step, epoch, batch), the running loss sums and the outcome.
 */
interface Run {
  readonly opts: TrainOptions;
  readonly cfg: TrainConfig;
  readonly runDir: string;
  readonly notes: string[];
  readonly log: JsonlLog;
  readonly step: GanStep;
  readonly engine: TrainEngine;
  readonly features?: Awaited<ReturnType<typeof createFeatureExtractor>>;
  pos: { step: number; epoch: number; batch: number };
  /** Loss sums and count of the current epoch, and the means of the last finished one. */
  sums: Record<string, number>;
  sumCount: number;
  lastLosses: Record<string, number>;
  status: TrainResult['status'];
  message: string;
  perEpoch: number;
  progress?: Progress;
}

/** Trains G and D. See TrainOptions. Four steps sharing one Run: recover the run folder, init or resume, epochs, finish. */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  validateTrainConfig(opts.config);
  const unlock = lockRunFolder(opts.runDir); // one writer per run folder (issue 28)
  try { return await trainLocked(opts); } finally { unlock(); }
}

/** train() while holding the run folder's lock. */
async function trainLocked(opts: TrainOptions): Promise<TrainResult> {
  const { log, existing } = await recoverRunFolder(opts);
  const run = await initOrResume(opts, log, existing);
  try {
    while (run.pos.epoch < run.cfg.epochs) if (!(await runEpoch(run))) break;
    if (run.status === 'stopped' || run.status === 'interrupted') {
      await checkpoint(run);
      await saveGenerator(run);
      const why = run.status === 'stopped' ? `after ${run.pos.step} steps (--max-steps)` : `by ${abortReason(run.opts.signal)} after ${run.pos.step} steps`;
      run.message = `${run.status} ${why}; generator saved to ${join(run.runDir, 'generator')}; continue with --resume`;
      run.log.append({ type: 'event', step: run.pos.step, event: run.status, message: run.message });
    }
    if (run.status !== 'nonfinite') syncModels(run);
  } finally {
    await run.engine.dispose();
    run.features?.dispose();
  }
  return finish(run);
}

/**
 * Run-folder recovery: creates the folder, removes what a killed run left (checkpoint temp folders,
 * the old copy of a completed checkpoint swap, temp files of unfinished writes), and checks
 * --resume / --overwrite against the checkpoint there (--overwrite deletes it and the log).
 */
async function recoverRunFolder(opts: TrainOptions): Promise<{ log: JsonlLog; existing?: string }> {
  const runDir = opts.runDir;
  await fsp.mkdir(runDir, { recursive: true });
  for (const f of readdirSync(runDir)) if (f.startsWith('.checkpoint.tmp-')) await fsp.rm(join(runDir, f), { recursive: true, force: true });
  // killed after a checkpoint swap but before the old copy was removed: the new one is complete, drop the old
  if (existsSync(join(runDir, 'checkpoint', 'state.json'))) await fsp.rm(join(runDir, '.checkpoint.old'), { recursive: true, force: true });
  // killed while swapping generator/ (saveGenerator): the previous complete folder is under .generator.old
  for (const f of readdirSync(runDir)) if (f.startsWith('.generator.tmp-')) await fsp.rm(join(runDir, f), { recursive: true, force: true });
  const genOld = join(runDir, '.generator.old');
  if (existsSync(genOld)) {
    if (!existsSync(join(runDir, 'generator'))) await fsp.rename(genOld, join(runDir, 'generator'));
    else await fsp.rm(genOld, { recursive: true, force: true });
  }
  // temp files of writes that a killed run left unfinished
  for (const d of [runDir, join(runDir, 'samples'), join(runDir, 'generator')]) if (existsSync(d)) await removeStaleTempFiles(d);
  const log = new JsonlLog(join(runDir, 'log.jsonl'));
  const existing = checkRunFolder(runDir, opts); // a checkpoint or a finished run needs --resume / --overwrite
  if (opts.overwrite && !opts.resume) {
    await fsp.rm(join(runDir, 'checkpoint'), { recursive: true, force: true });
    await fsp.rm(join(runDir, '.checkpoint.old'), { recursive: true, force: true });
    await log.reset();
  }
  return { log, existing };
}

/** Builds the models and the engine (this process or the worker pool) and the feature extractor a setting needs. */
async function createModels(cfg: TrainConfig, notes: string[]): Promise<Pick<Run, 'step' | 'engine' | 'features'>> {
  let features: Run['features'];
  const featureSpec = { vggWeights: cfg.vggWeights, allowRandom: cfg.allowRandomFeatures, layers: cfg.loss.featureLayers, seed: cfg.seed };
  const needsFeatures = lossSetting(cfg.loss.setting).needsFeatures;
  if (needsFeatures) {
    // decides (or refuses) the VGG-19 source; the extractor itself is only built where gradients are computed
    const src = resolveFeatureSource(featureSpec);
    if (src.note && !notes.includes(src.note)) notes.push(src.note);
    if (cfg.workers === 1) features = await createFeatureExtractor(featureSpec);
  }
  const stepCfg = { generator: cfg.generator, discriminator: cfg.discriminator, loss: cfg.loss, seed: cfg.seed };
  const step = new GanStep(stepCfg, features?.extract);
  const engine: TrainEngine = cfg.workers === 1
    ? new LocalEngine(step, cfg.optimizer)
    : await PoolEngine.create({ step: stepCfg, optimizer: cfg.optimizer, workers: cfg.workers, features: needsFeatures ? featureSpec : undefined, sizes: { G: step.sizes('G'), D: step.sizes('D') } });
  return { step, engine, features };
}

/**
 * Init or resume: the models, then either the checkpoint's weights, Adam state, position and notes
 * (its config must match but for epochs and workers; the log is cut after its step) or fresh weights
 * (from --init when given) and a fresh log; then config.json, the progress bar and, when resumed, the
 * loss sums of the steps trained before the interruption.
 */
async function initOrResume(opts: TrainOptions, log: JsonlLog, existing: string | undefined): Promise<Run> {
  const cfg = opts.config;
  const notes = [...(opts.notes ?? [])];
  const { step, engine, features } = await createModels(cfg, notes);
  const run: Run = {
    opts, cfg, runDir: opts.runDir, notes, log, step, engine, features, pos: { step: 0, epoch: 0, batch: 0 },
    sums: {}, sumCount: 0, lastLosses: {}, status: 'done', message: '', perEpoch: opts.data.batchesPerEpoch,
  };
  try {
    if (opts.resume && existing) await resumeFrom(run, existing);
    else await initFresh(run);
    await writeFileAtomic(join(run.runDir, 'config.json'), JSON.stringify({ config: cfg, notes }, null, 1));
    if (!(run.perEpoch > 0)) throw new HarmoniaError('training data: no batches (is the training set empty or smaller than the batch size?)');
  } catch (err) {
    await engine.dispose();
    features?.dispose();
    step.dispose();
    throw err;
  }
  // the bar (and its ETA) ends where this run will stop: the last epoch, or --max-steps when sooner
  const total = cfg.epochs * run.perEpoch;
  run.progress = new Progress('train', opts.maxSteps !== undefined ? Math.min(total, opts.maxSteps) : total, { quiet: opts.quiet });
  run.progress.set(run.pos.step);
  if (run.pos.step > 0) restoreEpochSums(run);
  return run;
}

async function resumeFrom(run: Run, existing: string): Promise<void> {
  const ck = await loadCheckpoint(existing);
  const a = JSON.stringify({ ...ck.state.config, workers: 0 }), b = JSON.stringify({ ...run.cfg, workers: 0, epochs: ck.state.config.epochs });
  if (a !== b) {
    throw new HarmoniaError(`--resume: the checkpoint in ${existing} was trained with a different configuration (only epochs and workers may change)`);
  }
  run.engine.setState({ weights: ck.weights, adam: ck.adam });
  run.pos = { step: ck.state.step, epoch: ck.state.epoch, batch: ck.state.batch };
  for (const n of ck.state.notes) if (!run.notes.includes(n)) run.notes.push(n);
  run.log.truncateAfter(run.pos.step);
  run.log.append({ type: 'event', step: run.pos.step, event: 'resume', message: `resumed at step ${run.pos.step} (epoch ${run.pos.epoch + 1}, batch ${run.pos.batch}); ${run.engine.description}` });
}

async function initFresh(run: Run): Promise<void> {
  const { step } = run;
  if (run.opts.initGenerator) await initGeneratorFrom(step, run.opts.initGenerator);
  run.engine.setState({ weights: { G: step.getWeights('G'), D: step.getWeights('D') }, adam: { G: createAdamState(step.sizes('G')), D: createAdamState(step.sizes('D')) } });
  // no checkpoint to continue from: records of a run killed before its first checkpoint would
  // otherwise stay in the log (steps logged twice, wrong loss curves)
  await run.log.reset();
  run.log.append({ type: 'event', step: 0, event: 'start', message: `training started; ${run.engine.description}`, config: run.cfg, notes: run.notes });
}

/**
 * Resumed: the epoch means (log events, the model card's train_* metrics) must cover the steps
 * trained before the interruption too; the log holds them exactly (JSON round-trips doubles).
 */
function restoreEpochSums(run: Run): void {
  const done = stepRecords(run.log.read()).filter((r) => r.step <= run.pos.step);
  const add = (into: Record<string, number>, losses: Record<string, number>) => { for (const [k, v] of Object.entries(losses)) into[k] = (into[k] ?? 0) + v; };
  const prev: Record<string, number> = {};
  let prevCount = 0;
  for (const r of done) {
    if (r.epoch === run.pos.epoch) { add(run.sums, r.losses); run.sumCount += 1; } else if (r.epoch === run.pos.epoch - 1) { add(prev, r.losses); prevCount += 1; }
  }
  if (prevCount > 0) run.lastLosses = Object.fromEntries(Object.entries(prev).map(([k, v]) => [k, v / prevCount]));
}

/**
 * One epoch (from the current batch): a step per batch, a checkpoint every checkpointEvery steps, and
 * at the end of the epoch samples, a checkpoint, the loss curves and the epoch means. False = stop
 * (maxSteps reached, or a non-finite loss or gradient).
 */
async function runEpoch(run: Run): Promise<boolean> {
  const { opts, pos } = run;
  for await (const batch of opts.data.epoch(pos.epoch, pos.batch)) {
    if (opts.maxSteps !== undefined && pos.step >= opts.maxSteps) { run.status = 'stopped'; return false; }
    if (opts.signal) {
      // a step never leaves the microtask queue: let a pending signal handler run before the check
      await new Promise((res) => setImmediate(res));
      if (opts.signal.aborted) { run.status = 'interrupted'; return false; }
    }
    const t0 = Date.now();
    const r = await run.engine.step(batch);
    if (!r.ok) {
      run.status = 'nonfinite';
      const good = findCheckpoint(run.runDir);
      run.message = `non-finite ${r.phase} loss or gradient at step ${pos.step + 1} (${r.detail}; losses ${JSON.stringify(r.losses)}); ` +
        `stopped; ${good ? `the last good checkpoint (${good}) is kept` : 'no checkpoint had been written yet'}` +
        (existsSync(join(run.runDir, 'generator', 'harmonia.json')) ? `; ${join(run.runDir, 'generator')} holds the model of the last finished epoch` : '');
      run.log.append({ type: 'event', step: pos.step, event: 'nonfinite', message: run.message, phase: r.phase, losses: r.losses });
      return false;
    }
    const losses: Record<string, number> = r.losses;
    pos.step += 1;
    pos.batch += 1;
    for (const [k, v] of Object.entries(losses)) run.sums[k] = (run.sums[k] ?? 0) + v;
    run.sumCount += 1;
    run.log.append({ type: 'step', step: pos.step, epoch: pos.epoch, batch: pos.batch - 1, losses, gradNormG: r.gradNormG, gradNormD: r.gradNormD, seconds: (Date.now() - t0) / 1000 });
    run.progress?.tick(1, `epoch ${pos.epoch + 1}/${run.cfg.epochs} L_G ${losses.g.toFixed(3)} L_D ${losses.d.toFixed(3)}`);
    opts.onStep?.({ step: pos.step, epoch: pos.epoch, batch: pos.batch - 1, losses });
    if (pos.batch >= run.perEpoch) {
      await endEpoch(run);
      run.lastLosses = meanLosses(run);
      for (const k of Object.keys(run.sums)) delete run.sums[k];
      run.sumCount = 0;
      run.log.append({ type: 'event', step: pos.step, event: 'epoch', message: `epoch ${pos.epoch} done`, means: run.lastLosses });
      return true;
    }
    if (pos.step % run.cfg.checkpointEvery === 0) await checkpoint(run);
  }
  // the source ran dry before batchesPerEpoch: treat it as the end of the epoch
  if (pos.batch !== 0) await endEpoch(run);
  return true;
}

/**
 * End of an epoch: the position moves to the next one; sample grid, checkpoint, generator/ (the last
 * epoch's is written by finish, as the final model), loss curves.
 */
async function endEpoch(run: Run): Promise<void> {
  run.pos.epoch += 1;
  run.pos.batch = 0;
  await writeSamples(run, run.pos.epoch);
  await checkpoint(run);
  if (run.pos.epoch < run.cfg.epochs) await saveGenerator(run);
  await writeTrainingReport(run.runDir, run.notes);
}

/** What stopped the run, for its messages: the signal's name when stopOnSignals aborted it. */
function abortReason(signal: AbortSignal | undefined): string {
  const r: unknown = signal?.reason;
  return typeof r === 'string' ? r : r instanceof Error && r.message ? r.message : 'an abort';
}

/**
 * The model card of generator/: the final model's when done; otherwise it says the model is partial
 * (where it stopped and why) and how to continue.
 */
function generatorCard(run: Run): ModelCard {
  const { cfg, pos } = run;
  const total = cfg.epochs * run.perEpoch;
  const done = run.status === 'done' && pos.epoch >= cfg.epochs;
  const losses = run.sumCount > 0 && !done ? meanLosses(run) : run.lastLosses;
  const why = run.status === 'stopped' ? 'stopped by --max-steps' : run.status === 'interrupted' ? `interrupted by ${abortReason(run.opts.signal)}` : `end of epoch ${pos.epoch}`;
  const partial = done ? [] : [`partial model: ${why} at step ${pos.step} of ${total} (epoch ${Math.min(pos.epoch + (pos.batch > 0 ? 1 : 0), cfg.epochs)} of ${cfg.epochs}); continue with harmonia train --resume --out ${run.runDir}`];
  return {
    name: `gan-${cfg.loss.setting}`,
    input: run.opts.input ?? 'semiHarmonized',
    trainedOn: run.opts.trainedOn,
    command: process.argv.slice(1).join(' '),
    metrics: {
      ...Object.fromEntries(Object.entries(losses).map(([k, v]) => [`train_${k}`, Number(v.toFixed(5))])),
      ...(done ? {} : { train_step: pos.step, train_steps_planned: total }),
    },
    notes: [...partial, `${cfg.loss.setting} setting, ${pos.step} steps, ${cfg.epochs} epochs, crop ${cfg.crop}, seed ${cfg.seed}`, ...run.notes],
  };
}

/**
 * Writes the live G as runDir/generator (a harmonization model folder), built under a temporary name
 * and swapped in by rename, so a crash leaves the previous complete folder (recovered from
 * .generator.old by recoverRunFolder) or the new one, never a mixture.
 */
async function saveGenerator(run: Run): Promise<string> {
  syncModels(run);
  const final = join(run.runDir, 'generator');
  const tmp = join(run.runDir, `.generator.tmp-${process.pid}`);
  const old = join(run.runDir, '.generator.old');
  await fsp.rm(tmp, { recursive: true, force: true });
  try {
    await saveHarmonizationModel(tmp, run.step.generator, run.cfg.generator, generatorCard(run));
    await fsp.rm(old, { recursive: true, force: true });
    if (existsSync(final)) await fsp.rename(final, old);
    await fsp.rename(tmp, final);
    await fsp.rm(old, { recursive: true, force: true });
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (err instanceof HarmoniaError) throw err;
    throw new HarmoniaError(`cannot write the generator: ${(err as Error).message}`, { file: final, cause: err });
  }
  return final;
}

/**
 * For the CLI: an AbortSignal that the first SIGINT or SIGTERM aborts (train then stops after the step in
 * progress, saving a checkpoint and generator/); `onFirst` is told (e.g. to print what happens now). A second
 * signal exits at once with 130. dispose() removes the handlers.
 */
export function stopOnSignals(onFirst?: (signal: NodeJS.Signals) => void): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) process.exit(130);
    ac.abort(sig);
    onFirst?.(sig);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return { signal: ac.signal, dispose: () => { process.off('SIGINT', handler); process.off('SIGTERM', handler); } };
}

function meanLosses(run: Run): Record<string, number> {
  return Object.fromEntries(Object.entries(run.sums).map(([k, v]) => [k, v / run.sumCount]));
}

/** Makes the main-thread models hold the engine's weights (they are the same in single-process mode). */
function syncModels(run: Run): ReturnType<TrainEngine['getState']> {
  const st = run.engine.getState();
  if (run.cfg.workers !== 1) { run.step.setWeights('G', st.weights.G); run.step.setWeights('D', st.weights.D); }
  return st;
}

async function checkpoint(run: Run): Promise<void> {
  const { weights, adam } = syncModels(run);
  const { pos, step } = run;
  const state: CheckpointState = {
    version: CHECKPOINT_VERSION, config: run.cfg, notes: run.notes, step: pos.step, epoch: pos.epoch, batch: pos.batch,
    adam: { G: { t: adam.G.t, sizes: step.sizes('G') }, D: { t: adam.D.t, sizes: step.sizes('D') } },
    savedAt: new Date().toISOString(),
  };
  await saveCheckpoint(run.runDir, { G: step.generator, D: step.discriminator }, { state, weights, adam });
}

async function writeSamples(run: Run, epoch: number): Promise<void> {
  const s = run.opts.samples;
  if (!s) return;
  syncModels(run);
  const out = tf.tidy(() => {
    const x = tf.tensor4d(s.input, [s.n, s.height, s.width, 3]);
    const m = tf.tensor4d(s.mask, [s.n, s.height, s.width, 1]);
    return run.step.generate(x, m);
  });
  const data = new Float32Array(out.dataSync());
  out.dispose();
  await writeSampleGrid(join(run.runDir, 'samples', `epoch-${String(epoch).padStart(3, '0')}.png`), s.input, data, s.real, s.n, s.height, s.width);
}

/**
 * Finish: when the run did not fail, the loss curves and, when done, the generator as a model folder
 * with its model card and the `done` event; after a non-finite step the last good checkpoint's weights
 * are put back in memory. Returns the result (the caller owns the generator).
 */
async function finish(run: Run): Promise<TrainResult> {
  const { cfg, pos, runDir } = run;
  if (run.status !== 'nonfinite') {
    await writeTrainingReport(runDir, run.notes);
    if (run.status === 'done') {
      await saveGenerator(run);
      run.message = `trained ${pos.step} steps (${cfg.epochs} epochs); generator saved to ${join(runDir, 'generator')}`;
      run.log.append({ type: 'event', step: pos.step, event: 'done', message: run.message });
    }
  } else {
    // restore the last good weights in memory too, so the returned generator is the checkpointed one
    const good = findCheckpoint(runDir);
    if (good) {
      const ck = await loadCheckpoint(good);
      run.step.setWeights('G', ck.weights.G);
      run.step.setWeights('D', ck.weights.D);
    }
  }
  run.progress?.finish(run.message);
  if (run.sumCount > 0) run.lastLosses = meanLosses(run);
  run.step.discriminator.dispose();
  return {
    status: run.status, steps: pos.step, epochsDone: pos.epoch, runDir, generatorDir: join(runDir, 'generator'),
    lastLosses: run.lastLosses, message: run.message, notes: run.notes, generator: run.step.generator,
  };
}
