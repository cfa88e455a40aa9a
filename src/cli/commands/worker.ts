import { HarmoniaError } from '../../errors.ts';
import type { Command } from '../types.ts';
import { FLAG_RANGES, numberFlag, describeRange } from '../flags.ts';
import { startBatchWorker, parseRedisUrl, redactRedisUrl, checkQueueName, checkOutputTemplate, DEFAULT_QUEUE } from '../../service/queue.ts';
import { setImageThreads } from '../../image/io.ts';
import { availableParallelism } from 'node:os';
import { env } from '../../config/index.ts';

const RANGES = FLAG_RANGES.worker;

export const workerCommand: Command = {
  name: 'worker',
  summary: 'take batch jobs from a Redis queue (BullMQ), harmonize, write outputs atomically; run as many as you like',
  usage: 'harmonia worker --redis <url> -o <folder | template with {name} {hash} {ext}> [--queue harmonia] [--threads N] [--concurrency N]',
  options: {
    redis: { type: 'string', description: 'Redis URL, e.g. redis://127.0.0.1:6379 (required)' },
    queue: { type: 'string', default: DEFAULT_QUEUE, description: 'queue name (letters, digits, _ . -)' },
    output: { type: 'string', short: 'o', description: 'output folder (<name>.<ext> inside), or a path template such as /shared/out/{name}.{ext} ({name}, {hash}, {ext}) (required)' },
    threads: { type: 'string', description: `worker threads that decode, harmonize and encode (each loads the models once and runs ONNX Runtime on one thread), ${describeRange(RANGES.threads)} (default: one per core, here ${availableParallelism()})` },
    concurrency: { type: 'string', description: `jobs at once in this process, ${describeRange(RANGES.concurrency)} (default: 2 per thread, so reading, hashing and writing one job overlap the threads' work on others)` },
    'lock-ms': { type: 'string', default: '30000', description: `job lock; a job of a worker that died is retried after this, ${describeRange(RANGES['lock-ms'])}` },
    'max-stalled': { type: 'string', default: '5', description: `times a job may lose its worker (crash, kill) before it fails, ${describeRange(RANGES['max-stalled'])}` },
    'exit-after': { type: 'string', description: `exit after this many jobs are finished, done or failed for good (exit 1 if any failed; default: run until SIGINT/SIGTERM), ${describeRange(RANGES['exit-after'])}` },
    quiet: { type: 'boolean', default: false, description: 'no line per job' },
  },
  async run({ values, positionals }) {
    if (positionals.length) throw new HarmoniaError(`worker takes no arguments, got: ${positionals.join(' ')}`);
    const redis = typeof values.redis === 'string' && values.redis ? values.redis : undefined;
    if (!redis) throw new HarmoniaError('--redis is required (e.g. --redis redis://127.0.0.1:6379)');
    parseRedisUrl(redis);
    const queue = checkQueueName(String(values.queue));
    const output = typeof values.output === 'string' ? values.output : '';
    checkOutputTemplate(output);
    const threads = numberFlag(values, 'threads', RANGES.threads) ?? Math.min(RANGES.threads.max, Math.max(1, availableParallelism()));
    const concurrency = numberFlag(values, 'concurrency', RANGES.concurrency) ?? Math.min(RANGES.concurrency.max, 2 * threads);
    const lockMs = numberFlag(values, 'lock-ms', RANGES['lock-ms']) as number;
    const maxStalled = numberFlag(values, 'max-stalled', RANGES['max-stalled']) as number;
    const exitAfter = numberFlag(values, 'exit-after', RANGES['exit-after']);
    const quiet = Boolean(values.quiet);
    // the work runs on `threads` worker threads, each with one kernel and one ONNX Runtime thread, and
    // libvips with one thread per image operation (several run at once), unless HARMONIA_NATIVE_THREADS /
    // HARMONIA_ORT_THREADS / VIPS_CONCURRENCY say otherwise: ORT's default (one spin-waiting thread per
    // core, per thread) oversubscribes the cores (docs/BENCHMARKS.md § Service)
    env.nativeThreads ??= 1;
    env.ortThreads ??= 1;
    if (env.vipsConcurrency === undefined) setImageThreads(1);
    let n = 0, failedForGood = 0;
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((res) => { finish = res; });
    const w = await startBatchWorker({
      redis, queue, output, concurrency, threads, lockMs, maxStalled,
      onJob: (e) => {
        if (!quiet || (!e.ok && e.final)) {
          if (e.ok) console.log(`${e.result?.written ? 'wrote' : 'already written'} ${e.result?.output} (${e.name}, ${e.result?.ms ?? 0} ms)`);
          else console.log(`failed ${JSON.stringify(e.name)} (try ${e.attempt}${e.final ? ', no retry left: on the failed list' : ', will retry'}): ${e.error}`);
        }
        if (e.ok) n++;
        else if (e.final) failedForGood++;
        if (exitAfter !== undefined && n + failedForGood >= exitAfter) finish();
      },
    });
    console.log(`harmonia worker ${process.pid}: queue "${queue}" on ${redactRedisUrl(redis)}, ${concurrency} at once on ${threads} thread(s), backend ${w.backend}, output ${output}`);
    let stopping = false;
    const onSig = (sig: string) => {
      if (stopping) {
        console.log(`harmonia worker ${process.pid}: ${sig} again, exiting now`);
        process.exit(130);
      }
      stopping = true;
      console.log(`harmonia worker ${process.pid}: ${sig}, finishing the running job (send it again to exit at once)`);
      finish();
    };
    const onInt = () => onSig('SIGINT');
    const onTerm = () => onSig('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    await finished;
    await w.close(lockMs);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    // connection retry timers must not keep the process alive once the worker is closed
    setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref();
    console.log(`harmonia worker ${process.pid}: done ${n} job(s)${failedForGood ? `, ${failedForGood} failed (harmonia jobs lists them with their error)` : ''}`);
    return failedForGood ? 1 : 0;
  },
};
