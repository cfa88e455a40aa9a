import { HarmoniaError } from '../../errors.ts';
import type { Command } from '../types.ts';
import { FLAG_RANGES, numberFlag, describeRange } from '../flags.ts';
import { queueProgress, parseRedisUrl, checkQueueName, DEFAULT_QUEUE, type Progress } from '../../service/queue.ts';

const RANGES = FLAG_RANGES.jobs;

function line(p: Progress): string {
  const total = p.done + p.failed + p.waiting + p.active + p.delayed;
  const missing = p.missing ? ` (${p.missing} of them with the output missing)` : '';
  return `queue "${p.queue}": done ${p.done}/${total}${missing}, failed ${p.failed}, waiting ${p.waiting}, active ${p.active}, retrying ${p.delayed}; ` +
    `throughput ${p.throughput.toFixed(2)} jobs/s of busy time (the last ${p.sampled} done jobs over ${p.busyS.toFixed(2)} s busy: ` +
    `the union of their start-to-finish intervals, idle gaps left out; ${p.windowS.toFixed(1)} s from first start to last finish)`;
}

export const jobsCommand: Command = {
  name: 'jobs',
  summary: 'progress of a batch queue: done, failed, waiting, missing outputs, throughput over busy time (and the failed jobs with their error)',
  usage: 'harmonia jobs --redis <url> [--queue harmonia] [--wait] [--json]',
  options: {
    redis: { type: 'string', description: 'Redis URL, e.g. redis://127.0.0.1:6379 (required)' },
    queue: { type: 'string', default: DEFAULT_QUEUE, description: 'queue name' },
    failures: { type: 'string', default: '10', description: `list this many failed jobs with their error, ${describeRange(RANGES.failures)}` },
    wait: { type: 'boolean', default: false, description: 'print a line every --interval until nothing is waiting, active or retrying' },
    interval: { type: 'string', default: '2', description: `seconds between lines with --wait, ${describeRange(RANGES.interval)}` },
    timeout: { type: 'string', default: '86400', description: `--wait gives up (exit 1) after this many seconds, ${describeRange(RANGES.timeout)}` },
    json: { type: 'boolean', default: false, description: 'print the final state as JSON' },
  },
  async run({ values, positionals }) {
    if (positionals.length) throw new HarmoniaError(`jobs takes no arguments, got: ${positionals.join(' ')}`);
    const redis = typeof values.redis === 'string' && values.redis ? values.redis : undefined;
    if (!redis) throw new HarmoniaError('--redis is required (e.g. --redis redis://127.0.0.1:6379)');
    parseRedisUrl(redis);
    const queue = checkQueueName(String(values.queue));
    const failures = numberFlag(values, 'failures', RANGES.failures) as number;
    const interval = numberFlag(values, 'interval', RANGES.interval) as number;
    const timeout = numberFlag(values, 'timeout', RANGES.timeout) as number;
    const json = Boolean(values.json);
    const t0 = Date.now();
    // the final state also looks for lost outputs (one stat per done job)
    let p = await queueProgress(redis, queue, { failures, checkOutputs: !values.wait });
    if (values.wait) {
      while (p.waiting + p.active + p.delayed > 0) {
        if (!json) console.log(line(p));
        if (Date.now() - t0 > timeout * 1000) {
          console.error(`harmonia jobs: --timeout ${timeout} s passed with ${p.waiting + p.active + p.delayed} job(s) left`);
          return 1;
        }
        await new Promise((r) => setTimeout(r, interval * 1000));
        p = await queueProgress(redis, queue, { failures });
      }
      p = await queueProgress(redis, queue, { failures, checkOutputs: true });
    }
    if (json) console.log(JSON.stringify(p));
    else {
      console.log(line(p));
      if (p.missing) {
        console.log(`missing outputs: ${p.missing} done job(s) whose output file is gone (${(p.missingNames ?? []).map((n) => JSON.stringify(n)).join(', ')}${p.missing > (p.missingNames ?? []).length ? ', …' : ''}): ` +
          'run the same harmonia enqueue again with --redo-missing to make them again');
      }
      for (const f of p.failures) console.log(`failed ${/^[\w./-]+$/.test(f.name) ? f.name : JSON.stringify(f.name)} (${f.id.slice(0, 12)}, ${f.attempts} tries): ${f.error}`);
    }
    return 0;
  },
};
