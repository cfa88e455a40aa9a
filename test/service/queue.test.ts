/**
 * Batch jobs on a real redis-server (started here on a free loopback port, append-only persistence
 * on) with real worker processes (`harmonia worker`):
 *
 * - enqueue is idempotent (job id = input content hash); a re-delivered job never writes twice;
 * - failed jobs retry with backoff and land on the failed list with their error after N tries;
 * - SIGKILL a worker mid-job 5 times during a 300-job batch: every job completes exactly once, every
 *   output decodes and equals the single-process result, no temp file is left;
 * - restart redis-server mid-batch: the batch finishes, nothing lost.
 *
 * Skips with a message when redis-server is not installed (CI installs it: .ci/run).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { harmonize } from '../../src/pipeline/harmonize.ts';
import { startBatchWorker, queueProgress, parseRedisUrl, outputPath, type BatchJobData, type Progress } from '../../src/service/queue.ts';
import { tempDirFactory } from '../helpers.ts';
import { runCli } from '../run-cli.ts';
import { makeComposites, needsRedis, startRedis, type Fixture, type RedisHandle } from './helpers.ts';

process.env.HARMONIA_NATIVE_THREADS ??= '1'; // as the workers run (one kernel thread per process)

const skip = needsRedis();
const BIN = fileURLToPath(new URL('../../bin/harmonia.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const tempDir = tempDirFactory();
let redis: RedisHandle | undefined;
let dir: string;
let fixtures: Fixture[] = [];
const refs = new Map<string, Buffer>();
const children = new Set<ChildProcess>();

async function ref(f: Fixture): Promise<Buffer> {
  let r = refs.get(f.name);
  if (!r) {
    r = await harmonize({ composite: f.compositeBytes, mask: f.maskBytes });
    refs.set(f.name, r);
  }
  return r;
}

before(async () => {
  if (skip) return;
  dir = tempDir('harmonia-queue-');
  redis = await startRedis(join(dir, 'redis'));
  fixtures = await makeComposites(join(dir, 'in'), 300, 11);
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await redis?.stop();
});

function spawnWorker(queue: string, out: string, extra: string[] = []): ChildProcess {
  const c = spawn(process.execPath, [BIN, 'worker', '--redis', redis!.url, '--queue', queue, '-o', out, '--lock-ms', '2000', '--quiet', ...extra], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HARMONIA_NATIVE_THREADS: '1' },
  });
  let err = '';
  c.stderr?.on('data', (b: Buffer) => { err += b.toString(); });
  c.stdout?.resume();
  c.once('exit', (code, sig) => {
    children.delete(c);
    if (code !== 0 && code !== null && sig === null) console.error(`worker ${c.pid} exited ${code}: ${err.slice(-800)}`);
  });
  children.add(c);
  return c;
}

function killAndWait(c: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    c.once('exit', () => resolve());
    c.kill('SIGKILL');
  });
}

async function progress(queue: string): Promise<Progress> {
  for (let i = 0; ; i++) {
    try {
      return await queueProgress(redis!.url, queue, { failures: 20 });
    } catch (err) {
      if (i > 60) throw err;
      await new Promise((r) => setTimeout(r, 500)); // Redis restarting
    }
  }
}

async function waitUntil(queue: string, done: (p: Progress) => boolean, timeoutMs: number): Promise<Progress> {
  const t0 = Date.now();
  for (;;) {
    const p = await progress(queue);
    if (done(p)) return p;
    if (Date.now() - t0 > timeoutMs) assert.fail(`queue ${queue} timed out after ${timeoutMs} ms: ${JSON.stringify(p)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const settled = (n: number) => (p: Progress) => p.done + p.failed >= n && p.waiting + p.active + p.delayed === 0;

/** Every output of `items` decodes and equals the single-process result; no temp file is left. */
async function checkOutputs(out: string, items: Fixture[]): Promise<void> {
  const names = readdirSync(out);
  assert.deepEqual(names.filter((n) => n.endsWith('.tmp')), [], 'no temp file left');
  for (const f of items) {
    const bytes = readFileSync(join(out, `${f.name}.png`));
    const meta = await sharp(bytes).metadata(); // decodes
    assert.equal(meta.format, 'png');
    assert.ok(bytes.equals(await ref(f)), `${f.name}: equals the single-process result`);
  }
}

/** Real output writes per job hash (members "<hash>:<token>" of the queue's writes set). */
async function writesOf(queue: string): Promise<Map<string, number>> {
  const r = new Redis({ ...parseRedisUrl(redis!.url) });
  try {
    const members = await r.smembers(`harmonia:${queue}:writes`);
    const m = new Map<string, number>();
    for (const x of members) {
      const h = x.slice(0, x.indexOf(':'));
      m.set(h, (m.get(h) ?? 0) + 1);
    }
    return m;
  } finally {
    r.disconnect();
  }
}

