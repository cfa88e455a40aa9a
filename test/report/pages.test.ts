/**
 * Issue 26 point 6: the report pages. Bar charts with labelled axes, grouped by set, labels that never
 * overlap and no hover legend; relative paths only; a table of contents; links to full-size images;
 * each warning once; `harmonia evaluate --html`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, chmodSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { barChartSvg, niceTicks, wrapLabel, chartsHtml } from '../../src/util/chart.ts';
import { relativePath, relativizePaths, withoutRepeatedNotes } from '../../src/util/html.ts';
import { renderDemoPage } from '../../src/report/demoPage.ts';
import { runDemo } from '../../src/pipeline/demo.ts';
import { writeProceduralDataset } from '../../src/data/procedural.ts';
import { main } from '../../src/cli/main.ts';
import { tempDirFactory } from '../helpers.ts';

const tempDir = tempDirFactory();
const repo = resolve(new URL('../..', import.meta.url).pathname);

/** The ids a page defines and the #anchors it links to. */
function anchors(html: string): { ids: Set<string>; links: string[] } {
  return { ids: new Set([...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1])), links: [...html.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]) };
}

test('bar charts: y axis from 0 with labelled ticks, axis labels, a bar and a value per method and set, a legend, n/a gaps', () => {
  assert.deepEqual(niceTicks(1.08 * 1615), [0, 500, 1000, 1500, 2000]);
  assert.deepEqual(niceTicks(1.08 * 0.9859), [0, 0.25, 0.5, 0.75, 1, 1.25]);
  assert.deepEqual(niceTicks(54), [0, 20, 40, 60]);
  const svg = barChartSvg({
    kind: 'bar', title: 'fMSE (lower is better)', xLabel: 'set (number of composites)', yLabel: 'fMSE (0–255 scale)', digits: 1,
    categories: ['procedural (8)', 'real photos (24)'],
    series: [{ name: 'composite (no change)', values: [1522.8, 1610.5] }, { name: 'intrinsic stage', values: [1535.8, null] }, { name: 'harmonized (default model)', values: [1197.7, 987.8] }],
  });
  assert.equal((svg.match(/<rect [^>]*><title>/g) ?? []).length, 5, 'a bar per finite value');
  assert.equal((svg.match(/<rect [^>]*\/>/g) ?? []).length, 3, 'a legend swatch per method');
  for (const t of ['1522.8', '1610.5', '1535.8', '1197.7', '987.8', 'n/a', 'composite (no change)', 'harmonized (default model)', 'set (number of composites)', 'fMSE (0–255 scale)', '>2000<', '>0<']) assert.ok(svg.includes(t), t);
  assert.match(svg, /<title>intrinsic stage, real photos \(24\): n\/a<\/title>/);
  assert.doesNotMatch(chartsHtml([{ kind: 'bar', title: 't', categories: ['a'], values: [1] }]), /uPlot|<script/, 'bar charts need no script');
  // labels wrap to their slot; a long word is cut, never overflows
  assert.deepEqual(wrapLabel('real photos: harmonized (default model)', 14), ['real photos:', 'harmonized', '(default…']);
  assert.deepEqual(wrapLabel('Intrinsic Compositing', 12), ['Intrinsic', 'Compositing']);
  assert.deepEqual(wrapLabel('supercalifragilistic', 8), ['superca…']);
});

test('paths in reports: relative to the report, ~/… under the home folder, absolute paths inside text rewritten', () => {
  assert.equal(relativePath('/srv/x/shared/data/real', '/srv/x/main/harmonia-out'), '../../shared/data/real');
  assert.equal(relativePath('/srv/x/out', '/srv/x/out'), '.');
  assert.equal(relativePath('data/real', '/anywhere'), 'data/real');
  assert.equal(relativePath(join(homedir(), '.cache', 'w.pth'), '/nonexistent-root/out'), '~/.cache/w.pth');
  assert.equal(relativizePaths('auto: tensorflow unavailable (Cannot find package imported from /srv/x/main/src/engine/index.ts)', '/srv/x/main/out'),
    'auto: tensorflow unavailable (Cannot find package imported from ../src/engine/index.ts)');
  assert.equal(relativizePaths('missing /srv/a.pth, /srv/b.pth.', '/srv/out'), 'missing ../a.pth, ../b.pth.');
  assert.equal(relativizePaths('PSNR = 10·log10(255²/MSE), 1/2 and km/h', '/srv'), 'PSNR = 10·log10(255²/MSE), 1/2 and km/h');
  const md = ['> **Note:** LPIPS not computed: n/a (no weights): missing ~/w.pth', '', 'LPIPS: n/a (no weights): missing ~/w.pth.', '', 'Data: `x`.', '| a | b |'].join('\n');
  assert.equal(withoutRepeatedNotes(md, ['LPIPS not computed: n/a (no weights): missing ~/w.pth']), ['', '', 'Data: `x`.', '| a | b |'].join('\n'));
});

