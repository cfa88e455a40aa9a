import type { Command, OptionSpec } from '../types.ts';
import { HarmoniaError } from '../../errors.ts';
import { initEngine } from '../../engine/index.ts';
import type { BackendRequest } from '../../engine/index.ts';
import { join } from 'node:path';
import { getPreset, settingConfig, PRESET_NAMES } from '../../train/presets.ts';
import { mergeTrainConfig, validateTrainConfig, type TrainConfig } from '../../train/config.ts';
import { checkRunFolder, checkRunLock, lockRunFolder, readCheckpointState } from '../../train/checkpoint.ts';
import { checkOutputs, type SafetyInput, type SafetyOutput } from '../../util/output-safety.ts';
import { FLAG_RANGES, TRAIN_LOSS_WEIGHT_RANGE, TRAIN_MAX_STEP_PIXELS, numberFlag, type FlagRange } from '../flags.ts';
import { choiceFlag } from '../usage.ts';
import type { PartialTrainConfig } from '../../train/config.ts';
import { prepareSplit, toMemorySamples } from '../../train/dataset.ts';
import { memorySource, makeBatch } from '../../data/memory.ts';
import { train, stopOnSignals } from '../../train/trainer.ts';
import type { BatchSource } from '../../train/trainer.ts';
import type { TrainBatch } from '../../train/step.ts';
import { ADVERSARIAL_KINDS, allLossWeights, allLossLists, lossSettingNames, assertLossSetting } from '../../losses/index.ts';
import { CompositeStream } from '../../data/stream.ts';
import { generatorNames, generatorConfig, generatorEntryOf, generatorKind, generatorOptionsByFlag } from '../../models/registry.ts';
import type { GeneratorConfig } from '../../models/generator-config.ts';
import type { AdversarialKind } from '../../losses/index.ts';
import { BACKEND_REQUESTS, listWords } from '../../config/index.ts';

type Values = Record<string, string | boolean | string[] | undefined>;

/** The loss flags, one per weight and list option of the registered loss settings and add-on terms (src/losses/registry.ts). */
export function lossOptions(): Record<string, OptionSpec> {
  const out: Record<string, OptionSpec> = {};
  const who = (settings: string[]) => (settings.length ? `${settings.join('/')} setting${settings.length > 1 ? 's' : ''}: ` : '');
  for (const { weight, settings } of allLossWeights()) out[weight.flag] = { type: 'string', description: who(settings) + weight.description };
  for (const { list, settings } of allLossLists()) out[list.flag] = { type: 'string', description: who(settings) + list.description };
  return out;
}

/** Options shared by train, experiment and sweep: preset overrides (the loss flags come from the loss registry). */
export function trainOptions(): Record<string, OptionSpec> {
  return { ...TRAIN_OPTIONS_BASE, ...lossOptions(), ...TRAIN_OPTIONS_TAIL, ...generatorOptions() };
}

/** The generator options' flags, from the registry entries (a user module's generator adds its own). */
function generatorOptions(): Record<string, OptionSpec> {
  const out: Record<string, OptionSpec> = {};
  for (const [flag, { option, kinds }] of generatorOptionsByFlag()) {
    out[flag] = { type: 'string', description: `${kinds.join('/')} generator${kinds.length > 1 ? 's' : ''}: ${option.description}${option.type === 'boolean' ? ': on|off' : ''}` };
  }
  return out;
}

/** The generator options given on the command line, as GeneratorConfig fields. */
function givenGeneratorOptions(v: Values): GeneratorConfig {
  const out: Record<string, unknown> = {};
  for (const [flag, { option }] of generatorOptionsByFlag()) {
    if (option.type === 'boolean') {
      const b = onOff(v, flag);
      if (b !== undefined) out[option.key] = b;
      continue;
    }
    const range = (R as Record<string, FlagRange>)[flag] ?? { min: option.min ?? -Number.MAX_VALUE, max: option.max ?? Number.MAX_VALUE, integer: option.type === 'integer' };
    const n = numberFlag(v, flag, range);
    if (n === undefined) continue;
    const problem = option.check?.(n);
    if (problem) throw new HarmoniaError(`--${flag}: ${problem}, got ${n}`);
    out[option.key] = n;
  }
  return out as GeneratorConfig;
}

