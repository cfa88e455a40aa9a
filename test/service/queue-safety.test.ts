/**
 * Issue 28, the queue's faults on a real redis-server (started here on a free loopback port):
 *
 * - fault 1: a job name is confined to `-o`: `enqueue` refuses a hostile list line (one error naming
 *   the list file and line), and a hostile job put straight into Redis fails in the worker with a clear
 *   reason, writes nothing (inside or outside `-o`), and `worker --exit-after 1` exits 1, not 0;
 *   a symbolic link inside `-o` cannot lead an output out of it; a file the queue did not make is never replaced;
 * - fault 8: outputs deleted after their jobs were done are reported by `jobs` and made again by
 *   `enqueue --redo-missing`; the "already there" message says so;
 * - issue 26 point 10: `jobs` throughput is over busy time (idle gaps left out) and says so.
 *
 * Skips with a message when redis-server is not installed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { harmonize } from '../../src/pipeline/harmonize.ts';
import { startBatchWorker, queueProgress, parseRedisUrl, jobHash, busyTime, type BatchJobData, type Progress } from '../../src/service/queue.ts';
import { jobNameProblem, outputRoot } from '../../src/service/names.ts';
import { tempDirFactory } from '../helpers.ts';
import { runCli } from '../run-cli.ts';
import { makeComposites, needsRedis, startRedis, type Fixture, type RedisHandle } from './helpers.ts';

process.env.HARMONIA_NATIVE_THREADS ??= '1';

const skip = needsRedis();
const BIN = fileURLToPath(new URL('../../bin/harmonia.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const tempDir = tempDirFactory();
let redis: RedisHandle | undefined;
let dir: string;
let fixtures: Fixture[] = [];

before(async () => {
  if (skip) return;
  dir = tempDir('harmonia-queue-safety-');
  redis = await startRedis(join(dir, 'redis'));
  fixtures = await makeComposites(join(dir, 'in'), 8, 28);
});

after(async () => {
  await redis?.stop();
});

/** Every file under `d` (relative path → size + mtime), links not followed. */
function snapshot(d: string): Map<string, string> {
  const m = new Map<string, string>();
  const walk = (p: string) => {
    for (const n of readdirSync(p, { withFileTypes: true })) {
      const f = join(p, n.name);
      if (n.isDirectory()) walk(f);
      else {
        const st = statSync(f, { throwIfNoEntry: false });
        m.set(relative(d, f), st ? `${st.size}:${st.mtimeMs}` : 'link');
      }
    }
  };
  walk(d);
  return m;
}

