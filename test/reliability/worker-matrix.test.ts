/**
 * The output-rule matrix of issue 28 for `harmonia worker` (docs/RELIABILITY.md, "Output safety"): the
 * worker writes one file per job, `<-o>/<name>.<ext>` or a template's path, so both its `-o` and the
 * job outputs in it go through the same hostile targets as the other commands' outputs — a symbolic
 * link, a hard link, `..`, a trailing slash, a case variant, a device node, a FIFO, a read-only file,
 * an input, a model file, a new file inside a model folder.
 *
 * - Rows through the worker's own checks, called directly (no Redis needed): `checkOutputTemplate`
 *   (what `harmonia worker` and `startBatchWorker` run on `-o` before they start) and `planJobOutput`
 *   (what the worker runs on every job before anything is created or written). Each is refused with a
 *   HarmoniaError naming `-o` or the job name, and nothing under the fixture changes — except the
 *   case-variant rows: on a case-sensitive file system `C0000.png` is another file, so they may also be
 *   accepted, for a path that does not exist yet (never an existing file).
 * - The device-node rows create a character device with the major/minor of /dev/null (`mknod`, as root
 *   only: CI runs as root; skipped with a message otherwise).
 * - A real worker run against redis-server (started here on a free loopback port; skipped without it):
 *   jobs put into Redis for a device node, a case variant, a trailing-slash name, a FIFO, a read-only
 *   file and a hard link to the input; and `harmonia worker` itself with a trailing-slash `-o`.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Queue } from 'bullmq';
import { HarmoniaError } from '../../src/errors.ts';
import { checkOutputTemplate, planJobOutput, jobHash, parseRedisUrl, queueProgress, startBatchWorker, type BatchJobData, type Progress } from '../../src/service/queue.ts';
import { readImage } from '../../src/image/io.ts';
import { tempDirFactory } from '../helpers.ts';
import { runCli } from '../run-cli.ts';
import { makeComposites, needsRedis, startRedis, type Fixture, type RedisHandle } from '../service/helpers.ts';

process.env.HARMONIA_NATIVE_THREADS ??= '1';

const tempDir = tempDirFactory();
let fixtureCache: Fixture | undefined;

/** A fresh fixture: in/composites/c0000.png + in/masks/c0000.png (the job's inputs), out/ (the -o) with theirs.png, model/ (a model folder). */
async function fixture(): Promise<{ d: string; f: Fixture }> {
  const d = tempDir('harmonia-worker-matrix-');
  chmodSync(d, 0o755);
  if (!fixtureCache) fixtureCache = (await makeComposites(join(tempDir('harmonia-worker-matrix-src-'), 'in'), 1, 28))[0];
  const src = fixtureCache;
  mkdirSync(join(d, 'in/composites'), { recursive: true });
  mkdirSync(join(d, 'in/masks'), { recursive: true });
  const f: Fixture = { ...src, composite: join(d, 'in/composites/c0000.png'), mask: join(d, 'in/masks/c0000.png') };
  writeFileSync(f.composite, src.compositeBytes);
  writeFileSync(f.mask, src.maskBytes);
  mkdirSync(join(d, 'out'));
  writeFileSync(join(d, 'out/theirs.png'), 'a file the queue did not make');
  mkdirSync(join(d, 'model'));
  writeFileSync(join(d, 'model/model.json'), '{"modelTopology":{}}');
  writeFileSync(join(d, 'model/weights.bin'), Buffer.alloc(64, 3));
  writeFileSync(join(d, 'model/harmonia.json'), '{"kind":"paper"}');
  return { d, f };
}

/** Every entry under `d`: file → sha256 + mode, link → target, folder → mode; devices and FIFOs are never read. */
function snapshot(d: string): Map<string, string> {
  const t = new Map<string, string>();
  const walk = (p: string): void => {
    for (const n of readdirSync(p).sort()) {
      const f = join(p, n);
      const st = lstatSync(f);
      const rel = relative(d, f);
      if (st.isSymbolicLink()) t.set(rel, `link:${readlinkSync(f)}`);
      else if (st.isDirectory()) { t.set(rel + '/', `dir:${(st.mode & 0o777).toString(8)}`); walk(f); }
      else if (st.isFile()) t.set(rel, `${createHash('sha256').update(readFileSync(f)).digest('hex')}:${(st.mode & 0o777).toString(8)}:${st.ino}`);
      else t.set(rel, `special:${st.rdev}`);
    }
  };
  walk(d);
  return t;
}

