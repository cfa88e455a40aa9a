import type { Command } from '../types.ts';
import { info } from './info.ts';
import { harmonizeCommand } from './harmonize.ts';
import { demoCommand } from './demo.ts';
import { makeProcedural } from './make-procedural.ts';
import { makeCompositesCommand } from './make-composites.ts';
import { evaluateCommand } from './evaluate.ts';
import { weightsCommand } from './weights.ts';
import { intrinsicCommand } from './intrinsic.ts';
import { trainCommand } from './train.ts';
import { experimentCommand } from './experiment.ts';
import { sweepCommand } from './sweep.ts';
import { exportOnnxCommand } from './export-onnx.ts';
import { trainLightCommand } from './train-light.ts';
import { reportCommand } from './report.ts';
import { serveCommand } from './serve.ts';
import { enqueueCommand } from './enqueue.ts';
import { workerCommand } from './worker.ts';
import { jobsCommand } from './jobs.ts';

/** All sub-commands, in the order `harmonia --help` lists them. Add one line per new command. */
export const commands: Command[] = [
  info,
  harmonizeCommand,
  demoCommand,
  makeProcedural,
  makeCompositesCommand,
  evaluateCommand,
  weightsCommand,
  intrinsicCommand,
  trainCommand,
  experimentCommand,
  sweepCommand,
  exportOnnxCommand,
  trainLightCommand,
  reportCommand,
  serveCommand,
  enqueueCommand,
  workerCommand,
  jobsCommand,
];
