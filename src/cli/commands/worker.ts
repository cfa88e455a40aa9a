import { HarmoniaError } from '../../errors.ts';
import type { Command } from '../types.ts';
import { FLAG_RANGES, numberFlag, describeRange } from '../flags.ts';
import { startBatchWorker, parseRedisUrl, redactRedisUrl, checkQueueName, checkOutputTemplate, DEFAULT_QUEUE } from '../../service/queue.ts';
import { initEngine } from '../../engine/index.ts';
import { setImageThreads } from '../../image/io.ts';

const RANGES = FLAG_RANGES.worker;

export const workerCommand: Command = {
  name: 'worker',
  summary: 'take batch jobs from a Redis queue (BullMQ), harmonize, write outputs atomically; run as many as you like',
  usage: 'harmonia worker --redis <url> -o <folder | template with {name} {hash} {ext}> [--queue harmonia] [--concurrency 1]',
  options: {
    redis: { type: 'string', description: 'Redis URL, e.g. redis://127.0.0.1:6379 (required)' },
    queue: { type: 'string', default: DEFAULT_QUEUE, description: 'queue name (letters, digits, _ . -)' },
    output: { type: 'string', short: 'o', description: 'output folder (<name>.<ext> inside), or a path template such as /shared/out/{name}.{ext} ({name}, {hash}, {ext}) (required)' },
    concurrency: { type: 'string', default: '1', description: `jobs at once in this process, ${describeRange(RANGES.concurrency)} (scale with more processes instead: one per core)` },
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
    const concurrency = numberFlag(values, 'concurrency', RANGES.concurrency) as number;
    const lockMs = numberFlag(values, 'lock-ms', RANGES['lock-ms']) as number;
    const maxStalled = numberFlag(values, 'max-stalled', RANGES['max-stalled']) as number;
    const exitAfter = numberFlag(values, 'exit-after', RANGES['exit-after']);
    const quiet = Boolean(values.quiet);
    // one process per core scales best: its kernels, ONNX Runtime and libvips use one thread each (per concurrent
    // job) unless HARMONIA_NATIVE_THREADS / HARMONIA_ORT_THREADS / VIPS_CONCURRENCY say otherwise. ORT's default
    // (one thread per core, spin-waiting) made 2 workers no faster than 1 on 2 cores (docs/BENCHMARKS.md § Service).
    process.env.HARMONIA_NATIVE_THREADS ??= String(concurrency);
    process.env.HARMONIA_ORT_THREADS ??= String(concurrency);
    if (process.env.VIPS_CONCURRENCY === undefined) setImageThreads(concurrency);
    const engine = await initEngine({ quiet: true });
    let n = 0, failedForGood = 0;
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((res) => { finish = res; });
    const w = await startBatchWorker({
      redis, queue, output, concurrency, lockMs, maxStalled,
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
    console.log(`harmonia worker ${process.pid}: queue "${queue}" on ${redactRedisUrl(redis)}, ${concurrency} at once, backend ${engine.backend}, output ${output}`);
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
