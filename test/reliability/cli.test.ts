/**
 * The bad-input matrix through the CLI (`harmonia harmonize`, intrinsic stage so no model is needed):
 * one-line error naming the file, non-zero exit, no stack trace, no output file; documented results
 * for all-black / all-white masks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readImage } from '../../src/image/io.ts';
import { patternRgb, rawToPng, rawToJpeg, bombPng } from '../fixtures-gen/images.ts';
import { runCli } from '../run-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'harmonia-cli-reliability-'));
const W = 32;
const H = 24;


async function fixtures(): Promise<Record<string, string>> {
  const f = (name: string, bytes: Uint8Array | string): string => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const m = Buffer.alloc(W * H);
  for (let i = 0; i < m.length; i++) m[i] = i % W > 8 && i % W < 20 ? 255 : 0;
  const jpg = await rawToJpeg(patternRgb(W, H), W, H, 3);
  return {
    comp: f('comp.png', await rawToPng(patternRgb(W, H), W, H, 3)),
    mask: f('mask.png', await rawToPng(m, W, H, 1)),
    text: f('text.png', 'not an image'),
    empty: f('empty.png', ''),
    trunc: f('trunc.jpg', jpg.subarray(0, jpg.length >> 1)),
    bomb: f('bomb.png', bombPng(20000, 20000)),
    small: f('small-mask.png', await rawToPng(Buffer.alloc(100, 255), 10, 10, 1)),
    black: f('black.png', await rawToPng(Buffer.alloc(W * H, 0), W, H, 1)),
    white: f('white.png', await rawToPng(Buffer.alloc(W * H, 255), W, H, 1)),
  };
}

test('harmonize CLI: every bad input is one line naming the file, exit 2, no output written, input untouched', async () => {
  const x = await fixtures();
  const compBytes = readFileSync(x.comp);
  const cases: [string[], string, RegExp][] = [
    [[x.text, '--mask', x.mask], x.text, /not a supported image/],
    [[x.comp, '--mask', x.empty], x.empty, /empty file \(0 bytes\)/],
    [[x.trunc, '--mask', x.mask], x.trunc, /corrupt or truncated image/],
    [[x.bomb, '--mask', x.mask], x.bomb, /pixel limit .*decompression bomb/],
    [[x.comp, '--mask', x.small], x.small, /mask is 10×10 but the composite .* is 32×24/],
    [[join(dir, 'nope.png'), '--mask', x.mask], join(dir, 'nope.png'), /no such file or folder/],
  ];
  let n = 0;
  for (const [args, file, re] of cases) {
    const out = join(dir, `out-${n++}.png`);
    const r = await runCli(['harmonize', ...args, '-o', out, '--stage', 'intrinsic']);
    assert.equal(r.code, 2, `${file}: ${r.stderr.join('\n')}`);
    assert.equal(r.stderr.length, 1, r.stderr.join('\n'));
    assert.ok(r.stderr[0].startsWith(`harmonia harmonize: ${file}: `), r.stderr[0]);
    assert.match(r.stderr[0], re);
    assert.equal(existsSync(out), false);
  }
  for (const [out, re] of [[x.comp, /same file as the input/], [join(x.comp, 'x.png'), /comp\.png is a file, not a folder/]] as const) {
    const r = await runCli(['harmonize', x.comp, '--mask', x.mask, '-o', out, '--stage', 'intrinsic']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.length, 1);
    assert.ok(r.stderr[0].startsWith(`harmonia harmonize: ${out}: `), r.stderr[0]);
    assert.match(r.stderr[0], re);
  }
  assert.deepEqual(readFileSync(x.comp), compBytes);
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('out-') || f.endsWith('.tmp')), []);
});

test('harmonize CLI: all-black and all-white masks give a documented result (exit 0, full-size output)', async () => {
  const x = await fixtures();
  for (const m of [x.black, x.white]) {
    const out = join(dir, `result-${m.endsWith('black.png') ? 'black' : 'white'}.png`);
    const r = await runCli(['harmonize', x.comp, '--mask', m, '-o', out, '--stage', 'intrinsic']);
    assert.equal(r.code, 0, r.stderr.join('\n'));
    const img = await readImage(out);
    assert.deepEqual([img.width, img.height], [W, H]);
    if (m === x.black) {
      // nothing to harmonize: the output is the composite itself
      assert.deepEqual(img.data, (await readImage(x.comp)).data);
      assert.ok(r.stderr.some((l) => /^note: .*empty mask/.test(l)), r.stderr.join('\n')); // notes go to stderr (issue 26)
    }
  }
});

test('harmonize CLI as a real process: bad input exits non-zero with one line on stderr and no stack trace', () => {
  const bin = fileURLToPath(new URL('../../bin/harmonia.mjs', import.meta.url));
  const text = join(dir, 'proc-text.png');
  writeFileSync(text, 'not an image');
  const r = spawnSync(process.execPath, [bin, 'harmonize', text, '--mask', text, '-o', join(dir, 'proc-out.png'), '--stage', 'intrinsic'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 2, r.stderr);
  const lines = r.stderr.trim().split('\n').filter((l) => !/^npm warn/i.test(l));
  assert.equal(lines.length, 1, r.stderr);
  assert.equal(lines[0], `harmonia harmonize: ${text}: not a supported image (JPEG, PNG, WebP, TIFF, GIF, AVIF)`);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.equal(existsSync(join(dir, 'proc-out.png')), false);
});
