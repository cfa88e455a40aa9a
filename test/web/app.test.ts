/**
 * End-to-end test of the browser app: vite build, a loopback static server, headless Chromium
 * (playwright-core, /usr/bin/chromium). Loads the built-in demo, drags the object, harmonizes
 * client-side, then reads the canvases' pixels: the foreground changed, the background is
 * bit-identical, the download is a PNG of the composite's size; the intermediates appear only when
 * opened. The live preview: a 1024² drag measured in frames/s, then the full-resolution result
 * compared with the library's output bit for bit. Then the file-input path with an RGBA cut-out
 * (stale state cleared), and a served model folder. Screenshots: test-output/web-app*.png.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { buildApp, serveStatic, launchChromium, CHROMIUM, ROOT } from '../../scripts/web-serve.mjs';
import type { BrowserContext, Page } from 'playwright-core';
import { buildGenerator } from '../../src/models/generator.ts';
import { saveHarmonizationModel } from '../../src/pipeline/model.ts';
import type { GeneratorConfig } from '../../src/models/generator.ts';
import type { ModelCard } from '../../src/models/harmonization.ts';
import { harmonizeWithAsyncHooks } from '../../src/pipeline/hooks-async.ts';
import { readOnnxMetadata, sessionHooks } from '../../src/pipeline/ort-hooks.ts';
import { imageToRgba, placeForeground } from '../../src/pipeline/compose.ts';
import { demoBackground, demoForeground } from '../../web/src/demo.ts';

const skip = existsSync(CHROMIUM) ? false : `skipped: Chromium not found at ${CHROMIUM} (apt-get install chromium)`;
const OUT = join(ROOT, 'test-output');
/** The build goes to a temporary folder, so the test never races `npm run web` or the benchmark over dist/web. */
const DIST = skip ? '' : mkdtempSync(join(tmpdir(), 'harmonia-web-'));

let server: { url: string; close: () => Promise<void> } | undefined;
let browser: { context: BrowserContext; close: () => Promise<void> } | undefined;
let page: Page;
const pageErrors: string[] = [];