const TRAIN_OPTIONS_BASE: Record<string, OptionSpec> = {
  config: { type: 'string', default: 'cpu', description: `preset: ${PRESET_NAMES.join(', ')}` },
  data: { type: 'string', description: 'iHarmony4-layout data folder (train/test lists)' },
  out: { type: 'string', description: 'output folder' },
  epochs: { type: 'string', description: 'epochs per loss setting (replaces the preset value)' },
  batch: { type: 'string', description: 'batch size' },
  crop: { type: 'string', description: 'training crop size (a multiple of the generator\'s stride)' },
  lr: { type: 'string', description: 'Adam learning rate (paper 2e-4)' },
  beta1: { type: 'string', description: 'Adam β1 (paper 0.5)' },
  seed: { type: 'string', description: 'seed for weights and data order' },
  workers: { type: 'string', description: 'data-parallel workers: 1 or 2' },
  'checkpoint-every': { type: 'string', description: 'checkpoint every N steps' },
  adversarial: { type: 'string', description: `adversarial loss: ${ADVERSARIAL_KINDS.join(', ')}` },
  'log-ratio-floor': { type: 'string', description: 'floor ε of the --log-ratio and --worse-log terms, as an fMSE on the 0–255 scale (default 0.65); ~25 keeps identity samples from dominating' },
};

const TRAIN_OPTIONS_TAIL: Record<string, OptionSpec> = {
  generator: { type: 'string', description: `generator by name: ${generatorNames().join(', ')} (replaces the preset's generator)` },
  'patch-d': { type: 'string', description: 'PatchGAN discriminator conditioned on the mask: on|off' },
  vgg19: { type: 'string', description: 'path of torchvision vgg19-dcbb9e9d.pth (default $HARMONIA_VGG19 or the weights folder)' },
  'allow-random-features': { type: 'boolean', description: 'run the feature setting on a random VGG-19 when the weights are missing (every output says so)' },
  overwrite: { type: 'boolean', description: 'start over, deleting existing checkpoints in the output folder' },
  cache: { type: 'string', description: 'intrinsic-stage cache folder (default <out>/cache)' },
  backend: { type: 'string', default: 'auto', description: `TensorFlow.js backend: ${listWords(BACKEND_REQUESTS)}` },
  quiet: { type: 'boolean', description: 'no progress bar' },
};

const R = FLAG_RANGES.train;

/** A numeric training flag checked against its documented range (src/cli/flags.ts), named as typed. */
function num(v: Values, key: keyof typeof R): number | undefined {
  return numberFlag(v, key, R[key]);
}

function onOff(v: Values, key: string): boolean | undefined {
  const s = v[key];
  if (s === undefined) return undefined;
  if (s === 'on' || s === 'true' || s === '1') return true;
  if (s === 'off' || s === 'false' || s === '0') return false;
  throw new HarmoniaError(`--${key}: expected on or off, got "${String(s)}"`);
}

export function requireString(v: Values, key: string): string {
  const s = v[key];
  if (typeof s !== 'string' || !s) throw new HarmoniaError(`--${key} is required`);
  return s;
}

