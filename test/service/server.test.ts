/**
 * `harmonia serve` on loopback with its real parts (Fastify, worker threads, the default model):
 * a load test (≥ 2,000 requests from 32 concurrent clients, bounded: every accepted answer has the
 * library's pixels, every refusal is 503 + Retry-After, no request hangs), bad input over HTTP
 * (4xx with a one-line JSON error, never a stack trace), cut-out mode, /health and /metrics.
 * PNG answers are compressed at the server's fast level (1) by default: the same pixels as the
 * library's result (decoded and compared byte for byte); with pngLevel 6 the same bytes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { harmonize } from '../../src/pipeline/harmonize.ts';
import { placeForeground } from '../../src/pipeline/compose.ts';
import { readImage, readCutout } from '../../src/image/io.ts';
import { createServer, type HarmoniaServer } from '../../src/service/server.ts';
import { tempDirFactory } from '../helpers.ts';
import { makeComposites, percentile, type Fixture } from './helpers.ts';
import { runCli } from '../run-cli.ts';

// The worker threads run their kernels on one thread; so does this process for the references.
process.env.HARMONIA_NATIVE_THREADS ??= '1';

const tempDir = tempDirFactory();
let root: string;
let fixtures: Fixture[];
let refs: Buffer[];
/** The decoded 8-bit pixels of refs. */
let refPixels: Buffer[];
let server: HarmoniaServer;
let base: string;
const BODY_LIMIT = 256 * 1024;

before(async () => {
  root = tempDir('harmonia-serve-');
  fixtures = await makeComposites(root, 4, 7);
  refs = [];
  for (const f of fixtures) refs.push(await harmonize({ composite: f.compositeBytes, mask: f.maskBytes }));
  refPixels = await Promise.all(refs.map((r) => pixels(r)));
  server = await createServer({ threads: 2, maxQueue: 4, root, bodyLimit: BODY_LIMIT });
  base = await server.app.listen({ port: 0, host: '127.0.0.1' });
});

after(async () => {
  await server?.close();
});

/** An encoded image's 8-bit pixels with their layout (sharp decodes every format the server answers in). */
async function pixels(encoded: Uint8Array): Promise<Buffer> {
  const { data, info } = await sharp(encoded).raw().toBuffer({ resolveWithObject: true });
  return Buffer.concat([Buffer.from(`${info.width}x${info.height}x${info.channels}:`), data]);
}

/** The answer has the pixels of `want` (an encoded reference, or the index of a fixture's). */
async function samePixels(answer: Uint8Array, want: number | Buffer): Promise<boolean> {
  return (await pixels(answer)).equals(typeof want === 'number' ? refPixels[want] : await pixels(want));
}

function form(parts: Record<string, Buffer | string>): FormData {
  const fd = new FormData();
  for (const [k, v] of Object.entries(parts)) {
    if (typeof v === 'string') fd.append(k, v);
    else fd.append(k, new Blob([new Uint8Array(v)]), `${k}.png`);
  }
  return fd;
}

/** Asserts a 4xx answer with a one-line JSON `{ error }` and no stack trace; returns the error. */
async function expectError(res: Response, status: number | number[]): Promise<string> {
  const text = await res.text();
  const want = Array.isArray(status) ? status : [status];
  assert.ok(want.includes(res.status), `status ${res.status} (want ${want.join('/')}): ${text}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  assert.ok(!text.trim().includes('\n'), `one line: ${text}`);
  const body = JSON.parse(text) as { error?: unknown };
  assert.equal(typeof body.error, 'string', text);
  assert.deepEqual(Object.keys(body), ['error'], text);
  assert.ok(!/\n\s+at |\.ts:\d+|node:internal/.test(body.error as string), `no stack trace: ${text}`);
  return body.error as string;
}

test('POST /harmonize: multipart upload and JSON paths give the library result; JSON report has timings', async () => {
  const f = fixtures[0];
  let res = await fetch(`${base}/harmonize`, { method: 'POST', body: form({ composite: f.compositeBytes, mask: f.maskBytes }) });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('content-type'), 'image/png');
  assert.match(res.headers.get('server-timing') ?? '', /total;dur=/);
  const fast = Buffer.from(await res.arrayBuffer());
  assert.ok(await samePixels(fast, 0), 'the library\'s pixels');
  res = await fetch(`${base}/harmonize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ composite: 'composites/c0000.png', mask: 'masks/c0000.png', response: 'json' }) });
  assert.equal(res.status, 200);
  const j = (await res.json()) as { width: number; height: number; format: string; stage: string; timings: Record<string, number>; image: string };
  assert.equal(j.format, 'png');
  assert.equal(j.stage, 'full');
  assert.ok(j.timings.total > 0 && j.timings.request >= j.timings.total && j.timings.queue >= 0, JSON.stringify(j.timings));
  assert.ok(Buffer.from(j.image, 'base64').equals(fast), 'the same answer as an upload');
  // options: stage and format
  res = await fetch(`${base}/harmonize`, { method: 'POST', body: form({ composite: f.compositeBytes, mask: f.maskBytes, stage: 'intrinsic', format: 'jpeg' }) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/jpeg');
  const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
  assert.equal(meta.format, 'jpeg');
});