before(async () => {
  if (skip) return;
  const secs = buildApp(DIST);
  console.log(`# vite build: ${secs.toFixed(1)} s`);
  server = await serveStatic(DIST, 0);
  browser = await launchChromium();
  page = await browser.context.newPage();
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (msg) => {
    // a missing models/default/harmonia.json is expected (the app then runs the intrinsic stage only)
    if (msg.type() === 'error' && !/status of 404/.test(msg.text())) pageErrors.push(msg.text());
  });
  page.on('response', (res) => {
    if (res.status() >= 400 && !/\/models\/default\/harmonia\.json$/.test(new URL(res.url()).pathname)) pageErrors.push(`${res.status()} ${res.url()}`);
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (DIST) rmSync(DIST, { recursive: true, force: true });
});

interface Pixels { width: number; height: number; data: Uint8Array }

/** RGBA bytes of a canvas in the page (moved as base64: large arrays are slow to serialise). */
async function canvasPixels(selector: string): Promise<Pixels> {
  const r = await page.evaluate((sel) => {
    const c = document.querySelector(sel) as HTMLCanvasElement | null;
    if (!c) throw new Error(`no canvas ${sel}`);
    const ctx = c.getContext('2d');
    if (!ctx) throw new Error(`no 2d context on ${sel}`);
    const bytes = ctx.getImageData(0, 0, c.width, c.height).data;
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return { width: c.width, height: c.height, b64: btoa(bin) };
  }, selector);
  return { width: r.width, height: r.height, data: new Uint8Array(Buffer.from(r.b64, 'base64')) };
}

/** Foreground/background comparison of `before` and `after` (RGBA bytes) under `mask` (its R channel). */
function compare(beforePx: Pixels, afterPx: Pixels, maskPx: Pixels) {
  assert.equal(afterPx.width, beforePx.width);
  assert.equal(afterPx.height, beforePx.height);
  assert.equal(maskPx.width, beforePx.width);
  let bg = 0, bgChanged = 0, fg = 0, fgChanged = 0, fgAbs = 0;
  for (let p = 0; p < beforePx.width * beforePx.height; p++) {
    const m = maskPx.data[p * 4];
    let d = 0;
    for (let k = 0; k < 3; k++) d += Math.abs(afterPx.data[p * 4 + k] - beforePx.data[p * 4 + k]);
    if (m === 0) {
      bg++;
      if (d !== 0) bgChanged++;
    } else if (m > 127) {
      fg++;
      fgAbs += d / 3;
      if (d > 3) fgChanged++;
    }
  }
  return { bg, bgChanged, fg, fgChanged, fgMeanAbs: fgAbs / Math.max(1, fg) };
}

interface RunStats {
  /** requestAnimationFrame callbacks on the page while the worker was harmonizing. */
  frames: number;
  /** How long the page waited for the worker (ms). */
  workerMs: number;
  /** Longest gap between two of those frames (ms). */
  maxGapMs: number;
}

/** Clicks Harmonize and waits for the result, counting the page's animation frames while the worker runs. */
async function harmonizeAndWait(): Promise<RunStats> {
  assert.equal(await page.isEnabled('#harmonize'), true, 'Harmonize is enabled');
  // a string, not a function: tsx's keepNames would inject a helper the page does not have
  await page.evaluate(`(() => {
    document.querySelector('#run-status').dataset.state = 'queued'; // so the wait below cannot see the previous run's state
    const st = (window.__stats = { frames: 0, start: 0, end: 0, last: 0, maxGap: 0 });
    function tick(t) {
      if (document.body.dataset.phase === 'worker') {
        if (!st.start) st.start = t;
        else st.maxGap = Math.max(st.maxGap, t - st.last);
        st.frames++;
        st.last = t;
      } else if (st.start && !st.end) st.end = t;
      if (!st.end && document.querySelector('#run-status').dataset.state !== 'error') requestAnimationFrame(tick);
    }
    requestAnimationFrame(tick);
    // clicked from inside the page, as a user would; the click only hands the work to the worker
    setTimeout(() => document.querySelector('#harmonize').click(), 0);
  })()`);
  await page.waitForSelector('#run-status[data-state="done"], #run-status[data-state="error"]', { timeout: 120_000 });
  const st = await page.getAttribute('#run-status', 'data-state');
  assert.equal(st, 'done', `harmonization failed: ${await page.textContent('#run-status')}`);
  const s = await page.evaluate(() => (window as unknown as { __stats: { frames: number; start: number; end: number; maxGap: number } }).__stats);
  return { frames: s.frames, workerMs: (s.end || s.start) - s.start, maxGapMs: s.maxGap };
}

test('app loads, starts an engine and reports the model state', { skip }, async () => {
  await page.goto(server!.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  assert.equal(await page.getAttribute('#engine-status', 'data-state'), 'ready', await page.textContent('#engine-status') ?? '');
  assert.equal(await page.getAttribute('body', 'data-worker'), 'true', 'the pipeline runs in a web worker');
  assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'COOP/COEP served: cross-origin isolated (wasm threads)');
  const backend = await page.getAttribute('#engine-status', 'data-backend');
  const model = await page.textContent('#model-status');
  if (existsSync(join(ROOT, 'models', 'default', 'model.json'))) {
    // the shipped model: its network on ONNX Runtime Web (WebGPU when an adapter starts, else wasm; --disable-gpu here)
    assert.match(model ?? '', /GAN generator .* loaded \(.*model\.onnx, \d+\.\d MB\)/);
    assert.ok(['webgpu', 'wasm'].includes(backend ?? ''), `backend ${backend}`);
    assert.match(await page.textContent('#engine-status') ?? '', /ONNX Runtime Web \d+\.\d+\.\d+ on (WebGPU|wasm SIMD, \d+ threads?, cross-origin isolated)/);
  } else assert.match(model ?? '', /intrinsic stage only, no GAN model/);
  // engine errors are summarised: no raw WebGPU adapter text or browser flags in the header
  assert.doesNotMatch(await page.textContent('header') ?? '', /enable-unsafe-webgpu|Failed to get GPU adapter|no available backend/);
  console.log(`# engine: ${await page.textContent('#engine-status')} | ${model}`);
});

test('demo: drag the object, harmonize, foreground changes and background is bit-identical', { skip }, async () => {
  await page.selectOption('#demo-size', '512');
  await page.click('#demo');
  await page.waitForFunction(() => !(document.querySelector('#harmonize') as HTMLButtonElement).disabled);
  // drag the ball 60 canvas pixels right and 20 up (canvas is 512² and shown at its CSS size)
  const box = await page.locator('#stage').boundingBox();
  assert.ok(box);
  const k = box.width / 512;
  const start = { x: box.x + (0.22 * 512 + 0.3 * 512 * 0.75) * k, y: box.y + (0.48 * 512 + 0.3 * 512 * 0.75) * k };
  await page.mouse.move(start.x, start.y);
  await page.mouse.down();
  await page.mouse.move(start.x + 30 * k, start.y - 10 * k, { steps: 4 });
  await page.mouse.move(start.x + 60 * k, start.y - 20 * k, { steps: 4 });
  await page.mouse.up();
  // keyboard nudge: Shift+ArrowDown moves it 10 px down
  await page.focus('#stage');
  await page.keyboard.press('Shift+ArrowDown');
  const run = await harmonizeAndWait();
  // the page kept drawing while the worker harmonized: the requestAnimationFrame counter advanced
  console.log(`# demo 512²: ${run.frames} animation frames during ${run.workerMs.toFixed(0)} ms in the worker (longest gap ${run.maxGapMs.toFixed(0)} ms)`);
  // at least half the frames a 60 Hz display draws in that time (a faster worker leaves fewer to count), and no long freeze
  const expected = Math.max(1, Math.floor((0.5 * run.workerMs) / (1000 / 60)));
  assert.ok(run.frames >= expected, `only ${run.frames} frames while the worker ran ${run.workerMs.toFixed(0)} ms (expected ≥ ${expected})`);
  assert.ok(run.maxGapMs < 100, `the page froze for ${run.maxGapMs.toFixed(0)} ms while the worker ran`);

  const beforePx = await canvasPixels('#before');
  const afterPx = await canvasPixels('#after');
  const maskPx = await canvasPixels('#mask-view');
  assert.equal(beforePx.width, 512);
  // the status gives real sizes and the click-to-result time
  assert.match(await page.textContent('#run-status') ?? '', /^Done: 512×512 result in \d+\.\d\d s from click to result/);
  assert.equal(await page.$$eval('#timings dd[data-name="click"]', (d) => d.length), 1, 'click-to-result time shown');
  // drag + nudge moved the pasted object: its mask's bounding box starts 60 px right / 10 px up of the demo placement
  let minX = Infinity, minY = Infinity;
  for (let p = 0; p < 512 * 512; p++) if (maskPx.data[p * 4] > 127) { minX = Math.min(minX, p % 512); minY = Math.min(minY, Math.floor(p / 512)); }
  assert.ok(Math.abs(minX - (0.22 * 512 + 60)) <= 3, `mask left edge ${minX}`);
  assert.ok(Math.abs(minY - (0.48 * 512 - 20 + 10)) <= 3, `mask top edge ${minY}`);

  const c = compare(beforePx, afterPx, maskPx);
  console.log(`# demo 512²: fg ${c.fg} px, ${(100 * c.fgChanged / c.fg).toFixed(1)}% changed, mean |Δ| ${c.fgMeanAbs.toFixed(2)}/255; bg ${c.bg} px, ${c.bgChanged} changed`);
  assert.ok(c.fg > 10_000 && c.bg > 100_000);
  assert.equal(c.bgChanged, 0, 'background pixels must be untouched');
  assert.ok(c.fgChanged / c.fg > 0.5, `only ${c.fgChanged}/${c.fg} foreground pixels changed`);
  assert.ok(c.fgMeanAbs > 4, `foreground mean change ${c.fgMeanAbs.toFixed(2)}/255 is too small`);

  // the warm background pulls the cold ball warmer: mean R−B of the foreground rises
  let rbBefore = 0, rbAfter = 0;
  for (let p = 0; p < 512 * 512; p++) {
    if (maskPx.data[p * 4] <= 127) continue;
    rbBefore += beforePx.data[p * 4] - beforePx.data[p * 4 + 2];
    rbAfter += afterPx.data[p * 4] - afterPx.data[p * 4 + 2];
  }
  assert.ok(rbAfter > rbBefore, `foreground R−B ${rbBefore / c.fg} → ${rbAfter / c.fg}`);

  // the label says which stages ran: the shipped model runs on the raw composite (no intrinsic stage)
  const label = await page.textContent('#stage-label');
  if (!existsSync(join(ROOT, 'models', 'default', 'model.json'))) assert.match(label ?? '', /intrinsic stage only \(no GAN model\)/);
  else {
    assert.match(label ?? '', /GAN refinement \(model ".*", (WebAssembly|WebGPU)\) on the raw composite; intrinsic stage skipped|Intrinsic Compositing \+ GAN refinement/);
    if (/on the raw composite/.test(label ?? '')) assert.doesNotMatch(label ?? '', /Intrinsic Compositing/);
  }
  // intermediates are computed only when opened
  assert.equal(await page.$$eval('#intermediates canvas', (cs) => cs.length), 0, 'no intermediates before the panel is opened');
  await page.click('#intermediates-panel summary');
  await page.waitForSelector('#intermediates canvas[data-name="semi"]', { timeout: 60_000 });
  const names = await page.$$eval('#intermediates canvas', (cs) => cs.map((c) => (c as HTMLCanvasElement).dataset.name));
  for (const n of ['albedo', 'shading', 'reshading', 'normals', 'light', 'semi']) assert.ok(names.includes(n), `missing intermediate ${n}`);

  // the download link holds a PNG of the full composite size
  await page.waitForSelector('#download[aria-disabled="false"]');
  const png = await page.evaluate(async () => {
    const href = (document.querySelector('#download') as HTMLAnchorElement).href;
    const buf = new Uint8Array(await (await fetch(href)).arrayBuffer());
    return Array.from(buf.subarray(0, 24));
  });
  assert.deepEqual(png.slice(1, 4), [0x50, 0x4e, 0x47]);
  const dv = new DataView(new Uint8Array(png).buffer);
  assert.equal(dv.getUint32(16), 512);
  assert.equal(dv.getUint32(20), 512);

  // screenshot with the split at 50 %: the ball is half before, half after
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, '.gitignore'), '*\n');
  await page.screenshot({ path: join(OUT, 'web-app.png'), fullPage: true });

  // the slider moves the before/after split
  await page.fill('#split', '30');
  await page.dispatchEvent('#split', 'input');
  assert.match(await page.getAttribute('#after', 'style') ?? '', /inset\(0(px)? 0(px)? 0(px)? 30%\)/);

  assert.deepEqual(pageErrors, []);
});

