/**
 * Output-path matrix: missing / read-only / non-folder parents, output = input, writes that fail midway
 * or are killed: never a partial output file, never an existing good file clobbered, never an input
 * overwritten; always a HarmoniaError naming the output path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  mkdtempSync, writeFileSync, readFileSync, mkdirSync, readdirSync, existsSync, symlinkSync, linkSync, chmodSync, statSync, rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readImage, writeImage, writeMask } from '../../src/image/io.ts';
import { writeFileAtomic, writeFileAtomicSync, removeStaleTempFiles, TEMP_FILE_PATTERN } from '../../src/util/atomic.ts';
import { assertNotSamePath, assertWritableOutput, canonicalPath } from '../../src/util/paths.ts';
import { createImage } from '../../src/image/types.ts';
import { HarmoniaError } from '../../src/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'harmonia-output-'));

function isCleanError(file: string, re: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof HarmoniaError, `expected HarmoniaError, got ${String(e)}`);
    assert.ok(e.message.startsWith(`${file}: `), `message does not start with ${file}: ${e.message}`);
    assert.match(e.message, re);
    return true;
  };
}

function tmpFiles(d: string): string[] {
  return readdirSync(d).filter((f) => f.endsWith('.tmp'));
}

async function goodFile(name: string): Promise<{ path: string; bytes: Buffer }> {
  const path = join(dir, name);
  await writeImage(path, createImage(6, 5, 3, 0.25));
  return { path, bytes: readFileSync(path) };
}

test('output in a missing folder: clean error, nothing created; mkdir: true creates it', async () => {
  const p = join(dir, 'missing', 'deeper', 'out.png');
  await assert.rejects(writeImage(p, createImage(2, 2)), isCleanError(p, /cannot write: no such file or folder/));
  assert.equal(existsSync(join(dir, 'missing')), false);
  assert.throws(() => assertWritableOutput(p), isCleanError(p, /folder .*deeper does not exist/));
  await writeImage(p, createImage(2, 2, 3, 1), { mkdir: true });
  assert.deepEqual(Array.from((await readImage(p)).data), new Array(12).fill(1));
});

test('output under a file (ENOTDIR) and output that is a folder: clean errors, nothing changed', async () => {
  const { path: file, bytes } = await goodFile('plain.png');
  const under = join(file, 'out.png');
  await assert.rejects(writeImage(under, createImage(2, 2)), isCleanError(under, /a path component is not a folder/));
  await assert.rejects(writeImage(under, createImage(2, 2), { mkdir: true }), isCleanError(under, /cannot create folder .*plain\.png is a file, not a folder/));
  assert.throws(() => assertWritableOutput(under), isCleanError(under, /is not a folder/));
  assert.throws(() => assertWritableOutput(under, { mkdir: true }), isCleanError(under, /cannot create the output folder .*plain\.png is a file, not a folder/));
  assert.deepEqual(readFileSync(file), bytes);
  const folder = join(dir, 'folder.png');
  mkdirSync(folder);
  writeFileSync(join(folder, 'keep.txt'), 'x');
  await assert.rejects(writeImage(folder, createImage(2, 2)), isCleanError(folder, /is a folder, not a file|cannot write/));
  assert.throws(() => assertWritableOutput(folder), isCleanError(folder, /output is a folder/));
  assert.deepEqual(readdirSync(folder), ['keep.txt']);
  assert.deepEqual(tmpFiles(dir), []);
});

test('output in a read-only folder: clean error, no partial file (as an unprivileged user when run as root)', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'harmonia-ro-'));
  chmodSync(base, 0o755);
  const ro = join(base, 'readonly');
  mkdirSync(ro);
  chmodSync(ro, 0o555);
  const p = join(ro, 'out.png');
  const script = fileURLToPath(new URL('../fixtures-gen/write-probe.ts', import.meta.url));
  // root ignores folder permissions, so the write is attempted by `nobody` (uid 65534) in a child process
  const asRoot = process.getuid?.() === 0;
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, p], {
    encoding: 'utf8', timeout: 60_000, ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
  });
  if (r.status !== 0 || !r.stdout.trim()) {
    t.skip(`cannot run the write probe${asRoot ? ' as uid 65534 (repository not readable by others?)' : ''}: ${(r.stderr || String(r.error)).split('\n')[0]}`);
    return;
  }
  const results = JSON.parse(r.stdout.trim()) as { step: string; ok: boolean; error?: string; message?: string }[];
  assert.deepEqual(results.map((x) => [x.step, x.ok, x.error]), [
    ['assertWritableOutput', false, 'HarmoniaError'], ['writeImage', false, 'HarmoniaError'],
  ]);
  assert.match(results[0].message ?? '', new RegExp(`^${p}: the output folder .*readonly is not writable: permission denied`));
  assert.equal(results[1].message, `${p}: cannot write: permission denied`);
  assert.deepEqual(readdirSync(ro), []);
  chmodSync(ro, 0o755);
});

test('output equal to an input is refused before anything is written (same path, .., symlinked folder, hard link)', async () => {
  const { path: input, bytes } = await goodFile('input.png');
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  const link = join(dir, 'linked');
  symlinkSync(dir, link);
  const hard = join(dir, 'hard.png');
  linkSync(input, hard);
  for (const out of [input, join(sub, '..', 'input.png'), join(link, 'input.png'), hard]) {
    assert.throws(() => assertNotSamePath(input, out), isCleanError(out, /same file as the input .*input\.png; refusing to overwrite an input/));
    await assert.rejects(writeImage(out, createImage(6, 5, 3, 0.9), { inputs: ['other.png', input] }), isCleanError(out, /same file as the input/));
    assert.throws(() => assertWritableOutput(out, { inputs: [input] }), isCleanError(out, /same file as the input/));
  }
  await assert.rejects(writeMask(input, { width: 6, height: 5, data: new Float32Array(30) }, { inputs: [input] }), /same file as the input/);
  assert.deepEqual(readFileSync(input), bytes);
  // different files pass, including one that does not exist yet and one next to a symlink
  assertNotSamePath([input, hard], join(dir, 'new.png'));
  assertNotSamePath(input, join(link, 'other.png'));
  assert.equal(canonicalPath(join(link, 'not-yet', 'x.png')), join(canonicalPath(dir), 'not-yet', 'x.png'));
  assert.throws(() => assertNotSamePath(input, ''), (e: unknown) => e instanceof HarmoniaError && /invalid path/.test(e.message));
});

test('a write that fails midway leaves no partial file and never clobbers the existing good file', async () => {
  const { path, bytes } = await goodFile('existing.png');
  async function* failing(): AsyncGenerator<Uint8Array> {
    yield new Uint8Array(1000).fill(1);
    yield new Uint8Array(1000).fill(2);
    throw new Error('disk went away');
  }
  await assert.rejects(writeFileAtomic(path, failing()), isCleanError(path, /cannot write: disk went away/));
  assert.deepEqual(readFileSync(path), bytes);
  assert.deepEqual(tmpFiles(dir), []);
  const fresh = join(dir, 'never.png');
  await assert.rejects(writeFileAtomic(fresh, failing()), isCleanError(fresh, /disk went away/));
  assert.equal(existsSync(fresh), false);
  // encoding failures happen before any byte is written
  const cases: [string, Parameters<typeof writeImage>[1], Parameters<typeof writeImage>[2], RegExp][] = [
    [path.replace(/\.png$/, '.jpg'), createImage(70000, 1), {}, /too large for JPEG/],
    [path, { width: 3, height: 3, channels: 3, data: new Float32Array(5) }, {}, /data must be a Float32Array of 3×3×3 = 27 values, got 5/],
    [path, createImage(2, 2, 2), {}, /2-channel images cannot be encoded/],
    [path.replace(/\.png$/, '.webp'), createImage(2, 2), { quality: 0 }, /quality must be an integer 1\.\.100/],
    [path.replace(/\.png$/, '.bmp'), createImage(2, 2), {}, /unknown output format "\.bmp"/],
  ];
  writeFileSync(path.replace(/\.png$/, '.jpg'), 'old jpg');
  for (const [p, img, opts, re] of cases) {
    const before = existsSync(p) ? readFileSync(p) : undefined;
    await assert.rejects(writeImage(p, img, opts), isCleanError(p, re));
    assert.deepEqual(existsSync(p) ? readFileSync(p) : undefined, before);
  }
  assert.deepEqual(tmpFiles(dir), []);
  // streamed chunks that succeed are written whole
  const streamed = join(dir, 'streamed.bin');
  await writeFileAtomic(streamed, [Uint8Array.of(1, 2), Uint8Array.of(3)]);
  assert.deepEqual([...readFileSync(streamed)], [1, 2, 3]);
});

test('replacing a file keeps its permission bits (async and sync writers)', async () => {
  const p = join(dir, 'private.json');
  writeFileSync(p, '{}');
  chmodSync(p, 0o600);
  await writeFileAtomic(p, '{"a":1}');
  assert.equal(statSync(p).mode & 0o777, 0o600);
  chmodSync(p, 0o640);
  writeFileAtomicSync(p, '{"a":2}');
  assert.equal(statSync(p).mode & 0o777, 0o640);
  assert.equal(readFileSync(p, 'utf8'), '{"a":2}');
  assert.throws(() => writeFileAtomicSync(join(dir, 'nope', 'x.json'), '{}'), isCleanError(join(dir, 'nope', 'x.json'), /no such file or folder/));
});

test('kill -9 during a write: the target keeps its old content; removeStaleTempFiles clears the leftover', async () => {
  const d = mkdtempSync(join(tmpdir(), 'harmonia-kill-'));
  const target = join(d, 'result.png');
  writeFileSync(target, 'previous complete result');
  const script = fileURLToPath(new URL('../fixtures-gen/slow-writer.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, target], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('chunk-written')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`writer exited early (${code}): ${stderr}`)));
  });
  const exited = new Promise((r) => child.on('exit', (_code, signal) => r(signal)));
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  assert.equal(readFileSync(target, 'utf8'), 'previous complete result');
  const left = readdirSync(d).filter((f) => f !== 'result.png');
  assert.equal(left.length, 1, `leftover: ${left}`);
  assert.match(left[0], TEMP_FILE_PATTERN);
  assert.equal(statSync(join(d, left[0])).size, 4096);
  // a live writer's temp file is kept; the dead writer's is removed
  const live = `.other.png.${process.pid}.${Date.now()}.0.tmp`;
  writeFileSync(join(d, live), 'in progress');
  assert.deepEqual(await removeStaleTempFiles(d), [left[0]]);
  assert.deepEqual(readdirSync(d).sort(), [live, 'result.png'].sort());
  assert.deepEqual(await removeStaleTempFiles(d, { olderThanMs: -1 }), [live]);
});