/** A job as `enqueue` makes it (absolute inputs, the content hash), with `extra` fields. */
function job(f: Fixture, name: string, extra: Partial<BatchJobData> = {}): BatchJobData {
  const format = extra.format ?? 'png';
  return { name, composite: f.composite, mask: f.mask, format, hash: jobHash(f.compositeBytes, f.maskBytes, { format }, name), ...extra };
}

/** What the worker checks for a job before writing: `-o` at start-up, then the job. Returns the planned output path or the HarmoniaError. */
function plan(output: string, data: BatchJobData): string | HarmoniaError {
  try {
    checkOutputTemplate(output);
    return planJobOutput(output, data, 'matrix');
  } catch (e) {
    if (e instanceof HarmoniaError) return e;
    throw e;
  }
}

/** /dev/null's major and minor numbers (Linux's dev_t encoding). */
function devNull(): [number, number] {
  const r = statSync('/dev/null').rdev;
  return [(r >> 8) & 0xfff, (r & 0xff) | ((r >> 12) & 0xfff00)];
}
function mknodAt(p: string): string | undefined {
  const [maj, min] = devNull();
  const r = spawnSync('mknod', [p, 'c', String(maj), String(min)], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `mknod failed: ${(r.stderr || String(r.error)).trim()}`;
}
const DEVICE_SKIP: string | false = typeof process.getuid === 'function' && process.getuid() === 0
  ? false
  : 'skipped: the device-node rows create a character device with mknod, which needs root (CI runs the tests as root); the symbolic link to /dev/null rows of matrix.test.ts still run';

const mkfifoAt = (p: string): void => { assert.equal(spawnSync('mkfifo', [p]).status, 0, `mkfifo ${p}`); };

type Hostile = 'symlink' | 'hard link' | '..' | 'trailing slash' | 'case variant' | 'device node' | 'FIFO' | 'read-only file' | 'an input' | 'a model file' | 'inside a model folder';

interface Row {
  hostile: Hostile;
  /** Which worker output the row aims at: the `-o` itself, or one job's output inside it. */
  what: '-o' | 'job output';
  /** Arranges the fixture; returns the -o and the job. */
  prep: (d: string, f: Fixture) => { output: string; data: BatchJobData };
  msg: RegExp;
  /** Case variants: accepted for a path that does not exist yet is fine too (case-sensitive file systems). */
  mayAccept?: boolean;
}

const ROWS: Row[] = [
  { hostile: 'symlink', what: 'job output', prep: (d, f) => { symlinkSync(f.composite, join(d, 'out/lnk.png')); return { output: join(d, 'out'), data: job(f, 'lnk') }; }, msg: /-o .*(resolves to .*outside|is a symbolic link)/ },
  { hostile: 'symlink', what: 'job output', prep: (d, f) => { symlinkSync(join(d, 'model'), join(d, 'out/esc')); return { output: join(d, 'out'), data: job(f, 'esc/weights') }; }, msg: /-o .*resolves to .*model\/weights\.png, outside/ },
  { hostile: 'symlink', what: '-o', prep: (d, f) => { symlinkSync(join(d, 'in/composites'), join(d, 'lnkdir')); return { output: join(d, 'lnkdir'), data: job(f, 'c0000') }; }, msg: /-o is the same file as the input composite/ },
  { hostile: 'hard link', what: 'job output', prep: (d, f) => { linkSync(f.composite, join(d, 'out/hard.png')); return { output: join(d, 'out'), data: job(f, 'hard') }; }, msg: /hard\.png: -o is the same file as the input composite/ },
  { hostile: 'hard link', what: 'job output', prep: (d, f) => { linkSync(f.mask, join(d, 'out/hardm.png')); return { output: join(d, 'out'), data: job(f, 'hardm') }; }, msg: /hardm\.png: -o is the same file as the input mask/ },
  { hostile: '..', what: '-o', prep: (d, f) => ({ output: join(d, 'out') + '/../in/composites', data: job(f, 'c0000') }), msg: /-o is the same file as the input composite/ },
  { hostile: '..', what: 'job output', prep: (d, f) => ({ output: join(d, 'out'), data: job(f, '../in/composites/c0000') }), msg: /the job name .* has a "\.\." segment/ },
  { hostile: 'trailing slash', what: '-o', prep: (d, f) => ({ output: f.composite + '/', data: job(f, 'x') }), msg: /c0000\.png\/: -o cannot be written: .*c0000\.png is a file, not a folder/ },
  { hostile: 'trailing slash', what: '-o', prep: (d, f) => ({ output: join(d, 'in/composites') + '/{name}.{ext}/', data: job(f, 'c0000') }), msg: /-o: the template .* ends in a slash/ },
  { hostile: 'trailing slash', what: 'job output', prep: (d, f) => ({ output: join(d, 'out'), data: job(f, 'theirs/') }), msg: /the job name "theirs\/" has an empty segment/ },
  { hostile: 'case variant', what: 'job output', prep: (d, f) => ({ output: join(d, 'in/composites/{name}.{ext}'), data: job(f, 'C0000') }), msg: /-o is the same file as the input composite/, mayAccept: true },
  { hostile: 'case variant', what: 'job output', prep: (d, f) => ({ output: join(d, 'out'), data: job(f, 'THEIRS') }), msg: /-o /, mayAccept: true },
  { hostile: 'case variant', what: '-o', prep: (d, f) => ({ output: join(d, 'MODEL/../model'), data: job(f, 'x') }), msg: /-o is inside a model folder/ },
  { hostile: 'device node', what: 'job output', prep: (d, f) => { symlinkSync('/dev/null', join(d, 'out/null.png')); return { output: join(d, 'out'), data: job(f, 'null') }; }, msg: /-o .*(resolves to \/dev\/null, outside|is a symbolic link)/ },
  { hostile: 'FIFO', what: 'job output', prep: (d, f) => { mkfifoAt(join(d, 'out/fifo.png')); return { output: join(d, 'out'), data: job(f, 'fifo') }; }, msg: /fifo\.png: -o exists and is not a regular file \(device, FIFO or socket\)/ },
  { hostile: 'FIFO', what: '-o', prep: (d, f) => { mkfifoAt(join(d, 'fifodir')); return { output: join(d, 'fifodir'), data: job(f, 'x') }; }, msg: /-o cannot be written: .*fifodir is a device, FIFO or socket, not a folder/ },
  { hostile: 'read-only file', what: 'job output', prep: (d, f) => { writeFileSync(join(d, 'out/ro.png'), 'old'); chmodSync(join(d, 'out/ro.png'), 0o444); return { output: join(d, 'out'), data: job(f, 'ro') }; }, msg: /ro\.png: -o exists and is read-only; refusing to replace it \(the worker never replaces a read-only file: move it away or make it writable, then retry the job\)/ },
  { hostile: 'an input', what: 'job output', prep: (d, f) => ({ output: join(d, 'in/composites/{name}.{ext}'), data: job(f, 'c0000') }), msg: /-o is the same file as the input composite/ },
  { hostile: 'an input', what: 'job output', prep: (d, f) => ({ output: join(d, 'in/masks/{name}.{ext}'), data: job(f, 'c0000') }), msg: /-o is the same file as the input mask/ },
  { hostile: 'an input', what: '-o', prep: (d, f) => ({ output: f.composite, data: job(f, 'x') }), msg: /-o cannot be written: .*c0000\.png is a file, not a folder/ },
  { hostile: 'a model file', what: 'job output', prep: (d, f) => ({ output: join(d, 'model/{name}.bin'), data: job(f, 'weights') }), msg: /model\/\{name\}\.bin: -o is inside a model folder/ },
  { hostile: 'a model file', what: 'job output', prep: (d, f) => ({ output: join(d, 'out/{name}.bin'), data: job(f, 'x') }), msg: /-o must end in \.png \(it is written as PNG\), got "\.bin"/ },
  { hostile: 'inside a model folder', what: '-o', prep: (d, f) => ({ output: join(d, 'model'), data: job(f, 'x') }), msg: /-o is inside a model folder/ },
  { hostile: 'inside a model folder', what: '-o', prep: (d, f) => ({ output: join(d, 'model/sub/{name}.{ext}'), data: job(f, 'x', { format: 'jpeg' }) }), msg: /-o is inside a model folder/ },
];

const DEVICE_ROWS: Row[] = [
  { hostile: 'device node', what: 'job output', prep: (d, f) => { const e = mknodAt(join(d, 'out/dev.png')); assert.equal(e, undefined, e); return { output: join(d, 'out'), data: job(f, 'dev') }; }, msg: /dev\.png: -o exists and is not a regular file \(device, FIFO or socket\)/ },
  { hostile: 'device node', what: '-o', prep: (d, f) => { const e = mknodAt(join(d, 'devdir')); assert.equal(e, undefined, e); return { output: join(d, 'devdir'), data: job(f, 'x') }; }, msg: /-o cannot be written: .*devdir is a device, FIFO or socket, not a folder/ },
  { hostile: 'device node', what: '-o', prep: (d, f) => { const e = mknodAt(join(d, 'devt.png')); assert.equal(e, undefined, e); return { output: join(d, '{name}.{ext}'), data: job(f, 'devt') }; }, msg: /devt\.png: -o exists and is not a regular file/ },
];

async function runRows(rows: readonly Row[]): Promise<{ refused: number; accepted: number }> {
  let refused = 0, accepted = 0;
  for (const row of rows) {
    const { d, f } = await fixture();
    const { output, data } = row.prep(d, f);
    const where = `${row.hostile} (${row.what}): -o ${output.split(d).join('@')}, job ${JSON.stringify(data.name)}`;
    const before = snapshot(d);
    const r = plan(output, data);
    assert.deepEqual(snapshot(d), before, `${where}: checking changed the fixture`);
    if (typeof r === 'string') {
      assert.ok(row.mayAccept, `${where}: accepted ${r}`);
      assert.ok(!existsSync(r), `${where}: accepted an existing path ${r}`);
      accepted++;
      continue;
    }
    assert.match(r.message, row.msg, `${where}: ${r.message}`);
    assert.ok(/(^| )-o[ :]|-o [^ ]+: the output|the job name/.test(r.message), `${where}: the refusal names neither -o nor the job name: ${r.message}`);
    assert.doesNotMatch(r.message, /internal error|\n\s+at |TypeError|ENOENT|EACCES|ENOTDIR|ELOOP|undefined|probe\.|--overwrite/, where);
    if (process.env.MATRIX_MESSAGES) console.log(`${where}: ${r.message.split(d).join('@')}`);
    refused++;
  }
  return { refused, accepted };
}

test(`output-rule matrix (issue 28), the worker: -o and job outputs through ${new Set(ROWS.map((r) => r.hostile)).size} hostile targets (${ROWS.length} rows), each refused by the worker's own checks with nothing changed`, async () => {
  const { refused, accepted } = await runRows(ROWS);
  assert.equal(refused + accepted, ROWS.length);
  assert.ok(accepted <= ROWS.filter((r) => r.mayAccept).length);
  // every hostile target of issue 28 point 1 but the device node (next test) has a row
  for (const h of ['symlink', 'hard link', '..', 'trailing slash', 'case variant', 'FIFO', 'read-only file', 'an input', 'a model file', 'inside a model folder']) {
    assert.ok(ROWS.some((r) => r.hostile === h), h);
  }
  // a template with a fixed extension only takes jobs of its format
  const { d, f } = await fixture();
  assert.match(String((plan(join(d, 'out/{name}.png'), job(f, 'j', { format: 'jpeg' })) as Error).message), /-o must end in \.jpg or \.jpeg \(it is written as JPEG\), got "\.png"/);
  assert.equal(plan(join(d, 'out/{name}.jpeg'), job(f, 'j', { format: 'jpeg' })), join(d, 'out/j.jpeg'));
  assert.equal(plan(join(d, 'out') + '/', job(f, 'sub/j')), join(d, 'out/sub/j.png'), 'a trailing slash on an -o folder is the folder');
});

test(`output-rule matrix (issue 28), the worker: a device node (mknod, /dev/null's numbers) as a job output, as -o, and as a template's output`, { skip: DEVICE_SKIP }, async () => {
  const { refused } = await runRows(DEVICE_ROWS);
  assert.equal(refused, DEVICE_ROWS.length);
});

const redisSkip = needsRedis();
let redis: RedisHandle | undefined;
after(async () => { await redis?.stop(); });

async function settle(queue: string, n: number, timeoutMs = 120_000): Promise<Progress> {
  const t0 = Date.now();
  for (;;) {
    const p = await queueProgress(redis!.url, queue, { failures: 20 });
    if (p.done + p.failed >= n && p.waiting + p.active + p.delayed === 0) return p;
    if (Date.now() - t0 > timeoutMs) assert.fail(`queue ${queue}: ${JSON.stringify(p)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the worker for real, against redis-server: a device node, a case variant, a trailing-slash name, a FIFO, a read-only file and a hard link as job outputs, and a trailing-slash -o; nothing changed but one new file', { skip: redisSkip, timeout: 240_000 }, async () => {
  redis = await startRedis(tempDir('harmonia-worker-matrix-redis-'));
  const { d, f } = await fixture();
  const out = join(d, 'out');
  const root = DEVICE_SKIP === false;
  if (root) assert.equal(mknodAt(join(out, 'dev.png')), undefined);
  mkfifoAt(join(out, 'fifo.png'));
  writeFileSync(join(out, 'ro.png'), 'old');
  chmodSync(join(out, 'ro.png'), 0o444);
  linkSync(f.composite, join(out, 'hard.png'));
  const cases: [string, RegExp][] = [
    ...(root ? [['dev', /dev\.png: -o exists and is not a regular file \(device, FIFO or socket\).*Nothing was written/] as [string, RegExp]] : []),
    ['fifo', /fifo\.png: -o exists and is not a regular file/],
    ['ro', /ro\.png: -o exists and is read-only/],
    ['hard', /hard\.png: -o is the same file as the input composite/],
    ['theirs/', /the job name "theirs\/" has an empty segment/],
  ];
  const before = snapshot(d);
  const q = new Queue<BatchJobData>('wm', { connection: parseRedisUrl(redis.url) });
  for (const [n] of cases) await q.add(n, job(f, n), { jobId: `wm-${n.replace(/\W/g, '_')}`, attempts: 3, backoff: { type: 'fixed', delay: 50 } });
  await q.add('THEIRS', job(f, 'THEIRS'), { jobId: 'wm-THEIRS', attempts: 3 }); // a case variant of theirs.png
  await q.close();
  const w = await startBatchWorker({ redis: redis.url, queue: 'wm', output: out, lockMs: 2000 });
  let p: Progress;
  try {
    p = await settle('wm', cases.length + 1);
  } finally {
    await w.close();
  }
  for (const [n, re] of cases) {
    const fl = p.failures.find((x) => x.name === n);
    assert.ok(fl, `${n} failed`);
    assert.match(fl.error, re, n);
    assert.equal(fl.attempts, 1, `${n}: failed at once, never retried`);
  }
  const after_ = snapshot(d);
  const created = [...after_.keys()].filter((k) => !before.has(k));
  const changed = [...before.keys()].filter((k) => after_.get(k) !== before.get(k));
  assert.deepEqual(changed, [], 'no file changed or vanished');
  assert.equal(readFileSync(join(out, 'theirs.png'), 'utf8'), 'a file the queue did not make');
  const caseSensitive = !existsSync(join(out, 'THEIRS.PNG'));
  assert.equal(p.done, caseSensitive ? 1 : 0, `done ${p.done} on a case-${caseSensitive ? '' : 'in'}sensitive file system: ${JSON.stringify(p.failures)}`);
  if (p.done === 1) {
    // case-sensitive file system: THEIRS.png is a new file, complete and decodable
    assert.deepEqual(created, ['out/THEIRS.png']);
    const img = await readImage(join(out, 'THEIRS.png'));
    assert.equal(img.width, (await readImage(f.composite)).width);
  } else {
    assert.deepEqual(created, []);
    assert.match(p.failures.find((x) => x.name === 'THEIRS')?.error ?? '', /-o /);
  }
  // harmonia worker with a trailing-slash -o naming a file: refused before it connects, one line, exit 2
  const r = await runCli(['worker', '--redis', redis.url, '--queue', 'wm2', '-o', f.composite + '/', '--exit-after', '1']);
  assert.equal(r.code, 2, r.stderr.join('\n'));
  assert.equal(r.stderr.length, 1);
  assert.match(r.stderr[0], /^harmonia worker: .*c0000\.png\/: -o cannot be written: .*c0000\.png is a file, not a folder$/);
  const t = await runCli(['worker', '--redis', redis.url, '--queue', 'wm2', '-o', join(d, 'in/composites/{name}.{ext}/'), '--exit-after', '1']);
  assert.equal(t.code, 2);
  assert.match(t.stderr[0], /^harmonia worker: -o: the template .* ends in a slash/);
  assert.deepEqual(snapshot(d), after_, 'the refused workers wrote nothing');
});