test('layout: at 400 px wide the page fits without horizontal scrolling (one column)', { skip }, async () => {
  await page.click('#tab-place');
  await page.setViewportSize({ width: 400, height: 900 });
  try {
    const w = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, stage: (document.querySelector('#stage') as HTMLElement).getBoundingClientRect().width }));
    assert.ok(w.scroll <= 400, `page is ${w.scroll} px wide at a 400 px viewport`);
    assert.ok(w.stage > 300 && w.stage <= 400, `the canvas spans the column (${w.stage} px)`);
    await page.screenshot({ path: join(OUT, 'web-app-400.png'), fullPage: true });
  } finally {
    await page.setViewportSize({ width: 1400, height: 1000 });
  }
});

test('live preview: dragging in a 1024² demo re-harmonizes at ≥ 15 frames/s (wasm, 2 threads); the final full-resolution result is the library\'s, bit for bit', { skip }, async (t) => {
  if (!existsSync(join(ROOT, 'models', 'default', 'model.onnx'))) return t.skip('skipped: no models/default/model.onnx (the live preview runs the shipped model)');
  await page.click('#tab-place');
  await page.selectOption('#demo-size', '1024');
  await page.click('#demo');
  await page.waitForFunction(() => !(document.querySelector('#harmonize') as HTMLButtonElement).disabled);
  assert.equal(await page.getAttribute('#engine-status', 'data-backend'), 'wasm', 'headless Chromium here has no WebGPU adapter: ONNX Runtime Web runs on wasm');
  assert.match(await page.textContent('#engine-status') ?? '', /wasm SIMD, 2 threads, cross-origin isolated/);
  // Frame budget: 15 frames/s, the target, whatever the load (measured 24.6 frames/s at a load average
  // of 12.5 on the 2-core machine, 2026-12-08). The cores and the load are reported next to the rate.
  const cores = availableParallelism();
  const load = loadavg()[0];
  const target = 15;
  // a 3-second drag at the display's frame rate: pointer events from inside the page (no round trips)
  const r = await page.evaluate(`new Promise((resolve) => {
    const c = document.querySelector('#stage');
    const box = c.getBoundingClientRect(), k = box.width / 1024;
    const sx = box.left + (0.22 * 1024 + 0.3 * 1024 * 0.75) * k, sy = box.top + (0.48 * 1024 + 0.3 * 1024 * 0.75) * k;
    const ev = (type, x, y) => c.dispatchEvent(new PointerEvent(type, { clientX: x, clientY: y, pointerId: 7, bubbles: true, buttons: 1, isPrimary: true }));
    const fps = document.querySelector('#fps');
    ev('pointerdown', sx, sy);
    const f0 = Number(fps.dataset.frames), t0 = performance.now();
    let i = 0;
    function step() {
      i++;
      ev('pointermove', sx + i * 1.5 * k, sy - i * 0.5 * k);
      if (performance.now() - t0 < 3000) requestAnimationFrame(step);
      else { ev('pointerup', sx + i * 1.5 * k, sy - i * 0.5 * k); resolve({ frames: Number(fps.dataset.frames) - f0, ms: performance.now() - t0, moves: i, text: fps.textContent }); }
    }
    requestAnimationFrame(step);
  })`) as { frames: number; ms: number; moves: number; text: string };
  const rate = r.frames / (r.ms / 1000);
  console.log(`# live preview 1024² (preview at 384 px): ${r.frames} preview updates in ${(r.ms / 1000).toFixed(2)} s = ${rate.toFixed(1)} frames/s over ${r.moves} pointer moves; target ${target} (${cores} cores, load ${load.toFixed(1)}); ${r.text}`);
  assert.ok(r.moves > r.frames, 'the drag produced more pointer moves than previews (the preview is the bottleneck being measured)');
  assert.ok(rate >= target, `live preview ${rate.toFixed(1)} frames/s < ${target.toFixed(1)}`);
  await page.waitForFunction(() => (document.querySelector('#stage') as HTMLCanvasElement).dataset.placement !== undefined);
  const placement = JSON.parse(await page.getAttribute('#stage', 'data-placement') ?? '{}') as { x: number; y: number; scale: number };
  assert.ok(placement.x > 0.22 * 1024 + 50, `the drag moved the object (x ${placement.x})`);

  // the final result at full resolution
  await harmonizeAndWait();
  const afterPx = await canvasPixels('#after');
  assert.equal(afterPx.width, 1024);
  assert.match(await page.textContent('#run-status') ?? '', /^Done: 1024×1024 result in \d+\.\d\d s from click to result/);
  // the library's output for the same scene and placement: harmonia/browser's pipeline (harmonizeWithAsyncHooks)
  // around the same model.onnx in onnxruntime-web's WebAssembly build, here in Node
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  const onnx = readFileSync(join(ROOT, 'models', 'default', 'model.onnx'));
  const meta = JSON.parse(readFileSync(join(ROOT, 'models', 'default', 'harmonia.json'), 'utf8')) as { generator: GeneratorConfig; card: ModelCard };
  const session = await ort.InferenceSession.create(onnx, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const model = { config: meta.generator, card: meta.card, ...sessionHooks(ort as never, session as never, meta.generator, readOnnxMetadata(onnx)) };
  const fg = demoForeground(Math.round(1024 * 0.6));
  const placed = placeForeground(demoBackground(1024, 1024), fg.image, fg.mask, placement);
  const ref = imageToRgba((await harmonizeWithAsyncHooks(placed.composite, placed.mask, model, {})).result);
  await session.release();
  let diff = 0, maxAbs = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ref[i] - afterPx.data[i]);
    if (d) diff++;
    maxAbs = Math.max(maxAbs, d);
  }
  console.log(`# final 1024² result vs the library's (onnxruntime-web wasm in Node): ${diff} of ${ref.length} bytes differ (max |Δ| ${maxAbs})`);
  assert.equal(diff, 0, 'the final full-resolution result is the library\'s output, bit for bit');
  assert.deepEqual(pageErrors, []);
});

