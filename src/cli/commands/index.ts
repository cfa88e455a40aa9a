import type { Command } from '../types.ts';

/**
 * A sub-command as `harmonia --help` lists it, and its module, imported only when the command runs:
 * start-up loads no command module (each pulls in its own dependencies: TensorFlow.js, sharp, ONNX
 * Runtime, fastify, BullMQ…), so `harmonia --help` and an unknown command stay fast and one command
 * never pays for another's imports. `summary` repeats the command's own (test/cli/commands.test.ts
 * checks that every entry loads a command of the same name and summary).
 */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

/** All sub-commands, in the order `harmonia --help` lists them. Add one entry per new command. */
export const commandList: readonly CommandEntry[] = [
  {
    name: 'info',
    summary: 'show the TensorFlow.js backend and the inference engine of the generator Harmonia picks, and why',
    load: async () => (await import('./info.ts')).info,
  },
  {
    name: 'harmonize',
    summary: 'harmonize a composite (or a folder of them) with the default model',
    load: async () => (await import('./harmonize.ts')).harmonizeCommand,
  },
  {
    name: 'demo',
    summary: 'the built-in default job (npm start): harmonize procedural scenes and write an HTML report',
    load: async () => (await import('./demo.ts')).demoCommand,
  },
  {
    name: 'make-procedural',
    summary: 'render a procedural composite dataset with intrinsic ground truth (iHarmony4 layout)',
    load: async () => (await import('./make-procedural.ts')).makeProcedural,
  },
  {
    name: 'make-composites',
    summary: 'synthesise HFlickr-style composites from real photos + masks (iHarmony4 layout out)',
    load: async () => (await import('./make-composites.ts')).makeCompositesCommand,
  },
  {
    name: 'evaluate',
    summary: 'metrics (MSE, PSNR, fMSE, fPSNR, bMSE, SSIM, LPIPS) of predictions vs the composite baseline',
    load: async () => (await import('./evaluate.ts')).evaluateCommand,
  },
  {
    name: 'weights',
    summary: 'where to put pretrained weights (LPIPS, VGG-19) and which are present and verified',
    load: async () => (await import('./weights.ts')).weightsCommand,
  },
  {
    name: 'intrinsic',
    summary: 'Intrinsic Compositing stage: semi-harmonize a composite (albedo edits + Lambertian re-shading), or pre-compute a dataset cache',
    load: async () => (await import('./intrinsic.ts')).intrinsicCommand,
  },
  {
    name: 'train',
    summary: 'train the GAN refinement (one loss setting) with checkpoints, logs, sample grids and loss curves',
    load: async () => (await import('./train.ts')).trainCommand,
  },
  {
    name: 'experiment',
    summary: 'the paper experiment: intrinsic stage, train content/mask/feature, evaluate all five methods → Table 1 (md, json, html)',
    load: async () => (await import('./experiment.ts')).experimentCommand,
  },
  {
    name: 'sweep',
    summary: 'train one loss setting over a grid of loss weights and evaluate each → table (md, json)',
    load: async () => (await import('./sweep.ts')).sweepCommand,
  },
  {
    name: 'export-onnx',
    summary: 'export a model folder’s generator to ONNX (model.onnx), optionally checked against TensorFlow.js',
    load: async () => (await import('./export-onnx.ts')).exportOnnxCommand,
  },
  {
    name: 'train-light',
    summary: 'train the learned background-light estimator of the intrinsic stage on procedural scenes',
    load: async () => (await import('./train-light.ts')).trainLightCommand,
  },
  {
    name: 'report',
    summary: 'write a training run folder\'s interactive loss curves (losses.html) from its log.jsonl',
    load: async () => (await import('./report.ts')).reportCommand,
  },
  {
    name: 'serve',
    summary: 'HTTP API: POST /harmonize, GET /health, GET /metrics, on a bounded pool of worker threads',
    load: async () => (await import('./serve.ts')).serveCommand,
  },
  {
    name: 'enqueue',
    summary: 'add one batch job per composite to a Redis queue (BullMQ) for `harmonia worker`',
    load: async () => (await import('./enqueue.ts')).enqueueCommand,
  },
  {
    name: 'worker',
    summary: 'take batch jobs from a Redis queue (BullMQ), harmonize, write outputs atomically; run as many as you like',
    load: async () => (await import('./worker.ts')).workerCommand,
  },
  {
    name: 'jobs',
    summary: 'progress of a batch queue: done, failed, waiting, missing outputs, throughput over busy time (and the failed jobs with their error)',
    load: async () => (await import('./jobs.ts')).jobsCommand,
  },
];

/** The entry of command `name`, or undefined. */
export function findCommand(name: string): CommandEntry | undefined {
  return commandList.find((c) => c.name === name);
}