async function settle(queue: string, n: number, timeoutMs = 60_000): Promise<Progress> {
  const t0 = Date.now();
  for (;;) {
    const p = await queueProgress(redis!.url, queue, { failures: 20 });
    if (p.done + p.failed >= n && p.waiting + p.active + p.delayed === 0) return p;
    if (Date.now() - t0 > timeoutMs) assert.fail(`queue ${queue}: ${JSON.stringify(p)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Puts a job straight into Redis (as anyone with access to it could), with a correct content hash. */
async function addRaw(queue: string, f: Fixture, name: string, extra: Partial<BatchJobData> = {}): Promise<string> {
  const q = new Queue<BatchJobData>(queue, { connection: parseRedisUrl(redis!.url) });
  const data: BatchJobData = { name, composite: f.composite, mask: f.mask, format: 'png', hash: jobHash(f.compositeBytes, f.maskBytes, { format: 'png' }, name), ...extra };
  const id = `raw-${Math.random().toString(36).slice(2)}`;
  await q.add(typeof name === 'string' ? name.slice(0, 50) : 'x', data, { jobId: id, attempts: 3, backoff: { type: 'fixed', delay: 50 } });
  await q.close();
  return id;
}

test('job names: the rule (unit)', () => {
  const ok = ['a', 'c0001', 'sub/dir/name', 'a.b-c_d', 'ünïcode', '..a', 'a..', '...'];
  for (const n of ok) assert.equal(jobNameProblem(n), undefined, n);
  const bad: [unknown, RegExp][] = [
    ['../../victim', /"\.\." segment/], ['..', /"\.\." segment/], ['a/../../b', /"\.\." segment/], ['/etc/passwd', /absolute/],
    ['a\\..\\b', /backslash/], ['C:evil', /drive letter/], ['a//b', /empty segment/], ['a/', /empty segment/], ['./a', /"\." segment/],
    ['a\0b', /control character/], ['a\nb', /control character/], ['', /empty/], ['x'.repeat(256), /segment longer than 255/],
    [`${'a/'.repeat(600)}a`, /longer than 1024 bytes/], [42, /not a string/], [null, /not a string \(null\)/],
  ];
  for (const [n, re] of bad) assert.match(jobNameProblem(n) ?? 'accepted', re, JSON.stringify(n));
  assert.equal(outputRoot('/o/out/{name}.{ext}'), '/o/out');
  assert.equal(outputRoot('/o/out/img-{name}.{ext}'), '/o/out');
  assert.equal(outputRoot('/o/out'), '/o/out');
  assert.equal(busyTime([[0, 10], [5, 20], [100, 110], [30, 30]]), 30);
  assert.equal(busyTime([]), 0);
});

test('fault 1: enqueue refuses a hostile job name with one error naming the list file and line; nothing is added', { skip }, async () => {
  const q = join(dir, 'q1');
  mkdirSync(q, { recursive: true });
  writeFileSync(join(q, 'c.png'), fixtures[0].compositeBytes);
  writeFileSync(join(q, 'm.png'), fixtures[0].maskBytes);
  const cases: [string, RegExp][] = [
    ['c.png m.png ../../victim', /line 2: the job name "\.\.\/\.\.\/victim" has a "\.\." segment/],
    ['c.png m.png /tmp/abs', /line 2: the job name "\/tmp\/abs" is an absolute path/],
    ['c.png m.png a\\..\\..\\b', /line 2: .* contains a backslash/],
    ['c.png m.png C:x', /line 2: .* starts with a drive letter/],
    ['c.png m.png a//b', /line 2: .* has an empty segment/],
  ];
  for (const [line, re] of cases) {
    const list = join(q, 'list.txt');
    writeFileSync(list, `# composite mask name\n${line}\n`);
    const r = await runCli(['enqueue', list, '--redis', redis!.url, '--queue', 'q1']);
    assert.equal(r.code, 2, `${line}: ${r.stdout.join('\n')} ${r.stderr.join('\n')}`);
    assert.equal(r.stderr.length, 1, 'one line');
    assert.match(r.stderr[0], re);
    assert.ok(r.stderr[0].includes(list), `names the list file: ${r.stderr[0]}`);
  }
  const p = await queueProgress(redis!.url, 'q1');
  assert.equal(p.waiting + p.done + p.failed, 0, 'nothing was enqueued');
});