test('POST /harmonize: background + RGBA cut-out with at and scale equals placing then harmonizing', async () => {
  const bg = fixtures[1].compositeBytes;
  const w = 20, h = 16;
  const rgba = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    rgba[i * 4] = 220; rgba[i * 4 + 1] = 90 + (i % w) * 3; rgba[i * 4 + 2] = 40;
    rgba[i * 4 + 3] = (i % w) > 2 && (i % w) < w - 3 ? 255 : 0;
  }
  const cut = await sharp(rgba, { raw: { width: w, height: h, channels: 4 } }).png().toBuffer();
  const res = await fetch(`${base}/harmonize`, { method: 'POST', body: form({ background: bg, foreground: cut, at: '5,6', scale: '0.75' }) });
  assert.equal(res.status, 200, await res.clone().text());
  const c = await readCutout(cut);
  const placed = placeForeground(await readImage(bg), c.image, c.mask, { x: 5, y: 6, scale: 0.75 });
  const want = await harmonize({ composite: placed.composite, mask: placed.mask });
  assert.ok(await samePixels(Buffer.from(await res.arrayBuffer()), want));
});

test('bad input over HTTP: 4xx with a one-line JSON error, never a stack trace', async () => {
  const f = fixtures[0];
  const post = (body: BodyInit, headers: Record<string, string> = {}) => fetch(`${base}/harmonize`, { method: 'POST', body, headers });
  const json = (o: unknown) => post(JSON.stringify(o), { 'content-type': 'application/json' });
  // oversized bodies: JSON and multipart
  await expectError(await json({ composite: 'x'.repeat(BODY_LIMIT + 10), mask: 'm' }), 413);
  await expectError(await post(form({ composite: Buffer.alloc(BODY_LIMIT + 100, 1), mask: f.maskBytes })), 413);
  // wrong content types
  await expectError(await post('composite=a', { 'content-type': 'text/plain' }), 415);
  await expectError(await post('<a/>', { 'content-type': 'application/xml' }), 415);
  await expectError(await post(f.compositeBytes as unknown as BodyInit, { 'content-type': 'image/png' }), 415);
  await expectError(await post('{not json', { 'content-type': 'application/json' }), 400);
  await expectError(await json([1, 2]), 400);
  // paths outside the root: .., absolute, a symbolic link out of it, URLs
  await expectError(await json({ composite: '../../etc/passwd', mask: 'masks/c0000.png' }), 403);
  await expectError(await json({ composite: '/etc/passwd', mask: 'masks/c0000.png' }), 403);
  mkdirSync(join(root, 'links'), { recursive: true });
  symlinkSync('/etc', join(root, 'links', 'out'));
  const e = await expectError(await json({ composite: 'links/out/passwd', mask: 'masks/c0000.png' }), 403);
  assert.match(e, /outside the server's root/);
  await expectError(await json({ composite: 'http://example.com/a.png', mask: 'masks/c0000.png' }), 400);
  // the CLI's bad-image cases
  writeFileSync(join(root, 'not-image.png'), 'this is not an image');
  writeFileSync(join(root, 'truncated.png'), f.compositeBytes.subarray(0, 60));
  writeFileSync(join(root, 'empty.png'), '');
  const notImage = await expectError(await json({ composite: 'not-image.png', mask: 'masks/c0000.png' }), 400);
  assert.ok(!notImage.includes(root), `the server's folders are not revealed: ${notImage}`);
  await expectError(await json({ composite: 'truncated.png', mask: 'masks/c0000.png' }), 400);
  await expectError(await json({ composite: 'empty.png', mask: 'masks/c0000.png' }), 400);
  await expectError(await json({ composite: 'missing.png', mask: 'masks/c0000.png' }), 400);
  await expectError(await json({ composite: 'composites', mask: 'masks/c0000.png' }), 400);
  await expectError(await post(form({ composite: Buffer.from('garbage bytes'), mask: f.maskBytes })), 400);
  await expectError(await post(form({ composite: f.compositeBytes.subarray(0, 80), mask: f.maskBytes })), 400);
  await expectError(await post(form({ composite: f.compositeBytes, mask: fixtures[1].maskBytes })), 400); // mask of another size
  await expectError(await post(form({ composite: f.compositeBytes, mask: Buffer.alloc(0) })), 400);
  // a decompression bomb: a PNG header claiming 20000×20000 pixels (over the server's 40 MP limit)
  const bomb = Buffer.from(f.compositeBytes);
  bomb.writeUInt32BE(20000, 16);
  bomb.writeUInt32BE(20000, 20);
  bomb.writeUInt32BE(crc32(bomb.subarray(12, 29)), 29);
  assert.match(await expectError(await post(form({ composite: bomb, mask: f.maskBytes })), 400), /pixel/i);
  await expectError(await post(form({ composite: f.compositeBytes })), 400);
  await expectError(await post(form({ composite: f.compositeBytes, mask: f.maskBytes, photo: f.compositeBytes })), 400);
  await expectError(await post(form({ background: f.compositeBytes, foreground: f.compositeBytes })), 400); // cut-out without alpha
  // bad options
  await expectError(await post(form({ composite: f.compositeBytes, mask: f.maskBytes, stage: 'all' })), 400);
  await expectError(await post(form({ composite: f.compositeBytes, mask: f.maskBytes, format: 'jpg' })), 400);
  await expectError(await post(form({ composite: f.compositeBytes, mask: f.maskBytes, model: '/etc' })), 400);
  await expectError(await post(form({ composite: f.compositeBytes, mask: f.maskBytes, quality: '0' })), 400);
  await expectError(await post(form({ background: f.compositeBytes, foreground: f.compositeBytes, scale: '1e9' })), 400);
  await expectError(await json({ composite: 'composites/c0000.png', mask: 'masks/c0000.png', extra: 1 }), 400);
  await expectError(await fetch(`${base}/nothing`), 404);
  // the server is still fine
  const res = await post(form({ composite: f.compositeBytes, mask: f.maskBytes }));
  assert.equal(res.status, 200);
  assert.ok(await samePixels(Buffer.from(await res.arrayBuffer()), 0));
});

test('load: 2,016 requests from 32 concurrent clients; accepted = correct, refused = 503 + Retry-After, none hangs', async (t) => {
  const CLIENTS = 32, PER_CLIENT = 63; // 2,016 requests, a bounded loop
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let wrong = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    for (let i = 0; i < PER_CLIENT; i++) {
      const k = (c + i) % fixtures.length;
      const f = fixtures[k];
      const byPath = (c + i) % 4 === 0;
      const s = performance.now();
      const res = await fetch(`${base}/harmonize`, byPath
        ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ composite: `composites/${f.name}.png`, mask: `masks/${f.name}.png` }), signal: AbortSignal.timeout(60_000) }
        : { method: 'POST', body: form({ composite: f.compositeBytes, mask: f.maskBytes }), signal: AbortSignal.timeout(60_000) });
      const body = Buffer.from(await res.arrayBuffer());
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 200) {
        latencies.push(performance.now() - s);
        if (!(await samePixels(body, k))) wrong++;
      } else if (res.status === 503) {
        assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/, 'Retry-After in whole seconds');
        assert.match(JSON.parse(body.toString()).error, /over capacity/);
        await new Promise((r) => setTimeout(r, 5 + ((c * 7 + i) % 20))); // back off a little (bounded loop)
      } else {
        assert.fail(`unexpected status ${res.status}: ${body.toString().slice(0, 200)}`);
      }
    }
  }));
  const wallS = (performance.now() - t0) / 1000;
  const accepted = statuses.get(200) ?? 0, refused = statuses.get(503) ?? 0;
  assert.equal(accepted + refused, CLIENTS * PER_CLIENT);
  assert.equal(wrong, 0, 'every accepted request gets the library result');
  assert.ok(accepted >= 200, `accepted ${accepted}`);
  latencies.sort((a, b) => a - b);
  const stats = {
    requests: CLIENTS * PER_CLIENT, clients: CLIENTS, accepted, refused503: refused, wallS: +wallS.toFixed(2),
    acceptedPerS: +(accepted / wallS).toFixed(1), requestsPerS: +((CLIENTS * PER_CLIENT) / wallS).toFixed(1),
    p50Ms: +percentile(latencies, 50).toFixed(1), p99Ms: +percentile(latencies, 99).toFixed(1), maxMs: +latencies[latencies.length - 1].toFixed(1),
    threads: server.pool.threads, maxQueue: server.pool.maxQueue,
  };
  t.diagnostic(`load: ${JSON.stringify(stats)}`);
  if (process.env.HARMONIA_SERVICE_BENCH) writeFileSync(process.env.HARMONIA_SERVICE_BENCH, JSON.stringify(stats, null, 2) + '\n');
  // nothing left queued; the metrics saw the same
  const health = (await (await fetch(`${base}/health`)).json()) as { status: string; busy: number; queued: number };
  assert.equal(health.status, 'ok');
  assert.equal(health.queued, 0);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const count = (status: number) => Number(new RegExp(`harmonia_http_requests_total\\{route="/harmonize",status="${status}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
  assert.ok(count(200) >= accepted, metrics);
  assert.ok(count(503) >= refused);
  assert.match(metrics, /harmonia_http_request_duration_seconds_bucket\{route="\/harmonize",le="\+Inf"\} \d+/);
  assert.match(metrics, /harmonia_queue_depth 0/);
  assert.match(metrics, /harmonia_model_load_seconds \d/);
  assert.match(metrics, /harmonia_model_loaded\{model="default"\} 1/);
});

test('a request that runs too long fails with 503 + Retry-After and its thread is replaced (never a hang)', async () => {
  const slow = await createServer({ threads: 1, maxQueue: 1, timeoutMs: 1 });
  try {
    const url = await slow.app.listen({ port: 0, host: '127.0.0.1' });
    const f = fixtures[0];
    const res = await fetch(`${url}/harmonize`, { method: 'POST', body: form({ composite: f.compositeBytes, mask: f.maskBytes }), signal: AbortSignal.timeout(30_000) });
    assert.ok(res.headers.get('retry-after'));
    assert.match(await expectError(res, 503), /longer than 1 ms/);
    for (let i = 0; i < 200 && slow.pool.restarts === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(slow.pool.restarts, 1);
    const h = (await (await fetch(`${url}/health`)).json()) as { status: string };
    assert.equal(h.status, 'ok');
  } finally {
    await slow.close();
  }
});

test('harmonia serve as a process: listens, answers, and exits 0 on SIGTERM', async () => {
  const bin = fileURLToPath(new URL('../../bin/harmonia.mjs', import.meta.url));
  // --png-level 6: the library's encoding, so the same bytes as harmonize()
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--threads', '1', '--root', root, '--png-level', '6'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no "listening" line in 60 s: ${out}`)), 60_000);
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${out}`)); });
    });
    const res = await fetch(`${url}/harmonize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ composite: 'composites/c0001.png', mask: 'masks/c0001.png' }) });
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(refs[1]));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('harmonia serve: flags are checked before any work, errors name the flag', async () => {
  const cases: [string[], RegExp][] = [
    [['serve', '--port', '70000'], /--port must be an integer in \[0, 65535\]/],
    [['serve', '--threads', '0'], /--threads must be an integer in \[1, 32\]/],
    [['serve', '--max-queue=-1'], /--max-queue must be/],
    [['serve', '--body-limit', 'lots'], /--body-limit must be/],
    [['serve', '--root', join(root, 'nope')], /--root must be an existing folder/],
    [['serve', '--model', 'x=/tmp'], /--model x: no model/],
    [['serve', 'extra'], /serve takes no arguments/],
    [['serve', '--body-timeout', '0'], /--body-timeout must be in \[1, 3600\]/],
    [['serve', '--idle-timeout', 'soon'], /--idle-timeout must be/],
    [['serve', '--drain=-1'], /--drain must be in \[0, 3600\]/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr.join('\n'), re);
    assert.equal(r.stderr.length, 1, 'one line');
  }
  const h = await runCli(['serve', '--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout.join('\n'), /--max-queue/);
  assert.match(h.stdout.join('\n'), /--body-timeout[\s\S]*--idle-timeout[\s\S]*--drain/);
});
