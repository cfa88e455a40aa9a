import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../types.ts';
import { HarmoniaError } from '../../errors.ts';
import { writeTrainingReport } from '../../train/curves.ts';

export const reportCommand: Command = {
  name: 'report',
  summary: 'write a training run folder\'s interactive loss curves (losses.html) from its log.jsonl',
  usage: 'harmonia report <run folder> [...]',
  options: {},
  async run({ positionals }) {
    if (positionals.length === 0) throw new HarmoniaError('name at least one training run folder (it holds log.jsonl)');
    for (const dir of positionals) {
      if (!existsSync(join(dir, 'log.jsonl'))) throw new HarmoniaError('no log.jsonl here: not a training run folder', { file: dir });
      const path = await writeTrainingReport(dir);
      console.log(path ? `wrote ${path}` : `${dir}: fewer than two logged steps, nothing to plot`);
    }
    return 0;
  },
};
