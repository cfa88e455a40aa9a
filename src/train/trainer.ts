/**
 * The GAN trainer: Adam on G and D (plain-JS Adam, exactly resumable), data-parallel gradients
 * through a StepRunner (this process, or the worker pool), atomic checkpoints with optimizer state
 * and data position, a JSONL log, a progress bar with ETA, per-epoch sample grids, interactive loss curves (losses.html),
 * and NaN/Inf detection that stops cleanly and keeps the last good checkpoint.
 */
import { promises as fsp, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { Progress } from '../util/progress.ts';
import { saveHarmonizationModel } from '../pipeline/model.ts';
import { writeFileAtomic, removeStaleTempFiles } from '../util/atomic.ts';
import { loadModel } from '../models/io.ts';
import { writeTrainingReport } from '../report/training.ts';
import { createAdamState } from '../engine/parallel/adam.ts';
import { LocalEngine, PoolEngine } from './engines.ts';
import type { TrainEngine } from './engines.ts';
import { createFeatureExtractor, resolveFeatureSource } from './features.ts';
import { validateTrainConfig } from './config.ts';
import type { TrainConfig } from './config.ts';
import { GanStep } from './step.ts';
import type { TrainBatch } from './step.ts';
import { saveCheckpoint, loadCheckpoint, findCheckpoint, CHECKPOINT_VERSION } from './checkpoint.ts';
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
  /** Stop (with a checkpoint) after this many steps in total: for tests and time-boxed runs. */
  maxSteps?: number;
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
  status: 'done' | 'stopped' | 'nonfinite';
  steps: number;
  epochsDone: number;
  runDir: string;
  /** The final generator: a harmonization model folder (TensorFlow.js model.json + weights.bin + harmonia.json), usable by `harmonia harmonize --model`. */
  generatorDir: string;
  /** Mean losses over the last epoch trained in this call (or the last steps). */
  lastLosses: Record<string, number>;
  message: string;
  notes: string[];
  /** The live generator (caller disposes). */
  generator: tf.LayersModel;
}

function allFinite(losses: Record<string, number>): boolean {
  return Object.values(losses).every((v) => Number.isFinite(v));
}