/** Maps the shared flags onto a partial TrainConfig (no logic beyond parsing). */
export function trainOverrides(v: Values): PartialTrainConfig {
  const o: PartialTrainConfig = {};
  const set = <K extends keyof PartialTrainConfig>(k: K, val: PartialTrainConfig[K] | undefined) => { if (val !== undefined) o[k] = val; };
  set('epochs', num(v, 'epochs'));
  set('batchSize', num(v, 'batch'));
  set('crop', num(v, 'crop'));
  set('seed', num(v, 'seed'));
  set('checkpointEvery', num(v, 'checkpoint-every'));
  const w = num(v, 'workers');
  if (w !== undefined) o.workers = w as 1 | 2;
  const lr = num(v, 'lr'), b1 = num(v, 'beta1');
  if (lr !== undefined || b1 !== undefined) o.optimizer = { ...(lr !== undefined ? { lr } : {}), ...(b1 !== undefined ? { beta1: b1 } : {}) };
  const loss: NonNullable<PartialTrainConfig['loss']> = {};
  if (typeof v.adversarial === 'string') {
    if (!(ADVERSARIAL_KINDS as readonly string[]).includes(v.adversarial)) throw new HarmoniaError(`--adversarial: must be one of ${ADVERSARIAL_KINDS.join(', ')}, got "${v.adversarial}"`);
    loss.adversarial = v.adversarial as AdversarialKind;
  }
  const floor = num(v, 'log-ratio-floor');
  if (floor !== undefined) loss.logRatioFloor = floor;
  const lossFields = loss as Record<string, unknown>;
  for (const { weight } of allLossWeights()) {
    const w = numberFlag(v, weight.flag, TRAIN_LOSS_WEIGHT_RANGE);
    if (w === undefined) continue;
    lossFields[weight.key] = w;
  }
  for (const { list } of allLossLists()) {
    const s = v[list.flag];
    if (typeof s === 'string') lossFields[list.key] = s.split(',').map((x) => x.trim()).filter(Boolean);
  }
  if (Object.keys(loss).length) o.loss = loss;
  const patch = onOff(v, 'patch-d');
  // the generator's own options (registry entries: flags and checks), over the config its --generator name stands for
  const given = givenGeneratorOptions(v);
  if (Object.keys(given).length) o.generator = given;
  if (typeof v.generator === 'string') {
    if (!generatorNames().includes(v.generator)) throw new HarmoniaError(`--generator: unknown generator "${v.generator}" (choose ${generatorNames().join(', ')})`);
    o.generator = { ...generatorConfig(v.generator), ...o.generator };
  }
  if (patch !== undefined) o.discriminator = { kind: patch ? 'patch' : 'image', maskInput: patch };
  if (typeof v.vgg19 === 'string') o.vggWeights = v.vgg19;
  if (v['allow-random-features']) o.allowRandomFeatures = true;
  return o;
}

/**
 * The checks that depend on several flags, before any work (issue 17), each naming the flags as typed:
 * --crop a multiple of the generator's stride and within the training images (--size with --real, the preset's image size
 * otherwise), --batch × --crop² within TRAIN_MAX_STEP_PIXELS, --batch even with --workers 2; then the
 * merged config as a whole. Exported for experiment/sweep.
 */
export function checkTrainFlags(cfg: TrainConfig, opts: { imageSize: number; imageFlag: string }): void {
  const stride = generatorEntryOf(cfg.generator).stride;
  if (cfg.crop % stride !== 0) throw new HarmoniaError(`--crop must be a multiple of ${stride} (the "${generatorKind(cfg.generator)}" generator's stride): got ${cfg.crop}`);
  if (cfg.crop > opts.imageSize) throw new HarmoniaError(`--crop ${cfg.crop} is larger than the ${opts.imageSize}×${opts.imageSize} training images (${opts.imageFlag})`);
  const px = cfg.batchSize * cfg.crop * cfg.crop;
  if (px > TRAIN_MAX_STEP_PIXELS) {
    throw new HarmoniaError(`--batch ${cfg.batchSize} × --crop ${cfg.crop}² = ${px.toLocaleString('en-US')} pixels a step is over the ${TRAIN_MAX_STEP_PIXELS.toLocaleString('en-US')} limit (memory): lower --batch or --crop`);
  }
  if (cfg.workers === 2 && cfg.batchSize % 2 !== 0) throw new HarmoniaError(`--batch must be even with --workers 2 (each worker takes half): got ${cfg.batchSize}`);
  validateTrainConfig(cfg);
}

/**
 * --resume / --overwrite against what is in the run folder, before any work: a checkpoint to resume
 * must exist, its state.json must pass the schema (a hand-edited or corrupt one is refused) and its
 * config must match (only epochs and workers may change); an existing checkpoint needs one of the two flags.
 */
export async function checkResume(out: string, cfg: TrainConfig, resume: boolean, overwrite: boolean): Promise<void> {
  const existing = checkRunFolder(out, { resume, overwrite }); // a checkpoint or a finished run needs --resume / --overwrite
  if (!resume || !existing) return;
  const state = await readCheckpointState(existing);
  const a = JSON.stringify({ ...state.config, workers: 0 }), b = JSON.stringify({ ...cfg, workers: 0, epochs: state.config.epochs });
  if (a !== b) throw new HarmoniaError(`--resume: the checkpoint in ${existing} was trained with a different configuration (only epochs and workers may change)`);
}

/** The files a train run folder gets (trainer.ts) that the output rule checks before any work. */
export const RUN_FILES = ['config.json', 'log.jsonl', 'losses.html'] as const;

