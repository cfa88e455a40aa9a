import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { HarmoniaError } from '../../errors.ts';
import type { Command } from '../types.ts';
import { FLAG_RANGES, numberFlag, describeRange } from '../flags.ts';
import { readIHarmonyDataset } from '../../data/iharmony4.ts';
import { pairFolderDetailed } from '../../pipeline/batch.ts';
import { OUTPUT_FORMATS } from '../../pipeline/harmonize.ts';
import { isModelDir } from '../../pipeline/model.ts';
import type { OutputFormat } from '../../image/io.ts';
import type { Stage } from '../../pipeline/refine.ts';
import { enqueueBatch, parseRedisUrl, checkQueueName, nameOf, DEFAULT_QUEUE, type BatchItemInput } from '../../service/queue.ts';
import { checkJobName } from '../../service/names.ts';
import { STAGES, isOneOf, listWords } from '../../config/index.ts';

const RANGES = FLAG_RANGES.enqueue;

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** A list file: one composite per line, "<composite> <mask> [name]", paths relative to the list's folder; # comments. */
function readList(file: string): BatchItemInput[] {
  const base = dirname(resolve(file));
  const items: BatchItemInput[] = [];
  readFileSync(file, 'utf8').split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const parts = line.split(/\s+/);
    if (parts.length < 2 || parts.length > 3) throw new HarmoniaError(`line ${i + 1}: expected "<composite> <mask> [name]", got "${line}"`, { file });
    const [c, m] = parts.map((p) => (isAbsolute(p) ? p : join(base, p)));
    for (const [p, what] of [[c, 'composite'], [m, 'mask']] as const) {
      if (!existsSync(p)) throw new HarmoniaError(`line ${i + 1}: the ${what} ${p} does not exist`, { file });
    }
    const name = checkJobName(parts[2] ?? nameOf(c), `line ${i + 1}`, { file });
    items.push({ name, composite: c, mask: m, origin: `${file} line ${i + 1}` });
  });
  if (items.length === 0) throw new HarmoniaError('the list names no composites', { file });
  return items;
}

export const enqueueCommand: Command = {
  name: 'enqueue',
  summary: 'add one batch job per composite to a Redis queue (BullMQ) for `harmonia worker`',
  usage: 'harmonia enqueue <folder> --mask <mask-folder> --redis <url>  |  harmonia enqueue <iharmony4-folder> --redis <url>  |  harmonia enqueue <list.txt> --redis <url>',
  options: {
    redis: { type: 'string', description: 'Redis URL, e.g. redis://127.0.0.1:6379 (required)' },
    queue: { type: 'string', default: DEFAULT_QUEUE, description: 'queue name (letters, digits, _ . -)' },
    mask: { type: 'string', short: 'm', description: 'folder mode: a folder of masks with the same names as the composites' },
    list: { type: 'string', description: 'iHarmony4 mode: a list file of the dataset (default: its test lists)' },
    stage: { type: 'string', description: 'intrinsic | gan | full (default: full with the default model)' },
    model: { type: 'string', description: 'model folder, readable by every worker (default: the shipped model)' },
    format: { type: 'string', default: 'png', description: `output format: ${OUTPUT_FORMATS.join(', ')}` },
    quality: { type: 'string', description: `JPEG/WebP quality, ${describeRange(RANGES.quality)}` },
    attempts: { type: 'string', default: '3', description: `tries per job before it goes to the failed list, ${describeRange(RANGES.attempts)}` },
    backoff: { type: 'string', default: '1000', description: `delay before the first retry in ms, doubled each try, ${describeRange(RANGES.backoff)}` },
    limit: { type: 'string', description: `only the first N composites, ${describeRange(RANGES.limit)}` },
    'redo-missing': { type: 'boolean', default: false, description: 'enqueue again the jobs already done whose output file is missing (deleted since)' },
    'retry-failed': { type: 'boolean', default: false, description: 'enqueue again the jobs on the failed list' },
  },
  async run({ values, positionals }) {
    // 1. every flag, before any file is read
    const redis = str(values.redis);
    if (!redis) throw new HarmoniaError('--redis is required (e.g. --redis redis://127.0.0.1:6379)');
    parseRedisUrl(redis);
    const queue = checkQueueName(String(values.queue));
    const stage = values.stage as Stage | undefined;
    if (stage !== undefined && !isOneOf(STAGES, stage)) throw new HarmoniaError(`--stage must be ${listWords(STAGES)}, got "${stage}"`);
    const format = String(values.format) as OutputFormat;
    if (!OUTPUT_FORMATS.includes(format)) throw new HarmoniaError(`--format must be ${OUTPUT_FORMATS.join(', ')}, got "${format}"`);
    const quality = numberFlag(values, 'quality', RANGES.quality);
    const attempts = numberFlag(values, 'attempts', RANGES.attempts) as number;
    const backoffMs = numberFlag(values, 'backoff', RANGES.backoff) as number;
    const limit = numberFlag(values, 'limit', RANGES.limit);
    const model = str(values.model);
    if (model !== undefined && !isModelDir(model)) throw new HarmoniaError(`--model: no model in "${model}" (model.json or harmonia.json missing)`);
    if (positionals.length !== 1) throw new HarmoniaError(`expected one folder or list file, got ${positionals.length}${positionals.length ? `: ${positionals.join(' ')}` : ''}`);
    const input = positionals[0];
    if (!existsSync(input)) throw new HarmoniaError('no such folder or list file', { file: input });
    const mask = str(values.mask);
    const listFlag = str(values.list);
    // 2. the composites
    let items: BatchItemInput[];
    if (statSync(input).isDirectory()) {
      if (mask) {
        if (listFlag) throw new HarmoniaError('--list is for an iHarmony4-layout folder; folder mode takes --mask');
        if (!existsSync(mask) || !statSync(mask).isDirectory()) throw new HarmoniaError(`--mask must be a folder of masks, got "${mask}"`);
        items = pairFolderDetailed(input, mask, '.').items.map((it) => ({ name: it.name, composite: it.composite, mask: it.mask }));
      } else {
        const samples = await readIHarmonyDataset(input, { split: 'test', list: listFlag, check: false });
        if (samples.length === 0) throw new HarmoniaError('no composites listed (give --mask <folder> for a plain folder of composites)', { file: input });
        items = samples.map((s) => ({ name: nameOf(s.composite), composite: s.composite, mask: s.mask }));
      }
    } else {
      if (mask || listFlag) throw new HarmoniaError('a list file takes no --mask or --list (each line names "<composite> <mask> [name]")');
      items = readList(input);
    }
    if (limit !== undefined) items = items.slice(0, limit);
    const t0 = performance.now();
    const redoMissing = Boolean(values['redo-missing']);
    const retryFailed = Boolean(values['retry-failed']);
    const r = await enqueueBatch(items, { redis, queue, stage, model, format, quality, attempts, backoffMs, redoMissing, retryFailed });
    const again = r.redone ? `, ${r.redone} of them enqueued again (${[redoMissing && 'done but output missing', retryFailed && 'failed'].filter(Boolean).join(' or ')})` : '';
    console.log(`enqueued ${r.added} job(s) on queue "${queue}"${again} (${r.existing} already there: same inputs, options and name) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    if (r.missing) console.log(`${r.missing} of the jobs already there are done but their output file is missing (deleted since): run this command again with --redo-missing to make them again`);
    if (r.failed) console.log(`${r.failed} of the jobs already there are on the failed list (harmonia jobs shows why): run this command again with --retry-failed to try them again`);
    return 0;
  },
};