test('the demo page: table of contents to every section, images linked to their full-size files, each warning once', () => {
  const html = renderDemoPage({
    title: 'd', intro: ['one'], warnings: ['No GAN model', 'No GAN model'],
    table: { header: ['set: method', 'MSE'], rows: [['procedural: composite', '40']] },
    sections: [{ heading: 'Procedural composites', rows: [{ title: 'p0', images: [{ label: 'composite', file: 'images/p0_composite.png' }] }] }, { heading: 'Procedural composites', rows: [] }],
    footer: [],
  });
  const { ids, links } = anchors(html);
  assert.deepEqual([...new Set(links)], ['summary', 'metrics', 'charts', 'procedural-composites', 'procedural-composites-2', 'top']);
  for (const l of links) assert.ok(ids.has(l), `#${l} exists`);
  assert.match(html, /<a href="images\/p0_composite\.png"[^>]*><img src="images\/p0_composite\.png" alt="p0: composite"/);
  assert.equal(html.split('No GAN model').length - 1, 1);
});

test('npm start report (runDemo): charts grouped by set, no absolute paths of the machine, report.json relative', async () => {
  const out = join(tempDir('harmonia-demo-page-'), 'out');
  const s = await runDemo({ outDir: out, count: 2, size: 48, realComposites: null, realPhotos: null, quiet: true, modelDir: join(out, '..', 'no-model') });
  const html = readFileSync(s.report, 'utf8');
  for (const abs of [out, repo, process.cwd(), homedir()]) assert.ok(!html.includes(abs), `no ${abs} in the page`);
  assert.match(html, /No GAN model at \.\.\/no-model: only the intrinsic stage ran\./);
  assert.equal(html.split('No GAN model at').length - 1, 1, 'the warning once');
  assert.match(html, /Protocol: images compared at their native 48×48/);
  // one chart per metric, the sets along x, a bar per method (5 charts: MSE, PSNR, fMSE, SSIM, worse than composite)
  assert.equal((html.match(/<svg class="harmonia-bar"/g) ?? []).length, 5);
  assert.match(html, />set \(number of composites\)</);
  assert.match(html, />procedural \(2\)</);
  const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { outDir: string; report: string };
  assert.deepEqual([json.outDir, json.report], ['.', 'index.html']);
  for (const m of html.matchAll(/<img src="([^"]+)"/g)) assert.ok(existsSync(join(out, m[1])), m[1]);
});