test('fault 1: hostile jobs put straight into Redis fail in the worker with a clear reason and write nothing; never exit 0', { skip, timeout: 180_000 }, async () => {
  const base = join(dir, 'q2');
  const out = join(base, 'o', 'out');
  const elsewhere = join(base, 'elsewhere');
  mkdirSync(out, { recursive: true });
  mkdirSync(elsewhere, { recursive: true });
  writeFileSync(join(base, 'victim.png'), 'the user\'s own file');
  symlinkSync(elsewhere, join(out, 'link')); // a link inside -o that leads out of it
  writeFileSync(join(out, 'theirs.png'), 'a file the queue did not make');
  symlinkSync(join(out, 'theirs.png'), join(out, 'linked.png')); // an output path that is itself a link (inside -o)
  const before = snapshot(base);
  // the repro through the CLI: --exit-after 1 must not exit 0, and nothing is written
  await addRaw('q2', fixtures[0], '../../victim');
  const c = spawn(process.execPath, [BIN, 'worker', '--redis', redis!.url, '--queue', 'q2', '-o', out, '--exit-after', '1'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  c.stdout!.on('data', (b: Buffer) => { stdout += b.toString(); });
  c.stderr!.resume();
  const code = await Promise.race([new Promise<number | null>((res) => c.once('exit', res)), new Promise<string>((res) => setTimeout(() => res('timeout'), 120_000))]);
  if (code === 'timeout') c.kill('SIGKILL');
  assert.equal(code, 1, stdout);
  assert.match(stdout, /failed "\.\.\/\.\.\/victim" \(try 1, no retry left: on the failed list\): .*has a "\.\." segment.*Nothing was written/);
  // the other hostile shapes, in-process (same worker code)
  const names: [string, Partial<BatchJobData>, RegExp][] = [
    ['/tmp/abs-victim', {}, /is an absolute path/],
    ['a\0b', {}, /control character/],
    ['link/escaped', {}, /resolves to .*elsewhere\/escaped\.png, outside .*out .*refusing to write it/],
    ['linked', {}, /is a symbolic link; the worker never writes through or replaces a link/],
    ['theirs', {}, /exists and was not written by this queue .*refusing to replace it/],
    ['bad-hash', { hash: '../../x' }, /its hash must be 64 hex digits/],
    ['bad-format', { format: 'png/../../x' as never }, /format must be png, jpeg, webp, tiff/],
  ];
  for (const [n, extra] of names) await addRaw('q2', fixtures[1], n, extra);
  const tries = new Map<string, number>();
  const w = await startBatchWorker({ redis: redis!.url, queue: 'q2', output: out, lockMs: 2000, onJob: (e) => { if (!e.ok) tries.set(e.name, e.attempt); } });
  let p: Progress;
  try {
    p = await settle('q2', names.length + 1);
  } finally {
    await w.close();
  }
  assert.equal(p.done, 0);
  assert.equal(p.failed, names.length + 1);
  for (const [n, , re] of names) {
    const f = p.failures.find((x) => x.name === n.slice(0, 50));
    assert.ok(f, `${JSON.stringify(n)} is on the failed list`);
    assert.match(f.error, re, JSON.stringify(n));
    assert.equal(f.attempts, 1, `${JSON.stringify(n)}: failed at once, never retried`);
  }
  assert.deepEqual(snapshot(base), before, 'nothing was created or changed, inside or outside -o');
  assert.equal(readFileSync(join(base, 'victim.png'), 'utf8'), 'the user\'s own file');
  assert.ok(!existsSync('/tmp/abs-victim.png'));
  const r = await runCli(['jobs', '--redis', redis!.url, '--queue', 'q2']);
  assert.match(r.stdout.join('\n'), /failed \.\.\/\.\.\/victim \([\w-]+, 1 tries\): .*"\.\." segment/);
  assert.match(r.stdout.join('\n'), /failed "a\\u0000b" \(/, 'a name with a control character is printed quoted');
});

test('the worker\'s outputs through the hostile targets: FIFO, read-only file, hard link to an input, the input itself: refused, nothing changed', { skip, timeout: 120_000 }, async () => {
  const base = join(dir, 'hostile');
  const out = join(base, 'out');
  mkdirSync(out, { recursive: true });
  const f = fixtures[3];
  spawnSync('mkfifo', [join(out, 'fifo.png')]);
  writeFileSync(join(out, 'readonly.png'), 'read-only');
  chmodSync(join(out, 'readonly.png'), 0o444);
  linkSync(f.composite, join(out, 'hardlink.png')); // a hard link to the job's own composite
  const inputsBefore = snapshot(join(dir, 'in'));
  const outBefore = snapshot(base);
  const cases: [string, RegExp][] = [
    ['fifo', /fifo\.png: -o exists and is not a regular file \(device, FIFO or socket\)/],
    ['readonly', /readonly\.png: -o exists and is read-only; refusing to replace it/],
    ['hardlink', /hardlink\.png: -o is the same file as the input composite/],
  ];
  for (const [n] of cases) await addRaw('hostile', f, n);
  let w = await startBatchWorker({ redis: redis!.url, queue: 'hostile', output: out, lockMs: 2000 });
  let p: Progress;
  try {
    p = await settle('hostile', cases.length);
  } finally {
    await w.close();
  }
  assert.equal(p.failed, cases.length);
  for (const [n, re] of cases) assert.match(p.failures.find((x) => x.name === n)?.error ?? 'not failed', re, n);
  // a template whose output is the job's own composite
  await addRaw('hostile-input', f, f.name);
  w = await startBatchWorker({ redis: redis!.url, queue: 'hostile-input', output: join(dir, 'in', 'composites', '{name}.{ext}'), lockMs: 2000 });
  try {
    p = await settle('hostile-input', 1);
  } finally {
    await w.close();
  }
  assert.equal(p.failed, 1);
  assert.match(p.failures[0].error, /is the same file as the input composite .*Nothing was written/);
  assert.deepEqual(snapshot(join(dir, 'in')), inputsBefore, 'inputs unchanged');
  assert.deepEqual(snapshot(base), outBefore, 'the hostile targets unchanged');
  assert.equal(readFileSync(join(out, 'readonly.png'), 'utf8'), 'read-only');
});

test('the worker replaces its own earlier output (recorded, or started by a worker killed before recording it), never a changed one', { skip, timeout: 120_000 }, async () => {
  const q = 'own';
  const out = join(dir, 'out-own');
  mkdirSync(out, { recursive: true });
  const { Redis } = await import('ioredis');
  const { createHash } = await import('node:crypto');
  const r = new Redis(parseRedisUrl(redis!.url));
  const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
  // a.png: written by a killed worker after it noted the write, before it recorded it; b.png: recorded; c.png: recorded, then changed by someone
  writeFileSync(join(out, 'a.png'), 'bytes of an earlier job, write started');
  await r.hset(`harmonia:${q}:output-sha-started`, join(out, 'a.png'), sha('bytes of an earlier job, write started'));
  writeFileSync(join(out, 'b.png'), 'bytes of an earlier job, recorded');
  await r.hset(`harmonia:${q}:output-sha`, join(out, 'b.png'), sha('bytes of an earlier job, recorded'));
  await r.hset(`harmonia:${q}:outputs`, join(out, 'b.png'), 'f'.repeat(64));
  writeFileSync(join(out, 'c.png'), 'changed by someone after the queue wrote it');
  await r.hset(`harmonia:${q}:output-sha`, join(out, 'c.png'), sha('what the queue wrote'));
  r.disconnect();
  for (const n of ['a', 'b', 'c']) await addRaw(q, fixtures[2], n);
  const w = await startBatchWorker({ redis: redis!.url, queue: q, output: out, lockMs: 2000 });
  let p: Progress;
  try {
    p = await settle(q, 3);
  } finally {
    await w.close();
  }
  const ref = await harmonize({ composite: fixtures[2].compositeBytes, mask: fixtures[2].maskBytes });
  assert.ok(readFileSync(join(out, 'a.png')).equals(ref), 'a.png replaced');
  assert.ok(readFileSync(join(out, 'b.png')).equals(ref), 'b.png replaced');
  assert.equal(readFileSync(join(out, 'c.png'), 'utf8'), 'changed by someone after the queue wrote it', 'c.png kept');
  assert.equal(p.done, 2);
  assert.equal(p.failed, 1);
  assert.match(p.failures[0].error, /c\.png: -o: the output exists and was not written by this queue \(or was changed since\); refusing to replace it/);
});

test('fault 8: outputs deleted after the jobs were done are reported by jobs and made again by enqueue --redo-missing', { skip, timeout: 180_000 }, async () => {
  const q = 'q8';
  const out = join(dir, 'out8');
  const args = ['enqueue', join(dir, 'in', 'composites'), '--mask', join(dir, 'in', 'masks'), '--redis', redis!.url, '--queue', q, '--limit', '4'];
  let r = await runCli(args);
  assert.match(r.stdout.join('\n'), /enqueued 4 job\(s\)/);
  let w = await startBatchWorker({ redis: redis!.url, queue: q, output: out, lockMs: 2000 });
  try {
    await settle(q, 4);
  } finally {
    await w.close();
  }
  const refs = await Promise.all(fixtures.slice(0, 4).map((f) => harmonize({ composite: f.compositeBytes, mask: f.maskBytes })));
  rmSync(out, { recursive: true });
  r = await runCli(['jobs', '--redis', redis!.url, '--queue', q]);
  assert.match(r.stdout[0], /done 4\/4 \(4 of them with the output missing\)/);
  assert.match(r.stdout.join('\n'), /missing outputs: 4 done job\(s\) whose output file is gone \("c0000", .*--redo-missing/);
  r = await runCli(['jobs', '--redis', redis!.url, '--queue', q, '--json']);
  assert.equal((JSON.parse(r.stdout[0]) as Progress).missing, 4);
  r = await runCli(args);
  assert.equal(r.code, 0);
  assert.match(r.stdout.join('\n'), /enqueued 0 job\(s\) on queue "q8" \(4 already there/);
  assert.match(r.stdout.join('\n'), /4 of the jobs already there are done but their output file is missing .*--redo-missing/);
  r = await runCli([...args, '--redo-missing']);
  assert.match(r.stdout.join('\n'), /enqueued 4 job\(s\) on queue "q8", 4 of them enqueued again \(done but output missing\) \(0 already there/);
  w = await startBatchWorker({ redis: redis!.url, queue: q, output: out, lockMs: 2000 });
  try {
    await settle(q, 4);
  } finally {
    await w.close();
  }
  fixtures.slice(0, 4).forEach((f, k) => assert.ok(readFileSync(join(out, `${f.name}.png`)).equals(refs[k]), `${f.name} made again, equal to the library result`));
  r = await runCli(['jobs', '--redis', redis!.url, '--queue', q]);
  assert.match(r.stdout[0], /done 4\/4, failed 0/);
  assert.doesNotMatch(r.stdout.join('\n'), /missing/);
  r = await runCli(args);
  assert.match(r.stdout.join('\n'), /enqueued 0 job\(s\) on queue "q8" \(4 already there/);
  assert.doesNotMatch(r.stdout.join('\n'), /missing/);
});

test('issue 26 point 10: jobs reports throughput over busy time, not averaged over idle time, and says how', { skip, timeout: 180_000 }, async () => {
  const q = 'q26';
  const out = join(dir, 'out26');
  const list = join(dir, 'in', 'q26.txt');
  const half = async (from: number) => {
    writeFileSync(list, fixtures.slice(from, from + 3).map((f) => `${f.composite} ${f.mask} ${f.name}`).join('\n'));
    const r = await runCli(['enqueue', list, '--redis', redis!.url, '--queue', q]);
    assert.equal(r.code, 0, r.stderr.join('\n'));
  };
  const w = await startBatchWorker({ redis: redis!.url, queue: q, output: out, lockMs: 2000 });
  try {
    await half(2);
    await settle(q, 3);
    await new Promise((res) => setTimeout(res, 3000)); // idle: nothing waiting
    await half(5);
    await settle(q, 6);
  } finally {
    await w.close();
  }
  const p = await queueProgress(redis!.url, q);
  assert.equal(p.sampled, 6);
  assert.ok(p.windowS - p.busyS >= 2.9, `the 3 s idle gap is left out: busy ${p.busyS} s of ${p.windowS} s`);
  assert.ok(Math.abs(p.throughput - 6 / p.busyS) < 1e-9);
  assert.ok(p.throughput > 6 / p.windowS, `busy-time throughput ${p.throughput} is above the idle-averaged ${6 / p.windowS}`);
  const r = await runCli(['jobs', '--redis', redis!.url, '--queue', q]);
  assert.match(r.stdout[0], /throughput (\d+\.\d\d) jobs\/s of busy time \(the last 6 done jobs over \d+\.\d\d s busy: the union of their start-to-finish intervals, idle gaps left out; \d+\.\d s from first start to last finish\)/);
});