/** Copies the trainable weights of the generator saved in `dir` into the step's G (same architecture). */
async function initGeneratorFrom(step: GanStep, dir: string): Promise<void> {
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

/** Trains G and D. See TrainOptions. */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const cfg = opts.config;
  validateTrainConfig(cfg);
  const runDir = opts.runDir;
  const notes = [...(opts.notes ?? [])];
  await fsp.mkdir(runDir, { recursive: true });
  for (const f of readdirSync(runDir)) if (f.startsWith('.checkpoint.tmp-')) await fsp.rm(join(runDir, f), { recursive: true, force: true });
  // killed after a checkpoint swap but before the old copy was removed: the new one is complete, drop the old
  if (existsSync(join(runDir, 'checkpoint', 'state.json'))) await fsp.rm(join(runDir, '.checkpoint.old'), { recursive: true, force: true });
  // temp files of writes that a killed run left unfinished
  for (const d of [runDir, join(runDir, 'samples'), join(runDir, 'generator')]) if (existsSync(d)) await removeStaleTempFiles(d);
  const log = new JsonlLog(join(runDir, 'log.jsonl'));
  const existing = findCheckpoint(runDir);
  if (existing && !opts.resume && !opts.overwrite) {
    throw new HarmoniaError(`${runDir} already has a checkpoint: pass --resume to continue it or --overwrite to start over`);
  }
  if (opts.resume && !existing) throw new HarmoniaError(`nothing to resume: no checkpoint in ${runDir}`);
  if (opts.overwrite && !opts.resume) {
    await fsp.rm(join(runDir, 'checkpoint'), { recursive: true, force: true });
    await fsp.rm(join(runDir, '.checkpoint.old'), { recursive: true, force: true });
    await log.reset();
  }

  let features: Awaited<ReturnType<typeof createFeatureExtractor>> | undefined;
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
  let pos = { step: 0, epoch: 0, batch: 0 };
  try {
    if (opts.resume && existing) {
      const ck = await loadCheckpoint(existing);
      const a = JSON.stringify({ ...ck.state.config, workers: 0 }), b = JSON.stringify({ ...cfg, workers: 0, epochs: ck.state.config.epochs });
      if (a !== b) {
        throw new HarmoniaError(`--resume: the checkpoint in ${existing} was trained with a different configuration (only epochs and workers may change)`);
      }
      engine.setState({ weights: ck.weights, adam: ck.adam });
      pos = { step: ck.state.step, epoch: ck.state.epoch, batch: ck.state.batch };
      for (const n of ck.state.notes) if (!notes.includes(n)) notes.push(n);
      log.truncateAfter(pos.step);
      log.append({ type: 'event', step: pos.step, event: 'resume', message: `resumed at step ${pos.step} (epoch ${pos.epoch + 1}, batch ${pos.batch}); ${engine.description}` });
    } else {
      if (opts.initGenerator) await initGeneratorFrom(step, opts.initGenerator);
      engine.setState({ weights: { G: step.getWeights('G'), D: step.getWeights('D') }, adam: { G: createAdamState(step.sizes('G')), D: createAdamState(step.sizes('D')) } });
      // no checkpoint to continue from: records of a run killed before its first checkpoint would
      // otherwise stay in the log (steps logged twice, wrong loss curves)
      await log.reset();
      log.append({ type: 'event', step: 0, event: 'start', message: `training started; ${engine.description}`, config: cfg, notes });
    }
  } catch (err) {
    await engine.dispose();
    features?.dispose();
    step.dispose();
    throw err;
  }
  await writeFileAtomic(join(runDir, 'config.json'), JSON.stringify({ config: cfg, notes }, null, 1));

  const perEpoch = opts.data.batchesPerEpoch;
  if (!(perEpoch > 0)) throw new HarmoniaError('training data: no batches (is the training set empty or smaller than the batch size?)');
  const totalSteps = cfg.epochs * perEpoch;
  const progress = new Progress('train', totalSteps, { quiet: opts.quiet });
  progress.set(pos.step);
  const sums: Record<string, number> = {};
  let sumCount = 0;
  let status = 'done' as TrainResult['status'];
  let lastLosses: Record<string, number> = {};
  if (pos.step > 0) {
    // resumed: the epoch means (log events, the model card's train_* metrics) must cover the steps
    // trained before the interruption too; the log holds them exactly (JSON round-trips doubles)
    const done = stepRecords(log.read()).filter((r) => r.step <= pos.step);
    const add = (into: Record<string, number>, losses: Record<string, number>) => { for (const [k, v] of Object.entries(losses)) into[k] = (into[k] ?? 0) + v; };
    const prev: Record<string, number> = {};
    let prevCount = 0;
    for (const r of done) {
      if (r.epoch === pos.epoch) { add(sums, r.losses); sumCount += 1; } else if (r.epoch === pos.epoch - 1) { add(prev, r.losses); prevCount += 1; }
    }
    if (prevCount > 0) lastLosses = Object.fromEntries(Object.entries(prev).map(([k, v]) => [k, v / prevCount]));
  }
  let message = '';

  /** Makes the main-thread models hold the engine's weights (they are the same in single-process mode). */
  const syncModels = () => {
    const st = engine.getState();
    if (cfg.workers !== 1) { step.setWeights('G', st.weights.G); step.setWeights('D', st.weights.D); }
    return st;
  };
  const checkpoint = async () => {
    const { weights, adam } = syncModels();
    const state: CheckpointState = {
      version: CHECKPOINT_VERSION, config: cfg, notes, step: pos.step, epoch: pos.epoch, batch: pos.batch,
      adam: { G: { t: adam.G.t, sizes: step.sizes('G') }, D: { t: adam.D.t, sizes: step.sizes('D') } },
      savedAt: new Date().toISOString(),
    };
    await saveCheckpoint(runDir, { G: step.generator, D: step.discriminator }, { state, weights, adam });
  };
  const writeCurves = async () => {
    await writeTrainingReport(runDir, notes);
  };
  const writeSamples = async (epoch: number) => {
    const s = opts.samples;
    if (!s) return;
    syncModels();
    const out = tf.tidy(() => {
      const x = tf.tensor4d(s.input, [s.n, s.height, s.width, 3]);
      const m = tf.tensor4d(s.mask, [s.n, s.height, s.width, 1]);
      return step.generate(x, m);
    });
    const data = new Float32Array(out.dataSync());
    out.dispose();
    await writeSampleGrid(join(runDir, 'samples', `epoch-${String(epoch).padStart(3, '0')}.png`), s.input, data, s.real, s.n, s.height, s.width);
  };

  try {
    outer: while (pos.epoch < cfg.epochs) {
      for await (const batch of opts.data.epoch(pos.epoch, pos.batch)) {
        if (opts.maxSteps !== undefined && pos.step >= opts.maxSteps) { status = 'stopped'; break outer; }
        const t0 = Date.now();
        const r = await engine.step(batch);
        if (!r.ok) {
          status = 'nonfinite';
          const good = findCheckpoint(runDir);
          message = `non-finite ${r.phase} loss or gradient at step ${pos.step + 1} (${r.detail}; losses ${JSON.stringify(r.losses)}); ` +
            `stopped; ${good ? `the last good checkpoint (${good}) is kept` : 'no checkpoint had been written yet'}`;
          log.append({ type: 'event', step: pos.step, event: 'nonfinite', message, phase: r.phase, losses: r.losses });
          break outer;
        }
        const losses: Record<string, number> = r.losses;
        pos.step += 1;
        pos.batch += 1;
        for (const [k, v] of Object.entries(losses)) sums[k] = (sums[k] ?? 0) + v;
        sumCount += 1;
        log.append({ type: 'step', step: pos.step, epoch: pos.epoch, batch: pos.batch - 1, losses, gradNormG: r.gradNormG, gradNormD: r.gradNormD, seconds: (Date.now() - t0) / 1000 });
        progress.tick(1, `epoch ${pos.epoch + 1}/${cfg.epochs} L_G ${losses.g.toFixed(3)} L_D ${losses.d.toFixed(3)}`);
        opts.onStep?.({ step: pos.step, epoch: pos.epoch, batch: pos.batch - 1, losses });
        if (pos.batch >= perEpoch) {
          pos.epoch += 1;
          pos.batch = 0;
          await writeSamples(pos.epoch);
          await checkpoint();
          await writeCurves();
          lastLosses = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / sumCount]));
          for (const k of Object.keys(sums)) delete sums[k];
          sumCount = 0;
          log.append({ type: 'event', step: pos.step, event: 'epoch', message: `epoch ${pos.epoch} done`, means: lastLosses });
          break;
        }
        if (pos.step % cfg.checkpointEvery === 0) await checkpoint();
      }
      if (pos.batch !== 0) {
        // the source ran dry before batchesPerEpoch: treat it as the end of the epoch
        pos.epoch += 1;
        pos.batch = 0;
        await writeSamples(pos.epoch);
        await checkpoint();
        await writeCurves();
      }
    }
    if (status === 'stopped') {
      await checkpoint();
      message = `stopped after ${pos.step} steps (maxSteps); resume with --resume`;
    }
    if (status !== 'nonfinite') syncModels();
  } finally {
    await engine.dispose();
    features?.dispose();
  }
  if (status !== 'nonfinite') {
    await writeCurves();
    if (status === 'done') {
      await saveHarmonizationModel(join(runDir, 'generator'), step.generator, cfg.generator, {
        name: `gan-${cfg.loss.setting}`,
        input: opts.input ?? 'semiHarmonized',
        trainedOn: opts.trainedOn,
        command: process.argv.slice(1).join(' '),
        metrics: Object.fromEntries(Object.entries(lastLosses).map(([k, v]) => [`train_${k}`, Number(v.toFixed(5))])),
        notes: [`${cfg.loss.setting} setting, ${pos.step} steps, ${cfg.epochs} epochs, crop ${cfg.crop}, seed ${cfg.seed}`, ...notes],
      });
      message = `trained ${pos.step} steps (${cfg.epochs} epochs); generator saved to ${join(runDir, 'generator')}`;
      log.append({ type: 'event', step: pos.step, event: 'done', message });
    }
  } else {
    // restore the last good weights in memory too, so the returned generator is the checkpointed one
    const good = findCheckpoint(runDir);
    if (good) {
      const ck = await loadCheckpoint(good);
      step.setWeights('G', ck.weights.G);
      step.setWeights('D', ck.weights.D);
    }
  }
  progress.finish(message);
  if (sumCount > 0) lastLosses = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / sumCount]));
  step.discriminator.dispose();
  return {
    status, steps: pos.step, epochsDone: pos.epoch, runDir, generatorDir: join(runDir, 'generator'),
    lastLosses, message, notes, generator: step.generator,
  };
}

