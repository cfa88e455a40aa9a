/**
 * A training run's loss curves as interactive charts (src/util/chart.ts): generator loss and its
 * parts on a log axis, discriminator loss and mean logits below, both smoothed like losses.png with
 * the raw series one click away. `writeTrainingReport` writes them next to the run's log.jsonl.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.ts';
import { JsonlLog, stepRecords, type LogRecord } from './log.ts';
import { renderChartPage, type LineChart } from '../util/chart.ts';

export const TRAINING_REPORT = 'losses.html';

/** The two loss charts of a run's log records, or [] when it has fewer than two steps. */
export function trainingCharts(records: readonly LogRecord[], notes: readonly string[] = []): LineChart[] {
  const steps = stepRecords(records);
  if (steps.length < 2) return [];
  const keys = Object.keys(steps[steps.length - 1].losses);
  // as in losses.png: L_G and its parts (every key not starting with "d"), then L_D and the mean logits
  const gKeys = keys.filter((k) => !k.startsWith('d'));
  const dKeys = keys.filter((k) => k === 'd' || k === 'd_real' || k === 'd_fake');
  const series = (ks: string[]) => ks.map((k) => ({ name: k === 'g' ? 'L_G' : k === 'd' ? 'L_D' : k, points: steps.map((r) => [r.step, r.losses[k]] as const) }));
  const smooth = Math.max(1, Math.round(steps.length / 60));
  const note = notes.length ? ` (${notes.join('; ')})` : '';
  return [
    { title: `generator loss${note}`, xLabel: 'step', yLabel: 'loss', logY: true, smooth, series: series(gKeys), height: 300 },
    { title: 'discriminator loss and mean logits', xLabel: 'step', yLabel: 'loss / mean logit', smooth, series: series(dKeys), height: 240 },
  ];
}

/** The loss-curve page of a run's log records ('' when there is nothing to plot). */
export function renderTrainingReport(records: readonly LogRecord[], title = 'Harmonia training run', notes: readonly string[] = []): string {
  const charts = trainingCharts(records, notes);
  return charts.length ? renderChartPage(title, charts, ['Drag to zoom, double-click to reset, click a legend entry to show or hide a series.']) : '';
}

/** Writes <runDir>/losses.html from <runDir>/log.jsonl; returns its path, or undefined when the log has < 2 steps. */
export async function writeTrainingReport(runDir: string, notes: readonly string[] = []): Promise<string | undefined> {
  const html = renderTrainingReport(new JsonlLog(join(runDir, "log.jsonl")).read(), "Harmonia training run", notes);
  if (!html) return undefined;
  const path = join(runDir, TRAINING_REPORT);
  await writeFileAtomic(path, html);
  return path;
}
