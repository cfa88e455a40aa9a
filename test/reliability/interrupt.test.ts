/**
 * Interrupted work (docs/RELIABILITY.md): `kill -9` at random moments during make-composites, batch
 * harmonize, the intrinsic batch pre-computation and training; the rerun must complete with an output
 * tree identical (file list + SHA-256 per file) to an uninterrupted run, and after every kill each
 * file that looks complete must decode and equal the reference's (nothing half-written looks complete).
 * Driven by scripts/killtest.mjs with progress-triggered kills (after k output files, k random), so the
 * kills land mid-work whatever the machine's speed. CI-sized: the full-size trial runs are listed in
 * docs/RELIABILITY.md with their commands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runKillTest, runOnce, treeDigests, compareDigests, validateTree, tempFiles, type KillTestSummary } from '../../scripts/killtest.mjs';
import { initEngine } from '../../src/engine/index.ts';
import { writeImage } from '../../src/image/io.ts';
import { Rng } from '../../src/util/random.ts';
import { buildGenerator } from '../../src/models/generator.ts';
import { saveHarmonizationModel } from '../../src/pipeline/model.ts';
import { writeProceduralDataset, PROCEDURAL_SUBSET } from '../../src/data/procedural.ts';
import { SHARED, sharedAvailable } from '../helpers.ts';

const repo = resolve(new URL('../..', import.meta.url).pathname);
const cli = join(repo, 'bin', 'harmonia.mjs');
const root = mkdtempSync(join(tmpdir(), 'harmonia-interrupt-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

// a small procedural dataset: the intrinsic batch and training read it; make-composites uses its
// real images and masks when ../shared is absent
const data = join(root, 'data');
await writeProceduralDataset(data, { count: 16, seed: 9, width: 64, height: 64, testFraction: 0.25 });

function report(t: { diagnostic: (m: string) => void }, s: KillTestSummary): void {
  t.diagnostic(`reference ${s.reference.ms} ms, ${s.reference.files} files; ${s.killedMidRun}/${s.trials.length * s.trials[0].kills.length} kills mid-run`);
  for (const tr of s.trials) {
    t.diagnostic(`trial ${tr.trial}: ${tr.kills.map((k) => `${k.outcome} at ${k.at ?? `${k.delayMs} ms`} (${k.files} files, ${k.temp} temp)`).join('; ')}; rerun ${tr.rerun.ms} ms: ${tr.ok ? 'identical' : 'MISMATCH'}`);
  }
}

function assertAllIdentical(s: KillTestSummary, minMidRun: number): void {
  for (const tr of s.trials) {
    assert.deepEqual(tr.invalid, [], `trial ${tr.trial}: a complete-looking file did not validate`);
    assert.deepEqual(tr.partialMismatch, [], `trial ${tr.trial}: a complete-looking file differed from the reference after a kill`);
    assert.equal(tr.rerun.code, 0, `trial ${tr.trial}: the rerun failed: ${tr.rerun.stderr}`);
    assert.deepEqual(tr.leftoverTemp, [], `trial ${tr.trial}: temp files left after completion`);
    assert.deepEqual({ missing: tr.missing, extra: tr.extra, differing: tr.differing }, { missing: [], extra: [], differing: [] }, `trial ${tr.trial}: output differs from the uninterrupted run`);
  }
  assert.ok(s.ok);
  assert.ok(s.killedMidRun >= minMidRun, `only ${s.killedMidRun} kills landed before the command finished (want ≥ ${minMidRun})`);
}

test('make-composites: 10 × kill -9 mid-run, rerun completes byte-identical to an uninterrupted run', { timeout: 300_000 }, async (t) => {
  const source = sharedAvailable() ? join(SHARED, 'data', 'lalonde-real') : join(data, PROCEDURAL_SUBSET);
  t.diagnostic(`source: ${source}`);
  const s = await runKillTest({
    command: [process.execPath, cli, 'make-composites', '--real', source, '--out', '{out}', '--limit', sharedAvailable() ? '6' : '5', '--quiet'],
    trials: 10, seed: 11, trigger: 'files', strictPartial: true, concurrency: 2, work: join(root, 'kt-composites'),
  });
  report(t, s);
  assert.ok(s.reference.files >= 20, `the reference wrote ${s.reference.files} files`);
  assertAllIdentical(s, 7);
});

test('harmonize (folder, full pipeline with a generator): 10 × kill -9 mid-run, rerun completes byte-identical', { timeout: 300_000 }, async (t) => {
  await initEngine({ backend: 'cpu' });
  const rng = new Rng('interrupt-harmonize');
  const S = 64;
  for (let i = 0; i < 12; i++) {
    const img = new Float32Array(S * S * 3);
    const m = new Float32Array(S * S);
    const c = [rng.next(), rng.next(), rng.next()];
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const fg = x > 16 && x < 48 && y > 20 && y < 60;
        m[y * S + x] = fg ? 1 : 0;
        for (let k = 0; k < 3; k++) img[(y * S + x) * 3 + k] = Math.min(1, Math.max(0, (fg ? c[k] : 0.5) + 0.2 * Math.sin((x + 7 * k + i) / 5) * Math.cos(y / 7)));
      }
    }
    const name = `img${String(i).padStart(2, '0')}.png`;
    await writeImage(join(root, 'h-in', name), { width: S, height: S, channels: 3, data: img }, { mkdir: true });
    await writeImage(join(root, 'h-masks', name), { width: S, height: S, channels: 3, data: Float32Array.from({ length: S * S * 3 }, (_, j) => m[Math.floor(j / 3)]) }, { mkdir: true });
  }
  const cfg = { base: 4, maskInput: true, residual: true, residualScale: 0.3, seed: 3 };
  const g = buildGenerator(cfg);
  await saveHarmonizationModel(join(root, 'h-model'), g, cfg, { name: 'interrupt-random', input: 'semiHarmonized' });
  g.dispose();
  const s = await runKillTest({
    command: [process.execPath, cli, 'harmonize', join(root, 'h-in'), '--mask', join(root, 'h-masks'), '-o', '{out}', '--model', join(root, 'h-model'), '--stage', 'full'],
    trials: 10, seed: 12, trigger: 'files', strictPartial: true, concurrency: 2, work: join(root, 'kt-harmonize'),
    // the resume manifest is appended one line per output: after a kill it is a prefix; complete runs end canonical
    partialIgnore: ['^harmonia-manifest\\.jsonl$'],
  });
  report(t, s);
  assert.equal(s.reference.files, 13, '12 outputs + the resume manifest');
  assertAllIdentical(s, 7);
});

test('intrinsic --data --cache (batch pre-computation): 5 × kill -9 mid-run, rerun completes byte-identical', { timeout: 300_000 }, async (t) => {
  const s = await runKillTest({
    command: [process.execPath, cli, 'intrinsic', '--data', data, '--cache', '{out}', '--quiet'],
    trials: 5, seed: 13, trigger: 'files', strictPartial: true, concurrency: 2, work: join(root, 'kt-intrinsic'),
  });
  report(t, s);
  assert.equal(s.reference.files, 16);
  assertAllIdentical(s, 3);
});

test('train: kill -9 before the first checkpoint and in the last epoch after a mid-epoch checkpoint; rerun (--resume when a checkpoint exists) gives identical weights, samples, curves and model card', { timeout: 300_000 }, async (t) => {
  const cmd = [process.execPath, cli, 'train', '--config', 'smoke', '--data', data, '--out', '{out}', '--setting', 'mask', '--epochs', '8',
    '--checkpoint-every', '2', '--backend', 'wasm', '--quiet', '--cache', '{out}/cache'];
  // log.jsonl holds per-step wall times and resume events; state.json its save time; the card the command line
  const cmp = { ignore: ['^log\\.jsonl$'], jsonIgnoreKeys: ['savedAt', 'command'] };
  const ref = join(root, 'train-ref');
  assert.equal((await runOnce(cmd, ref)).code, 0);
  const refDigests = await treeDigests(ref, cmp);
  const stepLines = (dir: string) => readFileSync(join(dir, 'log.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; step: number; losses?: Record<string, number> })
    .filter((r) => r.type === 'step').map((r) => ({ step: r.step, losses: r.losses }));
  // 24 steps, 3 per epoch: log line 2 = step 1 (no checkpoint yet); line 31 = step 23 (checkpoint at step 22 exists)
  for (const [what, lines] of [['before the first checkpoint', 2], ['in the last epoch, after its mid-epoch checkpoint', 31]] as const) {
    const dir = join(root, `train-kill-${lines}`);
    const k = await runOnce(cmd, dir, { killAt: { trigger: 'lines:log.jsonl', count: lines, jitterMs: 0 } });
    assert.ok(k.killed, `${what}: the run was killed before it finished`);
    assert.deepEqual(await validateTree(dir), [], `${what}: complete-looking files validate after the kill`);
    const hasCheckpoint = existsSync(join(dir, 'checkpoint', 'state.json')) || existsSync(join(dir, '.checkpoint.old', 'state.json'));
    const state = hasCheckpoint ? JSON.parse(readFileSync(join(dir, existsSync(join(dir, 'checkpoint', 'state.json')) ? 'checkpoint' : '.checkpoint.old', 'state.json'), 'utf8')) as { step: number } : undefined;
    t.diagnostic(`${what}: killed with checkpoint at step ${state?.step ?? 'none'}`);
    if (lines === 2) assert.equal(state, undefined, 'no checkpoint yet');
    else assert.ok(state && state.step >= 22 && state.step < 24, `a last-epoch checkpoint (step ${state?.step})`);
    const r = await runOnce(hasCheckpoint ? [...cmd, '--resume'] : cmd, dir);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(compareDigests(refDigests, await treeDigests(dir, cmp)), { missing: [], extra: [], differing: [] }, `${what}: the run folder equals the uninterrupted one`);
    assert.deepEqual(await tempFiles(dir), []);
    assert.deepEqual(stepLines(dir), stepLines(ref), `${what}: every step logged once with the same losses`);
  }
});

test('experiment: a run folder whose generator lacks harmonia.json (killed while saving it) is resumed and completed, not reused', { timeout: 120_000 }, async () => {
  await initEngine({ backend: 'cpu' });
  const { SMOKE_PRESET, settingConfig } = await import('../../src/train/presets.ts');
  const { mergeTrainConfig } = await import('../../src/train/config.ts');
  const { prepareSplit } = await import('../../src/train/dataset.ts');
  const { trainSetting } = await import('../../src/eval/experiment.ts');
  const { isModelDir } = await import('../../src/pipeline/model.ts');
  const p = SMOKE_PRESET;
  const cfg = mergeTrainConfig(settingConfig(p, 'content'), { epochs: 1 });
  const trainSet = await prepareSplit(data, 'train', { size: p.evalSize, cacheRoot: join(root, 'exp-cache'), intrinsic: p.intrinsic, limit: p.trainLimit, quiet: true });
  const runDir = join(root, 'exp-run');
  const first = await trainSetting(cfg, runDir, trainSet, trainSet.slice(0, 2), { quiet: true, setting: 'content' });
  first.generator.dispose();
  assert.equal(first.run.status, 'done');
  const weights = readFileSync(join(runDir, 'generator', 'weights.bin'));
  // what a kill between model.json and harmonia.json leaves
  rmSync(join(runDir, 'generator', 'harmonia.json'));
  assert.equal(isModelDir(join(runDir, 'generator')), false);
  const again = await trainSetting(cfg, runDir, trainSet, trainSet.slice(0, 2), { quiet: true, setting: 'content' });
  again.generator.dispose();
  assert.equal(again.run.status, 'done', 'resumed from the final checkpoint, not reused');
  assert.ok(isModelDir(join(runDir, 'generator')), 'the model folder is complete again');
  assert.ok(readFileSync(join(runDir, 'generator', 'weights.bin')).equals(weights), 'with the same weights');
  const third = await trainSetting(cfg, runDir, trainSet, trainSet.slice(0, 2), { quiet: true, setting: 'content' });
  third.generator.dispose();
  assert.equal(third.run.status, 'reused', 'a complete folder is reused');
});

test('make-procedural (writeProceduralDataset) resumed over a killed run removes the temp files the killed writes left, in every folder it writes', async () => {
  // the trial runs of `harmonia make-procedural` are in docs/RELIABILITY.md (10/10 after this fix); here the
  // leftovers of a dead writer (pid 2^22 + 1 is above Linux's pid_max default, so never alive) are planted
  const dead = 4194305;
  const dirs = ['', PROCEDURAL_SUBSET, `${PROCEDURAL_SUBSET}/composite_images`, `${PROCEDURAL_SUBSET}/masks`, `${PROCEDURAL_SUBSET}/real_images`, `${PROCEDURAL_SUBSET}/intrinsics/proc00003`];
  const { writeFileSync } = await import('node:fs');
  const planted = dirs.map((d, i) => join(data, d, `.planted${i}.png.${dead}.1700000000000.${i}.tmp`));
  for (const p of planted) writeFileSync(p, 'half-written');
  const before = await treeDigests(data);
  await writeProceduralDataset(data, { count: 16, seed: 9, width: 64, height: 64, testFraction: 0.25 });
  for (const p of planted) assert.equal(existsSync(p), false, `${p} removed`);
  assert.deepEqual(await tempFiles(data), []);
  assert.deepEqual(compareDigests(before, await treeDigests(data)), { missing: [], extra: [], differing: [] }, 'the finished files are untouched');
});