test('file inputs: background image + RGBA cut-out, harmonized with the background untouched', { skip }, async () => {
  const w = 160, h = 120;
  const bg = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = (y * w + x) * 3;
    bg[i] = 150 + Math.round(60 * x / w); bg[i + 1] = 90 + Math.round(40 * y / h); bg[i + 2] = 40 + ((x * 7 + y * 3) % 17);
  }
  const s = 64;
  const cut = Buffer.alloc(s * s * 4);
  for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) {
    const i = (y * s + x) * 4;
    const inside = Math.hypot(x - 31.5, y - 31.5) < 28;
    cut[i] = 40 + (x % 8 < 4 ? 30 : 0); cut[i + 1] = 80; cut[i + 2] = 200 - Math.round(y * 1.5); cut[i + 3] = inside ? 255 : 0;
  }
  const bgPng = await sharp(bg, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
  const cutPng = await sharp(cut, { raw: { width: s, height: s, channels: 4 } }).png().toBuffer();
  await page.click('#tab-place');
  await page.setInputFiles('#bg-file', { name: 'bg.png', mimeType: 'image/png', buffer: bgPng });
  await page.setInputFiles('#fg-file', { name: 'cutout.png', mimeType: 'image/png', buffer: cutPng });
  await page.waitForFunction(() => !(document.querySelector('#harmonize') as HTMLButtonElement).disabled);
  // a 160×120 run can finish within one animation frame: the page's frames during the worker run are checked on the larger runs
  await harmonizeAndWait();
  const beforePx = await canvasPixels('#before');
  const afterPx = await canvasPixels('#after');
  const maskPx = await canvasPixels('#mask-view');
  assert.equal(beforePx.width, w);
  // the previous run's intermediates and timings did not survive the new images
  assert.match(await page.textContent('#run-status') ?? '', new RegExp(`^Done: ${w}×${h} result`));
  assert.equal(beforePx.height, h);
  const c = compare(beforePx, afterPx, maskPx);
  console.log(`# files ${w}×${h}: fg ${c.fg} px, ${(100 * c.fgChanged / c.fg).toFixed(1)}% changed, mean |Δ| ${c.fgMeanAbs.toFixed(2)}/255; bg ${c.bg} px, ${c.bgChanged} changed`);
  assert.ok(c.fg > 500);
  assert.equal(c.bgChanged, 0);
  assert.ok(c.fgChanged / c.fg > 0.5 && c.fgMeanAbs > 4, `foreground barely changed: ${JSON.stringify(c)}`);
  assert.deepEqual(pageErrors, []);
});

