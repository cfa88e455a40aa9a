import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { prepareChart, chartsHtml, metricCharts, cellNumber, movingAverage, renderChartPage, barChartSvg, type LineChart } from '../../src/util/chart.ts';
import { firstMarkdownTable } from '../../src/util/html.ts';
import { renderTable1Html } from '../../src/eval/table1-html.ts';
import { renderDemoPage } from '../../src/report/demoPage.ts';
import { trainingCharts, writeTrainingReport, TRAINING_REPORT } from '../../src/train/curves.ts';
import { JsonlLog } from '../../src/train/log.ts';
import { HarmoniaError } from '../../src/errors.ts';
import { tempDirFactory } from '../helpers.ts';

const tempDir = tempDirFactory();

test('line charts: series aligned on the union of x, gaps for missing / non-finite values, log y only when every value is > 0', () => {
  const c = prepareChart({ title: 't', xLabel: 'step', logY: true, series: [
    { name: 'a', points: [[0, 1], [2, 4], [3, Number.NaN]] },
    { name: 'b', points: [[1, 2], [2, 3]], color: [1, 0, 0] },
  ] });
  assert.deepEqual(c.data, [[0, 1, 2, 3], [1, null, 4, null], [null, 2, 3, null]]);
  assert.equal(c.logY, true);
  assert.deepEqual(c.series.map((s) => [s.label, s.stroke, s.show]), [['a', '#1f77b4', true], ['b', '#ff0000', true]]);
  assert.equal(prepareChart({ title: 't', logY: true, series: [{ name: 'a', points: [[0, 1], [1, -1]] }] }).logY, false, 'a value ≤ 0: linear');
  // smoothing: the mean is shown, the raw series is kept hidden (dashed)
  const s = prepareChart({ title: 't', smooth: 2, series: [{ name: 'a', points: [[0, 1], [1, 3], [2, 5]] }] });
  assert.deepEqual(s.series.map((x) => [x.label, x.show]), [['a (mean of 2)', true], ['a (raw)', false]]);
  assert.deepEqual(s.data, [[0, 1, 2], [1, 2, 4], [1, 3, 5]]);
  assert.deepEqual(movingAverage([1, null, 3, 5], 2), [1, null, 2, 4]);
  assert.throws(() => barChartSvg({ kind: 'bar', title: 'x', categories: ['a'], values: [1, 2] }), HarmoniaError);
});

test('metric charts come from the report tables: Table 1 (metrics as rows) and the demo (methods as rows); n/a cells are gaps', () => {
  const md = ['# Table 1', '', '| Metric | composite | GAN + mask |', '|---|---|---|', '| PSNR (dB) ↑ | 24.26 | **24.67** |', '| LPIPS ↓ | n/a (no weights) | n/a |', '| fMSE worse than composite ↓ | – | 12.5% |', '', '## Training runs', '', '| Setting | Steps |', '|---|---|', '| mask | 10 |'].join('\n');
  const [header, ...rows] = firstMarkdownTable(md);
  assert.deepEqual(header, ['Metric', 'composite', 'GAN + mask']);
  assert.equal(rows.length, 3, 'only the first table');
  const t1 = metricCharts(header, rows, true);
  assert.deepEqual(t1.map((c) => [c.title, c.values]), [['PSNR (dB) ↑', [24.26, 24.67]], ['fMSE worse than composite ↓', [null, 12.5]]]);
  const demo = metricCharts(['method', 'MSE', 'PSNR (dB)'], [['composite', '40.1', '30.2'], ['harmonized', '35.0', '31.0']], false);
  assert.deepEqual(demo.map((c) => [c.title, c.categories, c.values]), [['MSE', ['composite', 'harmonized'], [40.1, 35]], ['PSNR (dB)', ['composite', 'harmonized'], [30.2, 31]]]);
  assert.equal(cellNumber('1e-3'), 0.001);
  assert.equal(cellNumber('n/a'), null);

  const html = renderTable1Html({ preset: 'smoke', notes: [] }, md, []);
  assert.match(html, /id="harmonia-chart-0"/);
  assert.match(html, /id="harmonia-chart-1"/);
  assert.doesNotMatch(html, /id="harmonia-chart-2"/);
  assert.match(html, /<svg class="harmonia-bar"/);
  assert.doesNotMatch(html, /uPlot/, 'bar charts only: no chart script in the page');
  const page = renderDemoPage({ title: 'd', intro: [], table: { header: ['method', 'MSE'], rows: [['composite', '40']] }, sections: [], footer: [] });
  assert.match(page, /id="harmonia-chart-0"/);
});

