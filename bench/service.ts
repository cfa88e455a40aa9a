/**
 * Batch throughput of `harmonia worker` processes on BullMQ + a local redis-server: 1 worker vs 2
 * workers on the same composites (docs/BENCHMARKS.md § Service).
 *
 *   node --import tsx bench/service.ts --data /path/to/iharmony4-folder [--limit 215] [--order 1,2,2,1] [--json out.json] [--control]
 *
 * Method: for each entry of --order, a fresh queue; the workers are started and ready (engine and
 * model loaded) before the jobs are enqueued, so start-up is not timed. Throughput = jobs done /
 * (last job's finish − first job's start), from BullMQ's own job timestamps in Redis. Each worker
 * process runs one job at a time with one kernel thread (the `harmonia worker` default).
 * redis-server runs in a temp folder on a free loopback port with append-only persistence, as in the tests.
 * `--control` then measures the same without Redis or the queue: the composites through the library
 * (harmonize) in one process, then split over two processes run at once (one kernel thread each):
 * how much a second process can scale on this machine at all.
 */
import { parseArgs } from 'node:util';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, loadavg } from 'node:os';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readIHarmonyDataset } from '../src/data/iharmony4.ts';
import { Queue } from 'bullmq';
import { enqueueBatch, queueProgress, parseRedisUrl, type BatchJobData, type BatchJobResult } from '../src/service/queue.ts';
import { harmonize } from '../src/pipeline/harmonize.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    limit: { type: 'string', default: '215' },
    order: { type: 'string', default: '1,2,2,1' },
    json: { type: 'string' },
    redis: { type: 'string', default: '/usr/bin/redis-server' },
    control: { type: 'boolean', default: false },
    shard: { type: 'string' },
  },
});
if (!values.data) throw new Error('--data <iHarmony4-layout folder> is required');
const limit = Number(values.limit);
const order = String(values.order).split(',').map(Number);
const BIN = fileURLToPath(new URL('../bin/harmonia.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'harmonia-bench-service-'));

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

async function startRedis(): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn(String(values.redis), ['--port', String(port), '--bind', '127.0.0.1', '--dir', tmp, '--appendonly', 'yes', '--save', ''], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((res, rej) => {
    let out = '';
    proc.stdout!.on('data', (b: Buffer) => { out += b.toString(); if (/Ready to accept connections/.test(out)) res(); });
    proc.once('exit', (c) => rej(new Error(`redis-server exited ${c}`)));
  });
  return { url: `redis://127.0.0.1:${port}`, proc };
}

function startWorker(url: string, queue: string, out: string): Promise<ChildProcess> {
  const c = spawn(process.execPath, [BIN, 'worker', '--redis', url, '--queue', queue, '-o', out, '--quiet'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((res, rej) => {
    let s = '';
    c.stdout!.on('data', (b: Buffer) => { s += b.toString(); if (s.includes('harmonia worker')) res(c); });
    c.once('exit', (code) => rej(new Error(`worker exited ${code}`)));
  });
}

const samples = (await readIHarmonyDataset(String(values.data), { split: 'test', check: false })).slice(0, limit);
if (values.shard) {
  // child of --control: harmonize every n-th composite in this process
  const [i, n] = String(values.shard).split('/').map(Number);
  await harmonize({ composite: samples[0].composite, mask: samples[0].mask }); // engine + model, not timed
  const start = Date.now();
  let count = 0;
  for (let k = i; k < samples.length; k += n) { await harmonize({ composite: samples[k].composite, mask: samples[k].mask }); count++; }
  console.log(JSON.stringify({ count, start, end: Date.now() }));
  rmSync(tmp, { recursive: true, force: true });
  process.exit(0);
}
const items = samples.map((s) => ({ name: basename(s.composite, extname(s.composite)), composite: s.composite, mask: s.mask }));
console.log(`${items.length} composites from ${values.data}; order ${order.join(', ')}; load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
const redis = await startRedis();
const runs: { workers: number; jobs: number; seconds: number; perS: number; load1: number; stepsMs: Record<string, number> }[] = [];
try {
  for (const [i, k] of order.entries()) {
    const queue = `bench-${i}-${k}w`;
    const out = join(tmp, queue);
    const workers = await Promise.all(Array.from({ length: k }, () => startWorker(redis.url, queue, out)));
    await enqueueBatch(items, { redis: redis.url, queue, format: 'png' });
    let p = await queueProgress(redis.url, queue);
    while (p.done + p.failed < items.length) {
      await new Promise((r) => setTimeout(r, 250));
      p = await queueProgress(redis.url, queue);
    }
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once('exit', r)))));
    if (p.failed) throw new Error(`${p.failed} job(s) failed: ${JSON.stringify(p.failures)}`);
    // mean per-step time of a job inside the worker (check, decode, harmonize, write)
    const q = new Queue<BatchJobData, BatchJobResult>(queue, { connection: parseRedisUrl(redis.url) });
    const done = await q.getJobs(['completed'], 0, -1);
    await q.close();
    const steps: Record<string, number> = {};
    for (const j of done) for (const [name, ms] of Object.entries(j.returnvalue?.steps ?? {})) steps[name] = (steps[name] ?? 0) + ms / done.length;
    for (const name of Object.keys(steps)) steps[name] = +steps[name].toFixed(1);
    const run = { workers: k, jobs: p.done, seconds: +p.windowS.toFixed(2), perS: +p.throughput.toFixed(2), load1: +loadavg()[0].toFixed(2), stepsMs: steps };
    runs.push(run);
    console.log(JSON.stringify(run));
  }
} finally {
  redis.proc.kill('SIGTERM');
}
const mean = (k: number) => {
  const r = runs.filter((x) => x.workers === k);
  return r.reduce((a, x) => a + x.perS, 0) / r.length;
};
const summary = { one: +mean(1).toFixed(2), two: +mean(2).toFixed(2), speedup: +(mean(2) / mean(1)).toFixed(2), runs };
console.log(`1 worker ${summary.one} jobs/s, 2 workers ${summary.two} jobs/s: ${summary.speedup}×`);
let control: { processes: number; perS: number; load1: number }[] | undefined;
if (values.control) {
  const shard = (i: number, n: number) => new Promise<{ count: number; start: number; end: number }>((res, rej) => {
    const c = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--data', String(values.data), '--limit', String(limit), '--shard', `${i}/${n}`],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, HARMONIA_NATIVE_THREADS: '1' } });
    let out = '';
    c.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
    c.once('exit', (code) => (code === 0 ? res(JSON.parse(out.trim().split('\n').pop()!)) : rej(new Error(`shard exited ${code}`))));
  });
  control = [];
  for (const n of [1, 2, 2, 1]) {
    const parts = await Promise.all(Array.from({ length: n }, (_, i) => shard(i, n)));
    const s = (Math.max(...parts.map((p) => p.end)) - Math.min(...parts.map((p) => p.start))) / 1000;
    const run = { processes: n, perS: +(samples.length / s).toFixed(2), load1: +loadavg()[0].toFixed(2) };
    control.push(run);
    console.log(`control ${JSON.stringify(run)}`);
  }
  const m = (n: number) => control!.filter((r) => r.processes === n).reduce((a, r) => a + r.perS, 0) / 2;
  console.log(`control (library, no queue): 1 process ${m(1).toFixed(2)} images/s, 2 processes ${m(2).toFixed(2)} images/s: ${(m(2) / m(1)).toFixed(2)}×`);
}
if (values.json) writeFileSync(values.json, JSON.stringify({ ...summary, control }, null, 2) + '\n');
rmSync(tmp, { recursive: true, force: true });