test('with a model folder served, the app loads it and the GAN refinement changes the foreground only', { skip }, async () => {
  // a seeded, untrained residual generator: its output differs from its input, which is all this checks
  const config = { base: 8, unet: true, maskInput: true, residual: true, residualScale: 0.3, seed: 3 };
  const g = buildGenerator(config);
  await saveHarmonizationModel(join(DIST, 'models', 'default'), g, config, { name: 'e2e-random', input: 'semiHarmonized', notes: ['untrained, for the browser test'] });
  g.dispose();
  await page.goto(server!.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  assert.match(await page.textContent('#model-status') ?? '', /GAN generator "e2e-random" loaded \(paper, model\.onnx, \d+\.\d MB\)/);
  await page.selectOption('#demo-size', '512');
  await page.click('#demo');
  await page.waitForFunction(() => !(document.querySelector('#harmonize') as HTMLButtonElement).disabled);
  const run = await harmonizeAndWait();
  console.log(`# GAN 512²: ${run.frames} animation frames during ${run.workerMs.toFixed(0)} ms in the worker (longest gap ${run.maxGapMs.toFixed(0)} ms)`);
  // at least half the frames a 60 Hz display draws in that time (a faster worker leaves fewer to count), and no long freeze
  const expected = Math.max(1, Math.floor((0.5 * run.workerMs) / (1000 / 60)));
  assert.ok(run.frames >= expected, `only ${run.frames} frames while the worker ran ${run.workerMs.toFixed(0)} ms (expected ≥ ${expected})`);
  assert.ok(run.maxGapMs < 100, `the page froze for ${run.maxGapMs.toFixed(0)} ms while the worker ran`);
  assert.match(await page.textContent('#stage-label') ?? '', /^Intrinsic Compositing \+ GAN refinement \(model "e2e-random", (WebAssembly|WebGPU)\)/);
  for (const n of ['intrinsic', 'gan']) assert.equal(await page.$$eval(`#timings dd[data-name="${n}"]`, (d) => d.length), 1, `${n} timing shown`);
  await page.click('#intermediates-panel summary');
  await page.waitForSelector('#intermediates canvas[data-name="semi"]', { timeout: 60_000 });
  const semi = await canvasPixels('#intermediates canvas[data-name="semi"]');
  const beforePx = await canvasPixels('#before');
  const afterPx = await canvasPixels('#after');
  const maskPx = await canvasPixels('#mask-view');
  const vsComposite = compare(beforePx, afterPx, maskPx);
  const vsSemi = compare(semi, afterPx, maskPx);
  console.log(`# GAN 512²: vs composite ${vsComposite.bgChanged} bg px changed; vs semi-harmonized fg mean |Δ| ${vsSemi.fgMeanAbs.toFixed(2)}/255`);
  assert.equal(vsComposite.bgChanged, 0);
  assert.ok(vsSemi.fgMeanAbs > 0.5, 'the generator changed the semi-harmonized foreground');
  assert.deepEqual(pageErrors, []);
});