/**
 * The output rule for `train` (issue 28): --out is a run folder (never an input, a model folder or a
 * dataset), its config.json, log.jsonl and losses.html are never a device, FIFO or (without
 * --overwrite) a read-only file; the data folder, --init and --cache are inputs. Returns the plan.
 */
export function checkTrainOutputs(values: Values, out: string, data: string): { inputs: SafetyInput[]; outputs: SafetyOutput[] } {
  const inputs: SafetyInput[] = [{ path: data, what: 'data folder', kind: 'folder' }];
  if (typeof values.init === 'string') inputs.push({ path: values.init, what: 'generator folder (--init)', kind: 'folder' });
  const rebuilds = { path: out, kinds: ['run'] as const };
  const outputs: SafetyOutput[] = [{ path: out, flag: '--out', kind: 'folder', mkdir: true, rebuilds },
    ...RUN_FILES.map((f): SafetyOutput => ({ path: join(out, f), flag: `--out (${f})`, kind: 'file', mkdir: true, rebuilds }))];
  if (typeof values.cache === 'string') outputs.push({ path: values.cache, flag: '--cache', kind: 'folder', mkdir: true }); // the intrinsic cache it fills
  checkOutputs(inputs, outputs, { overwrite: Boolean(values.overwrite) });
  return { inputs, outputs };
}