test('harmonia evaluate --html writes report.html into --out through the output checks: tables, charts, TOC, warning once, relative links', async () => {
  const dir = tempDir('harmonia-eval-html-');
  const data = join(dir, 'data');
  await writeProceduralDataset(data, { count: 6, seed: 2, width: 48, height: 48, testFraction: 0.5 });
  // predictions: the real photos themselves (a perfect method)
  const pred = join(dir, 'pred');
  mkdirSync(pred);
  for (const line of readFileSync(join(data, 'IHD_test.txt'), 'utf8').trim().split('\n')) {
    const base = line.split('/').pop()!.replace(/\.png$/, '');
    copyFileSync(join(data, 'Procedural', 'real_images', `${base.split('_')[0]}.png`), join(pred, `${base}.png`));
  }
  const out = join(dir, 'ev');
  assert.equal(await main(['evaluate', '--data', data, '--pred', pred, '--name', 'perfect', '--out', out, '--html', '--lpips', 'alex', '--weights', join(dir, 'no-weights'), '--quiet']), 0);
  assert.deepEqual(readdirSync(out).sort(), ['per_image.csv', 'report.html', 'summary.json', 'table.md']);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  for (const abs of [dir, repo, homedir()]) assert.ok(!html.includes(abs), `no ${abs} in the page`);
  assert.match(html, /Data: <code>\.\.\/data<\/code>/);
  assert.equal(html.split('n/a (no weights)').length - 1 - (html.match(/<td>n\/a \(no weights\)<\/td>/g) ?? []).length, 1, 'the LPIPS warning once (besides the table cells)');
  assert.match(html, /<div class="warn">LPIPS not computed: n\/a \(no weights\)/);
  const { ids, links } = anchors(html);
  assert.ok(links.includes('charts') && links.includes('by-subset') && links.includes('by-foreground-ratio') && links.includes('files'), links.join());
  for (const l of links) assert.ok(ids.has(l), `#${l} exists`);
  for (const f of ['per_image.csv', 'summary.json', 'table.md']) assert.match(html, new RegExp(`<a href="${f.replace('.', '\\.')}">`));
  // 5 metric charts by subset (no LPIPS without weights) + fMSE by foreground ratio; the perfect method's fPSNR is capped at 100 dB
  assert.equal((html.match(/<svg class="harmonia-bar"/g) ?? []).length, 6);
  assert.match(html, /<title>perfect, All \(3\): 0\.0<\/title>/, 'the perfect method has fMSE 0 over the 3 test images');
  // --html without --out, and a read-only report.html, are refused before any work
  const refused = async (args: string[]): Promise<string> => {
    const errs: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => { errs.push(String(chunk)); return true; }) as typeof process.stderr.write;
    try {
      assert.equal(await main(args), 2);
    } finally {
      process.stderr.write = write;
    }
    return errs.join('');
  };
  assert.match(await refused(['evaluate', '--data', data, '--html']), /--html: needs --out <dir>/);
  chmodSync(join(out, 'report.html'), 0o444);
  const before = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(await refused(['evaluate', '--data', data, '--out', out, '--html', '--lpips', 'none', '--quiet']), /--html \(report\.html\) exists and is read-only/);
  assert.equal(readFileSync(join(out, 'report.html'), 'utf8'), before, 'left as it was');
});

const CHROMIUM = process.env.HARMONIA_CHROMIUM ?? '/usr/bin/chromium';

test('the demo report in headless Chromium: no overlapping chart labels, no page errors, every image loads', { skip: existsSync(CHROMIUM) ? false : `skipped: Chromium not found at ${CHROMIUM} (apt-get install chromium)`, timeout: 120_000 }, async () => {
  const out = join(tempDir('harmonia-demo-browser-'), 'out');
  const s = await runDemo({ outDir: out, count: 2, size: 48, realComposites: null, realPhotos: null, quiet: true, modelDir: join(out, 'no-model') });
  writeFileSync(join(out, 'long.html'), renderDemoPage({
    title: 'long labels', intro: [], sections: [], footer: [],
    table: { header: ['set: method', 'MSE', 'PSNR (dB)'], rows: [['procedural: composite (no change)', '80.48', '30.84'], ['procedural: intrinsic stage', '80.81', '30.52'], ['procedural: harmonized (default model)', '65.48', '31.87'], ['real photos: composite (no change)', '324.51', '24.40'], ['real photos: intrinsic stage', '349.31', '23.81'], ['real photos: harmonized (default model)', '206.64', '26.69']] },
  }));
  const { launchChromium } = await import('../../scripts/web-serve.mjs');
  const browser = await launchChromium();
  try {
    for (const file of [s.report, join(out, 'long.html')]) {
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e: Error) => errors.push(e.message));
      await page.setViewportSize({ width: 1200, height: 900 });
      await page.goto(pathToFileURL(file).href);
      const overlaps = await page.evaluate(() => {
        const found: string[] = [];
        for (const svg of Array.from(document.querySelectorAll('svg.harmonia-bar'))) {
          const boxes = Array.from(svg.querySelectorAll('text')).map((t) => ({ t: t.textContent ?? '', r: t.getBoundingClientRect() })).filter((b) => b.r.width > 0);
          for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
            const a = boxes[i].r, b = boxes[j].r;
            if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5) found.push(`${boxes[i].t} / ${boxes[j].t}`);
          }
          const sr = svg.getBoundingClientRect();
          for (const b of boxes) if (b.r.left < sr.left - 0.5 || b.r.right > sr.right + 0.5) found.push(`${b.t} outside the chart`);
        }
        return found;
      });
      assert.deepEqual(overlaps, [], file);
      const broken = await page.evaluate(async () => {
        const imgs = Array.from(document.images);
        for (const i of imgs) { i.loading = 'eager'; if (!i.complete) await new Promise((r) => { i.onload = r; i.onerror = r; }); }
        return imgs.filter((i) => i.naturalWidth === 0).map((i) => i.src);
      });
      assert.deepEqual(broken, []);
      assert.deepEqual(errors, []);
      await page.close();
    }
  } finally {
    await browser.close();
  }
});
