import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../types.ts';
import { HarmoniaError } from '../../errors.ts';
import { writeTrainingReport } from '../../train/curves.ts';
import { checkOutputs, type SafetyInput, type SafetyOutput } from '../../util/output-safety.ts';

/**
 * The output rule for `report` (issue 28), before anything is written: each folder is a training run
 * folder (it holds log.jsonl, the input); its losses.html is never a device, FIFO or, without
 * --overwrite, a read-only file, and never the log itself.
 */
export function planReport(values: Record<string, unknown>, positionals: readonly string[]): { inputs: SafetyInput[]; outputs: SafetyOutput[] } {
  if (positionals.length === 0) throw new HarmoniaError('name at least one training run folder (it holds log.jsonl)');
  const inputs: SafetyInput[] = [], outputs: SafetyOutput[] = [];
  for (const dir of positionals) {
    if (!existsSync(join(dir, 'log.jsonl'))) throw new HarmoniaError('no log.jsonl here: not a training run folder', { file: dir });
    inputs.push({ path: join(dir, 'log.jsonl'), what: 'training log' });
    outputs.push({ path: join(dir, 'losses.html'), flag: 'the report', hint: 'move it away first', kind: 'file', rebuilds: { path: dir, kinds: ['run'] }, ext: { list: ['.html'], format: 'HTML' } });
  }
  checkOutputs(inputs, outputs, { overwrite: Boolean(values.overwrite) });
  return { inputs, outputs };
}

export const reportCommand: Command = {
  name: 'report',
  summary: 'write a training run folder\'s interactive loss curves (losses.html) from its log.jsonl',
  usage: 'harmonia report <run folder> [...] [--overwrite]',
  options: {
    overwrite: { type: 'boolean', default: false, description: 'replace a read-only losses.html (its permissions are kept); a device or FIFO is never replaced' },
  },
  async run({ values, positionals }) {
    planReport(values, positionals);
    for (const dir of positionals) {
      const path = await writeTrainingReport(dir);
      console.log(path ? `wrote ${path}` : `${dir}: fewer than two logged steps, nothing to plot`);
    }
    return 0;
  },
};