test('chart HTML is self-contained, deterministic and script-safe', () => {
  const charts: LineChart[] = [{ title: '</script><b>x', series: [{ name: 'a\u2028', points: [[0, 1], [1, 2]] }] }];
  const a = chartsHtml(charts);
  assert.equal(a, chartsHtml(charts), 'same input, same bytes');
  assert.equal((a.match(/<\/script>/g) ?? []).length, 3, 'no early </script> from the data');
  assert.doesNotMatch(a, /<script src=|<link /, 'nothing loaded from outside');
  assert.match(a, /&lt;\/script&gt;&lt;b&gt;x/, 'title escaped in the aria-label');
  assert.equal(chartsHtml([]), '');
});

test('training report: the loss curves of log.jsonl as losses.html (L_G parts on a log axis, L_D and logits below)', async () => {
  const dir = tempDir('harmonia-report-');
  const log = new JsonlLog(join(dir, 'log.jsonl'));
  assert.equal(await writeTrainingReport(dir), undefined, 'no steps: no report');
  for (let s = 1; s <= 120; s++) log.append({ type: 'step', step: s, epoch: 0, batch: s, seconds: 0.1, losses: { g: 2 / s + 0.1, g_adv: 0.7, g_l1: 1 / s, d: 1.3, d_real: 0.2, d_fake: -0.1 } });
  log.append({ type: 'event', step: 120, event: 'done', message: 'finished' });
  const charts = trainingCharts(log.read(), ['random features']);
  assert.equal(charts.length, 2);
  assert.deepEqual(charts[0].series.map((s) => s.name), ['L_G', 'g_adv', 'g_l1']);
  assert.deepEqual(charts[1].series.map((s) => s.name), ['L_D', 'd_real', 'd_fake']);
  assert.equal(charts[0].smooth, 2);
  assert.match(charts[0].title, /random features/);
  const path = await writeTrainingReport(dir);
  assert.equal(path, join(dir, TRAINING_REPORT));
  assert.ok(existsSync(path));
});

const CHROMIUM = process.env.HARMONIA_CHROMIUM ?? '/usr/bin/chromium';

test('the charts draw in headless Chromium: a uPlot canvas per line chart with hover read-out, SVG bars, no page errors', { skip: existsSync(CHROMIUM) ? false : `skipped: Chromium not found at ${CHROMIUM} (apt-get install chromium)`, timeout: 120_000 }, async () => {
  const dir = tempDir('harmonia-chart-page-');
  const file = join(dir, 'charts.html');
  writeFileSync(file, renderChartPage('charts', [
    { title: 'loss', xLabel: 'step', logY: true, smooth: 3, series: [{ name: 'L_G', points: Array.from({ length: 50 }, (_, i) => [i, 1 / (i + 1)] as const) }] },
    ...metricCharts(['method', 'PSNR'], [['composite', '24.2'], ['GAN', '24.7']], false),
  ]));
  const { launchChromium } = await import('../../scripts/web-serve.mjs');
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e: Error) => errors.push(e.message));
    await page.goto(pathToFileURL(file).href);
    await page.waitForFunction(() => document.querySelectorAll('.uplot canvas').length === 1, undefined, { timeout: 20_000 });
    assert.equal(await page.locator('#harmonia-chart-1 svg.harmonia-bar rect').count(), 2, 'one bar per method');
    const box = await page.locator('#harmonia-chart-0 .u-over').boundingBox();
    assert.ok(box && box.width > 200, 'plot area laid out');
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    const legend = await page.locator('#harmonia-chart-0 .u-legend').innerText();
    assert.match(legend, /L_G \(mean of 3\)/);
    assert.match(legend, /\d/, 'hover shows values');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('harmonia report <run folder>: writes losses.html from log.jsonl; a folder without a log is a HarmoniaError', async () => {
  const { reportCommand } = await import('../../src/cli/commands/report.ts');
  const dir = tempDir('harmonia-report-cli-');
  const log = new JsonlLog(join(dir, 'log.jsonl'));
  for (let s = 1; s <= 5; s++) log.append({ type: 'step', step: s, epoch: 0, batch: s, seconds: 0.1, losses: { g: 1 / s, d: 1 } });
  const orig = console.log;
  const out: string[] = [];
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  try {
    assert.equal(await reportCommand.run({ values: {}, positionals: [dir] }), 0);
  } finally {
    console.log = orig;
  }
  assert.ok(existsSync(join(dir, TRAINING_REPORT)));
  assert.match(out.join('\n'), /wrote .*losses\.html/);
  await assert.rejects(reportCommand.run({ values: {}, positionals: [tempDir('harmonia-report-empty-')] }), (e: Error) => e instanceof HarmoniaError && /no log\.jsonl/.test(e.message));
  await assert.rejects(reportCommand.run({ values: {}, positionals: [] }), HarmoniaError);
});