export async function startEngine(v: Values): Promise<void> {
  const e = await initEngine({ backend: choiceFlag<BackendRequest>(v, 'backend', BACKEND_REQUESTS) ?? 'auto' });
  if (!v.quiet) console.error(`backend: ${e.backend} (${e.reason})`);
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'train the GAN refinement (one loss setting) with checkpoints, logs, sample grids and loss curves',
  get usage(): string {
    return `harmonia train (--data <dir> | --real <photos dir>) --out <run folder> [--config cpu] [--setting ${lossSettingNames().join('|')}] [--resume] [options]`;
  },
  get options(): Record<string, OptionSpec> {
    return {
      ...trainOptions(),
      real: { type: 'string', description: 'train on composites synthesised on the fly from the training split of these real photos + masks (unlimited data; G sees the raw composite)' },
      size: { type: 'string', description: 'with --real: side of the square training samples (default: the preset size)' },
      illumination: { type: 'string', description: 'with --real: probability that a composite is also re-lit (default 0.2)' },
      'batches-per-epoch': { type: 'string', description: 'with --real: batches per epoch (default: training photos / batch size)' },
      procedural: { type: 'string', description: 'with --real: share of samples that are procedural scenes (re-lit objects with known ground truth), in [0, 1]; default 0' },
      identity: { type: 'string', description: 'with --real: share of identity samples (the real photo is input and target: teaches G to leave a harmonious foreground alone), in [0, 1]; default 0' },
      mild: { type: 'string', description: 'with --real: share of mild composites (foreground MSE 4–100, below the ordinary range), in [0, 1]; default 0' },
      init: { type: 'string', description: 'start G from this generator folder (fine-tuning; same --generator and options); D and Adam start fresh' },
      setting: { type: 'string', description: `loss setting: ${lossSettingNames().join(', ')} (default: the preset's, content for the paper presets)` },
      resume: { type: 'boolean', description: 'continue the checkpoint in --out exactly (same data order and optimizer state)' },
      'max-steps': { type: 'string', description: 'stop (with a checkpoint) after this many steps in total' },
    };
  },
  async run({ values }) {
    const preset = getPreset(String(values.config));
    const setting = values.setting === undefined ? preset.train.loss.setting : String(values.setting);
    assertLossSetting(setting, '--setting');
    const realDir = typeof values.real === 'string' ? values.real : undefined;
    const data = realDir ?? requireString(values, 'data');
    const out = requireString(values, 'out');
    const over = trainOverrides(values);
    const size = num(values, 'size');
    if (size !== undefined && !realDir) throw new HarmoniaError('--size: only with --real (fixed sets are resized to the preset size)');
    if (size !== undefined) { over.size = size; over.crop = over.crop ?? size; }
    const illumination = num(values, 'illumination');
    if (illumination !== undefined && !realDir) throw new HarmoniaError('--illumination: only with --real');
    const procedural = num(values, 'procedural');
    if (procedural !== undefined && !realDir) throw new HarmoniaError('--procedural: only with --real');
    const bpe = num(values, 'batches-per-epoch');
    if (bpe !== undefined && !realDir) throw new HarmoniaError('--batches-per-epoch: only with --real');
    const identity = num(values, 'identity'), mild = num(values, 'mild');
    if (identity !== undefined && !realDir) throw new HarmoniaError('--identity: only with --real');
    if (mild !== undefined && !realDir) throw new HarmoniaError('--mild: only with --real');
    if ((identity ?? 0) + (mild ?? 0) > 1) throw new HarmoniaError(`--identity ${identity ?? 0} + --mild ${mild ?? 0}: the shares add up to more than 1`);
    if (realDir) over.stream = { identity: identity ?? 0, mild: mild ?? 0, procedural: procedural ?? 0, illumination: illumination ?? 0.2, ...(bpe !== undefined ? { batchesPerEpoch: bpe } : {}) };
    const cfg = mergeTrainConfig(settingConfig(preset, setting), over);
    const maxSteps = num(values, 'max-steps');
    // every flag and the run folder's checkpoint are checked before the engine, the data or the cache
    checkTrainFlags(cfg, realDir ? { imageSize: size ?? cfg.size, imageFlag: size !== undefined ? '--size' : `the --config ${String(values.config)} sample size` } : { imageSize: preset.evalSize, imageFlag: `--config ${String(values.config)}` });
    checkRunLock(out); // another train in --out: say so before reading the checkpoint it rewrites
    await checkResume(out, cfg, Boolean(values.resume), Boolean(values.overwrite));
    checkTrainOutputs(values, out, realDir ?? data); // the output rule (issue 28): its files, never an input, a model or a dataset
    const unlock = lockRunFolder(out); // one writer per run folder: a second train into --out fails here
    let source: BatchSource, samples: TrainBatch, stream: CompositeStream | undefined;
    try { // the lock is released on an error before train() (and by the finally below after it)
    await startEngine(values);
    if (realDir) {
      const mix = cfg.stream as NonNullable<TrainConfig['stream']>;
      stream = await CompositeStream.create({ real: realDir, size: cfg.crop, batchSize: cfg.batchSize, seed: cfg.seed, flip: cfg.flip, ...mix });
      if (!values.quiet) console.error(`data: composites synthesised on the fly from ${stream.photoCount} training photos in ${realDir} (${stream.batchesPerEpoch} batches per epoch)`);
      source = stream;
      const first = stream.batch(0, 0);
      const k = Math.min(cfg.sampleCount, first.n), px = first.height * first.width;
      samples = { ...first, n: k, input: first.input.slice(0, k * px * 3), real: first.real.slice(0, k * px * 3), mask: first.mask.slice(0, k * px), ids: first.ids.slice(0, k) };
    } else {
      const trainSet = await prepareSplit(data, 'train', { size: preset.evalSize, cacheRoot: typeof values.cache === 'string' ? values.cache : join(out, 'cache'), intrinsic: preset.intrinsic, limit: preset.trainLimit, quiet: Boolean(values.quiet) });
      source = memorySource(toMemorySamples(trainSet), { height: preset.evalSize, width: preset.evalSize, batchSize: cfg.batchSize, seed: cfg.seed, flip: cfg.flip, crop: cfg.crop });
      samples = makeBatch(toMemorySamples(trainSet.slice(0, cfg.sampleCount)), preset.evalSize, preset.evalSize);
    }
    } catch (err) { unlock(); await stream?.dispose(); throw err; }
    let r: Awaited<ReturnType<typeof train>>;
    // Ctrl-C / SIGTERM: stop after the step in progress with a checkpoint and a usable generator/ (a second one quits at once)
    const stop = stopOnSignals((sig) => console.error(`\n${sig}: stopping after this step, saving the checkpoint and ${join(out, 'generator')} (${sig} again quits at once)`));
    try {
      r = await train({
        config: cfg, runDir: out, data: source, samples, resume: Boolean(values.resume), overwrite: Boolean(values.overwrite),
        quiet: Boolean(values.quiet), maxSteps, trainedOn: data, input: realDir ? 'composite' : 'semiHarmonized',
        initGenerator: typeof values.init === 'string' ? values.init : undefined, signal: stop.signal,
      });
    } finally {
      stop.dispose();
      await stream?.dispose();
      unlock();
    }
    r.generator.dispose();
    for (const n of r.notes) console.error(`NOTE: ${n}`);
    console.log(r.message);
    return r.status === 'nonfinite' ? 3 : r.status === 'interrupted' ? 130 : 0;
  },
};