test('enqueue is idempotent (content-hash job ids); a re-delivered job never writes twice; jobs shows progress', { skip }, async () => {
  const q = 'idem';
  const out = join(dir, 'out-idem');
  const args = ['enqueue', join(dir, 'in', 'composites'), '--mask', join(dir, 'in', 'masks'), '--redis', redis!.url, '--queue', q, '--limit', '6'];
  let r = await runCli(args);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  assert.match(r.stdout.join('\n'), /enqueued 6 job\(s\) on queue "idem" \(0 already there/);
  r = await runCli(args);
  assert.match(r.stdout.join('\n'), /enqueued 0 job\(s\) on queue "idem" \(6 already there/);
  r = await runCli(['jobs', '--redis', redis!.url, '--queue', q, '--json']);
  assert.equal(r.code, 0);
  assert.equal((JSON.parse(r.stdout[0]) as Progress).waiting, 6);
  const w = await startBatchWorker({ redis: redis!.url, queue: q, output: out, lockMs: 2000 });
  try {
    await waitUntil(q, settled(6), 60_000);
    await checkOutputs(out, fixtures.slice(0, 6));
    // a second delivery of a finished job (as after a crash between the write and the acknowledgement)
    const queue = new Queue<BatchJobData>(q, { connection: parseRedisUrl(redis!.url) });
    const first = (await queue.getJobs(['completed'], 0, 0))[0];
    const mtime = (await import('node:fs')).statSync(join(out, `${first.data.name}.png`)).mtimeMs;
    await queue.add(first.name, first.data, { jobId: `again-${first.data.hash}` });
    await waitUntil(q, settled(7), 60_000);
    const again = await queue.getJob(`again-${first.data.hash}`);
    assert.equal(again?.returnvalue?.written, false);
    assert.equal((await import('node:fs')).statSync(join(out, `${first.data.name}.png`)).mtimeMs, mtime, 'not rewritten');
    await queue.close();
  } finally {
    await w.close();
  }
  const writes = await writesOf(q);
  assert.equal(writes.size, 6);
  assert.ok([...writes.values()].every((n) => n === 1), JSON.stringify([...writes]));
  r = await runCli(['enqueue', join(dir, 'in', 'composites'), '--mask', join(dir, 'in', 'masks'), '--redis', redis!.url, '--queue', q, '--limit', '6']);
  assert.match(r.stdout.join('\n'), /enqueued 0 job\(s\)/, 'done jobs are not enqueued again');
  r = await runCli(['jobs', '--redis', redis!.url, '--queue', q]);
  assert.match(r.stdout[0], /done 7\/7, failed 0, waiting 0, active 0, retrying 0; throughput \d+\.\d\d jobs\/s/);
});

test('workers remove the temp files of killed writers, never one a live worker (here or elsewhere) is writing', { skip }, async () => {
  const q = 'sweep';
  const out = join(dir, 'out-sweep');
  mkdirSync(out, { recursive: true });
  const dead = spawnSync(process.execPath, ['-e', '']).pid as number; // a pid that has exited
  const host = hostname();
  const r = new Redis({ ...parseRedisUrl(redis!.url) });
  const lock = (name: string) => `harmonia:${q}:writing:${join(out, name)}`;
  const files = {
    killedHere: `.a.png.${dead}.1.0.tmp`, // its writer was killed on this machine, holding the lock
    orphan: `.b.png.${dead}.1.0.tmp`, // no lock, writer gone
    elsewhere: `.c.png.${dead}.1.0.tmp`, // a live writer on another machine holds the lock
    liveHere: `.d.png.${process.pid}.1.0.tmp`, // a live process of this machine, no lock (another program), young
  };
  for (const f of Object.values(files)) writeFileSync(join(out, f), 'partial');
  await r.set(lock('a.png'), `${host}|${dead}|job|x`, 'PX', 60_000);
  await r.set(lock('c.png'), `other-host|${dead}|job|x`, 'PX', 60_000);
  const w = await startBatchWorker({ redis: redis!.url, queue: q, output: out, lockMs: 2000 });
  await w.close();
  const left = readdirSync(out).sort();
  assert.deepEqual(left, [files.elsewhere, files.liveHere].sort());
  assert.equal(await r.get(lock('a.png')), null, "a dead local holder's lock is released");
  assert.match((await r.get(lock('c.png'))) ?? '', /^other-host\|/, "another machine's lock is kept");
  r.disconnect();
});

test('harmonia worker exits on SIGTERM, also while Redis is down (never hangs)', { skip, timeout: 120_000 }, async () => {
  const own = await startRedis(join(dir, 'redis-own'));
  const c = spawn(process.execPath, [BIN, 'worker', '--redis', own.url, '-o', join(dir, 'out-own'), '--lock-ms', '2000'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(c);
  let out = '';
  c.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  const exited = new Promise<number | null>((res) => c.once('exit', (code) => res(code)));
  for (let i = 0; i < 600 && !out.includes('harmonia worker'); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(out, /harmonia worker \d+: queue "harmonia"/);
  await own.stop();
  const t0 = Date.now();
  c.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 30_000))]);
  children.delete(c);
  assert.equal(code, 0, `exit code (${out})`);
  assert.ok(Date.now() - t0 < 30_000);
});

test('failed jobs retry with backoff and go to the failed list with their error after N tries', { skip }, async () => {
  const q = 'retry';
  const out = join(dir, 'out-retry');
  const bad = join(dir, 'in', 'bad.png');
  writeFileSync(bad, 'not an image at all');
  const list = join(dir, 'in', 'retry.txt');
  writeFileSync(list, `# composite mask [name]\ncomposites/c0000.png masks/c0000.png good\nbad.png masks/c0000.png bad\n`);
  let r = await runCli(['enqueue', list, '--redis', redis!.url, '--queue', q, '--attempts', '3', '--backoff', '50']);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  const tries: number[] = [];
  const w = await startBatchWorker({ redis: redis!.url, queue: q, output: out, lockMs: 2000, onJob: (e) => { if (!e.ok) tries.push(e.attempt); } });
  let p: Progress;
  try {
    p = await waitUntil(q, settled(2), 60_000);
  } finally {
    await w.close();
  }
  assert.equal(p.done, 1);
  assert.equal(p.failed, 1);
  assert.deepEqual(tries, [1, 2, 3]);
  assert.equal(p.failures[0].name, 'bad');
  assert.equal(p.failures[0].attempts, 3);
  assert.match(p.failures[0].error, /bad\.png: not a supported image/);
  r = await runCli(['jobs', '--redis', redis!.url, '--queue', q]);
  assert.match(r.stdout.join('\n'), /failed bad \(\w+, 3 tries\): .*not a supported image/);
  // an input changed after it was enqueued: refused, never harmonized from other bytes
  const changed = join(dir, 'in', 'changed.png');
  writeFileSync(changed, fixtures[1].compositeBytes);
  writeFileSync(list, `changed.png masks/c0001.png changed\n`);
  r = await runCli(['enqueue', list, '--redis', redis!.url, '--queue', 'changed', '--attempts', '1']);
  assert.equal(r.code, 0);
  writeFileSync(changed, fixtures[2].compositeBytes);
  const w2 = await startBatchWorker({ redis: redis!.url, queue: 'changed', output: out, lockMs: 2000 });
  try {
    p = await waitUntil('changed', settled(1), 60_000);
  } finally {
    await w2.close();
  }
  assert.equal(p.failed, 1);
  assert.match(p.failures[0].error, /inputs changed since the job was enqueued/);
});

test('enqueue/worker/jobs: flags are checked before any work, errors name the flag', async () => {
  const cases: [string[], RegExp][] = [
    [['enqueue', '.', '--redis', 'localhost:6379'], /--redis must start with redis:\/\//],
    [['enqueue', '.'], /--redis is required/],
    [['enqueue', '.', '--redis', 'redis://127.0.0.1:1', '--attempts', '0'], /--attempts must be an integer in \[1, 100\]/],
    [['enqueue', '.', '--redis', 'redis://127.0.0.1:1', '--format', 'jpg'], /--format must be png, jpeg, webp, tiff/],
    [['enqueue', '.', '--redis', 'redis://127.0.0.1:1', '--queue', 'a b'], /--queue must be/],
    [['enqueue', '/nonexistent/list.txt', '--redis', 'redis://127.0.0.1:1'], /no such folder or list file/],
    [['worker', '--redis', 'redis://127.0.0.1:1'], /-o\/--output is required/],
    [['worker', '--redis', 'redis://127.0.0.1:1', '-o', '/tmp/x/{nme}.png'], /unknown placeholder/],
    [['worker', '--redis', 'redis://127.0.0.1:1', '-o', '/tmp/x', '--lock-ms', '10'], /--lock-ms must be an integer in \[500/],
    [['jobs'], /--redis is required/],
    [['jobs', '--redis', 'http://user:s3cret@127.0.0.1:1'], /must start with redis:\/\/ or rediss:\/\/, got "http:\/\/user:\*\*\*@127\.0\.0\.1:1\/"/],
    [['jobs', '--redis', 'redis://127.0.0.1:1', '--interval', '0'], /--interval must be in \[0.1/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr.join('\n')}`);
    assert.match(r.stderr.join('\n'), re);
    assert.equal(r.stderr.length, 1, 'one line');
  }
  for (const c of ['enqueue', 'worker', 'jobs']) {
    const h = await runCli([c, '--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout.join('\n'), /--redis/);
  }
  assert.equal(outputPath('/o/{name}-{hash}.{ext}', { name: 'a', hash: 'ff', format: 'jpeg' }), '/o/a-ff.jpg');
});

test('SIGKILL a worker mid-job 5 times in a 300-job batch: every job done exactly once, outputs equal the single-process result', { skip, timeout: 480_000 }, async (t) => {
  const q = 'kill';
  const out = join(dir, 'out-kill');
  const r = await runCli(['enqueue', join(dir, 'in', 'composites'), '--mask', join(dir, 'in', 'masks'), '--redis', redis!.url, '--queue', q]);
  assert.match(r.stdout.join('\n'), /enqueued 300 job\(s\)/);
  const queue = new Queue<BatchJobData>(q, { connection: parseRedisUrl(redis!.url) });
  const workers = [spawnWorker(q, out), spawnWorker(q, out)];
  const killed: { pid: number; job: string }[] = [];
  const t0 = Date.now();
  try {
    while (killed.length < 5) {
      const p = await progress(q);
      assert.ok(Date.now() - t0 < 300_000, `kill phase timed out: ${JSON.stringify(p)}`);
      if (p.done < 40 * (killed.length + 1)) { await new Promise((res) => setTimeout(res, 50)); continue; }
      // a worker that holds a job right now
      const active = await queue.getActive();
      const victim = active.map((j) => ({ j, w: workers.find((c) => j.processedBy === `harmonia-worker-${c.pid}`) })).find((x) => x.w);
      if (!victim) { await new Promise((res) => setTimeout(res, 5)); continue; }
      await killAndWait(victim.w!);
      killed.push({ pid: victim.w!.pid!, job: String(victim.j.id) });
      workers.splice(workers.indexOf(victim.w!), 1, spawnWorker(q, out));
    }
    const p = await waitUntil(q, settled(300), 300_000);
    t.diagnostic(`killed ${killed.length} workers mid-job; ${JSON.stringify({ done: p.done, failed: p.failed, s: (Date.now() - t0) / 1000 })}`);
    assert.equal(p.failed, 0, JSON.stringify(p.failures));
    assert.equal(p.done, 300);
    const completed = await queue.getJobs(['completed'], 0, -1);
    const ids = new Set(completed.map((j) => String(j.id)));
    assert.equal(ids.size, 300, 'each job completed once');
    for (const k of killed) assert.ok(ids.has(k.job), `the killed worker's job ${k.job} completed`);
    const writes = await writesOf(q);
    assert.ok([...writes.values()].every((n) => n === 1), `no output written twice: ${JSON.stringify([...writes].filter(([, n]) => n !== 1))}`);
    assert.ok(writes.size >= 300 - killed.length, `writes recorded: ${writes.size}`);
  } finally {
    await Promise.all(workers.map((w) => killAndWait(w)));
    await queue.close();
  }
  await checkOutputs(out, fixtures);
});

test('restart redis-server mid-batch (append-only persistence): the batch finishes, nothing lost', { skip, timeout: 300_000 }, async (t) => {
  const q = 'restart';
  const out = join(dir, 'out-restart');
  const r = await runCli(['enqueue', join(dir, 'in', 'composites'), '--mask', join(dir, 'in', 'masks'), '--redis', redis!.url, '--queue', q, '--limit', '150']);
  assert.match(r.stdout.join('\n'), /enqueued 150 job\(s\)/);
  const workers = [spawnWorker(q, out), spawnWorker(q, out)];
  try {
    await waitUntil(q, (p) => p.done >= 30, 120_000);
    await redis!.restart(500);
    const mid = await progress(q);
    t.diagnostic(`after the restart: ${JSON.stringify({ done: mid.done, waiting: mid.waiting, active: mid.active })}`);
    assert.equal(mid.done + mid.waiting + mid.active + mid.delayed + mid.failed, 150, 'no job lost by the restart');
    assert.ok(mid.done >= 30);
    const p = await waitUntil(q, settled(150), 240_000);
    assert.equal(p.failed, 0, JSON.stringify(p.failures));
    assert.equal(p.done, 150);
  } finally {
    await Promise.all(workers.map((w) => killAndWait(w)));
  }
  await checkOutputs(out, fixtures.slice(0, 150));
  const writes = await writesOf(q);
  assert.ok([...writes.values()].every((n) => n === 1), `no output written twice: ${JSON.stringify([...writes].filter(([, n]) => n !== 1))}`);
});
