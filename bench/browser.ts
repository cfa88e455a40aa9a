/**
 * Browser benchmark: harmonization time inside the web app (headless Chromium, /usr/bin/chromium),
 * on the built-in demo at 512² and 1024² (working size = image size), per TensorFlow.js backend,
 * intrinsic stage alone and intrinsic + GAN. The GAN runs the shipped models/default when it exists,
 * otherwise a seeded untrained generator with the paper's architecture (same compute, timing only).
 *
 *   node --import tsx bench/browser.ts [--runs 3] [--backends wasm,webgpu] [--sizes 512,1024] [--write]
 *
 * `--write` puts the Markdown table into docs/BENCHMARKS.md between this benchmark's own markers
 * (appended as a "Browser" section the first time), leaving the rest of the file alone.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { execFileSync } from 'node:child_process';
import { writeFileAtomic } from '../src/util/atomic.ts';
import { buildGenerator, PAPER_GENERATOR } from '../src/models/generator.ts';
import { saveHarmonizationModel } from '../src/pipeline/model.ts';
import { buildApp, serveStatic, launchChromium, CHROMIUM, ROOT, DIST } from '../scripts/web-serve.mjs';
import type { Page } from 'playwright-core';

const args = process.argv.slice(2);
function opt(name: string, def: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
}
const runs = Number(opt('runs', '3'));
const backends = opt('backends', 'wasm').split(','); // the app's engines: auto (WebGPU, then wasm), webgpu, wasm; headless Chromium here has no WebGPU adapter
const sizes = opt('sizes', '512,1024').split(',').map(Number);
const write = args.includes('--write');

interface Row { backend: string; size: number; stage: string; intrinsic: number[]; gan: number[]; total: number[] }

function median(v: number[]): number {
  if (v.length === 0) return NaN;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timings(page: Page): Promise<Record<string, number>> {
  return page.$$eval('#timings dd', (dds) => Object.fromEntries(dds.map((d) => [(d as HTMLElement).dataset.name ?? '', Number((d as HTMLElement).dataset.ms)])));
}

async function measure(page: Page, url: string, backend: string, size: number): Promise<{ rows: Row; engine: string }> {
  await page.goto(`${url}?backend=${backend}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
  const engine = (await page.textContent('#engine-status')) ?? '';
  if ((await page.getAttribute('#engine-status', 'data-state')) !== 'ready') throw new Error(`backend ${backend}: ${engine}`);
  const stage = ((await page.textContent('#model-status')) ?? '').includes('loaded') ? 'intrinsic + GAN' : 'intrinsic';
  await page.selectOption('#demo-size', String(size));
  // the app always harmonizes at the background's full resolution (no working-size control)
  await page.click('#demo');
  await page.waitForFunction(() => !(document.querySelector('#harmonize') as HTMLButtonElement).disabled);
  const row: Row = { backend, size, stage, intrinsic: [], gan: [], total: [] };
  for (let r = 0; r <= runs; r++) {
    // click from inside the page: a long synchronous run blocks the page, which a Playwright click would wait on
    await page.evaluate(() => {
      (document.querySelector('#run-status') as HTMLElement).dataset.state = 'queued'; // so the wait below cannot see the previous run's state
      setTimeout(() => (document.querySelector('#harmonize') as HTMLButtonElement).click(), 0);
    });
    await page.waitForSelector('#run-status[data-state="done"], #run-status[data-state="error"]', { timeout: 300_000 });
    if ((await page.getAttribute('#run-status', 'data-state')) !== 'done') throw new Error(`${backend} ${size}: ${await page.textContent('#run-status')}`);
    const t = await timings(page);
    if (r === 0) continue; // warm-up (shader compilation, wasm start)
    if (t.intrinsic !== undefined) row.intrinsic.push(t.intrinsic); // the default model skips the intrinsic stage
    if (t.gan !== undefined) row.gan.push(t.gan);
    row.total.push(t.total);
    await page.click('#tab-place'); // back to placement; the next click runs again
  }
  return { rows: row, engine };
}

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
  console.log(`vite build: ${buildApp().toFixed(1)} s`);
  const server = await serveStatic(DIST, 0);
  const browser = await launchChromium();
  const chromiumVersion = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const rows: Row[] = [];
  const engines: string[] = [];
  const shipped = existsSync(join(ROOT, 'models', 'default', 'model.json'));
  const modelDir = join(DIST, 'models', 'default');
  try {
    const page = await browser.context.newPage();
    for (const withGan of [false, true]) {
      if (withGan && !shipped) {
        const g = buildGenerator({ ...PAPER_GENERATOR, seed: 1 });
        await saveHarmonizationModel(modelDir, g, { ...PAPER_GENERATOR, seed: 1 }, { name: 'paper-G-untrained (timing only)', input: 'semiHarmonized' });
        g.dispose();
      }
      if (!withGan && shipped) rmSync(modelDir, { recursive: true, force: true }); // intrinsic alone first
      for (const backend of backends) {
        for (const size of sizes) {
          const { rows: row, engine } = await measure(page, server.url, backend, size);
          rows.push(row);
          if (!engines.includes(engine)) engines.push(engine);
          console.log(`${backend} ${size}² ${row.stage}: intrinsic ${row.intrinsic.length ? median(row.intrinsic).toFixed(0) : '–'} ms, GAN ${row.gan.length ? median(row.gan).toFixed(0) : '–'} ms, total ${median(row.total).toFixed(0)} ms`);
        }
      }
      if (withGan === false && shipped) buildApp(); // restores the shipped model into dist
    }
  } finally {
    await browser.close();
    await server.close();
    if (!shipped) rmSync(modelDir, { recursive: true, force: true }); // never leave the timing-only model in dist/web
  }
  const md = [
    '## Browser',
    '',
    `Harmonization inside the web app (\`node --import tsx bench/browser.ts --runs ${runs}\`): built-in demo, working size = image size, median of ${runs} runs after one warm-up, times measured in the page (performance.now) around the library's harmonizeImage. ${chromiumVersion}, headless, \`--disable-gpu\` (WebGL therefore runs on SwiftShader, a CPU rasteriser), ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}). GAN: ${shipped ? 'the shipped models/default' : 'seeded untrained generator with the paper architecture (331,075 weights), timing only'}.`,
    '',
    '| backend | size | stages | intrinsic (ms) | GAN (ms) | total (ms) |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.backend} | ${r.size}² | ${r.stage} | ${r.intrinsic.length ? median(r.intrinsic).toFixed(0) : '–'} | ${r.gan.length ? median(r.gan).toFixed(0) : '–'} | ${median(r.total).toFixed(0)} |`),
    '',
    `Engines seen: ${engines.map((e) => e.replace(/^Engine: /, '')).join('; ')}.`,
  ].join('\n');
  console.log(`\n${md}`);
  if (write) {
    const file = join(ROOT, 'docs', 'BENCHMARKS.md');
    const start = '<!-- bench/browser.ts:start -->';
    const end = '<!-- bench/browser.ts:end -->';
    const block = `${start}\n${md}\n${end}`;
    const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
    const i = old.indexOf(start);
    const j = old.indexOf(end);
    const next = i >= 0 && j > i ? old.slice(0, i) + block + old.slice(j + end.length) : `${old.replace(/\n*$/, '\n')}\n${block}\n`;
    await writeFileAtomic(file, next);
    console.log(`wrote the Browser section of ${file}`);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
