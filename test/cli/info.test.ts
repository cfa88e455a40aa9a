import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const cli = join(root, 'bin', 'harmonia.mjs');

function ortInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('onnxruntime-node');
    return true;
  } catch {
    return false;
  }
}

test('no npm config key npm warns about; onnxruntime-node\'s CUDA download is off by allowScripts and ONNXRUNTIME_NODE_INSTALL=skip in CI', () => {
  // issue 26: the old .npmrc key "onnxruntime-node-install" made npm warn on every `npm run`
  if (existsSync(join(root, '.npmrc'))) assert.doesNotMatch(readFileSync(join(root, '.npmrc'), 'utf8'), /^onnxruntime-node-install\s*=/m);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
  assert.equal(pkg.allowScripts?.['onnxruntime-node'], false, 'package.json allowScripts denies its postinstall');
  assert.match(readFileSync(join(root, '.ci', 'run'), 'utf8'), /ONNXRUNTIME_NODE_INSTALL=skip npm ci/);
  const script = join(root, 'node_modules', 'onnxruntime-node', 'script', 'install-utils.js');
  if (!existsSync(script)) return; // not installed: nothing to cross-check
  // the switch its install script reads
  const src = readFileSync(script, 'utf8');
  assert.match(src, /process\.env\.ONNXRUNTIME_NODE_INSTALL\b/);
  assert.match(src, /case 'skip':\s*return false;/);
});

test('harmonia info names the inference engine of the generator and why', { timeout: 120_000 }, () => {
  const auto = spawnSync(process.execPath, [cli, 'info', '--backend', 'cpu'], { encoding: 'utf8', env: { ...process.env, HARMONIA_INFERENCE: '' } });
  assert.equal(auto.status, 0, auto.stderr);
  const line = /^inference engine \(generator\): (.*)$/m.exec(auto.stdout)?.[1];
  assert.ok(line, auto.stdout);
  // the shipped model is a `global` colour-transform generator: its network runs on ONNX Runtime from the
  // shipped model.onnx (fresh for model.json + weights.bin), the transform in JavaScript, and info says so
  if (ortInstalled()) assert.match(line, /^ONNX Runtime \d+\.\d+\.\d+ \(onnxruntime-node is installed .*CPU provider, \d+ threads, runs the "global" generator's network \(64² analysis copy → colour transform; the transform is applied in JavaScript at full resolution\) from .*models\/default\/model\.onnx, whose SHA-256 tag matches model\.json \+ weights\.bin\)$/);
  else assert.match(line, /^TensorFlow\.js \(onnxruntime-node .*not installed/);
  // a paper generator runs on ONNX Runtime when it is installed
  const dir = mkdtempSync(join(tmpdir(), 'harmonia-info-'));
  const made = spawnSync(process.execPath, ['--import', 'tsx', '-e', `
    const { initEngine } = await import(${JSON.stringify(join(root, 'src/engine/index.ts'))});
    const { buildGenerator } = await import(${JSON.stringify(join(root, 'src/models/index.ts'))});
    const { saveHarmonizationModel } = await import(${JSON.stringify(join(root, 'src/pipeline/model.ts'))});
    const { saveModel } = await import(${JSON.stringify(join(root, 'src/models/io.ts'))});
    await initEngine({ backend: 'cpu' });
    const cfg = { base: 4, maskInput: true, residual: true, seed: 1 };
    await saveHarmonizationModel(${JSON.stringify(dir)}, buildGenerator(cfg), cfg, { name: 'paper-tiny', input: 'semiHarmonized' });
    // new weights copied in without re-exporting: model.onnx is stale
    await saveHarmonizationModel(${JSON.stringify(dir + '-stale')}, buildGenerator(cfg), cfg, { name: 'paper-tiny', input: 'semiHarmonized' });
    await saveModel(buildGenerator({ ...cfg, seed: 2 }), ${JSON.stringify(dir + '-stale')});
  `], { encoding: 'utf8', cwd: root, env: { ...process.env, NODE_OPTIONS: '' }, input: '' });
  assert.equal(made.status, 0, made.stderr);
  const paper = spawnSync(process.execPath, [cli, 'info', '--backend', 'cpu', '--model', dir], { encoding: 'utf8', env: { ...process.env, HARMONIA_INFERENCE: '' } });
  assert.equal(paper.status, 0, paper.stderr);
  const pline = /^inference engine \(generator\): (.*)$/m.exec(paper.stdout)?.[1] ?? '';
  if (ortInstalled()) assert.match(pline, /^ONNX Runtime \d+\.\d+\.\d+ \(onnxruntime-node is installed .*CPU provider, \d+ threads/);
  // a stale model.onnx is not used, and info says why and what to run
  const stale = spawnSync(process.execPath, [cli, 'info', '--backend', 'cpu', '--model', `${dir}-stale`], { encoding: 'utf8', env: { ...process.env, HARMONIA_INFERENCE: '' } });
  assert.equal(stale.status, 0, stale.stderr);
  const sline = /^inference engine \(generator\): (.*)$/m.exec(stale.stdout)?.[1] ?? '';
  if (ortInstalled()) assert.match(sline, /^TensorFlow\.js \(.*model\.onnx is stale: it was exported from other weights .*re-export it with `harmonia export-onnx .*-stale`\)$/);
  rmSync(dir, { recursive: true, force: true });
  rmSync(`${dir}-stale`, { recursive: true, force: true });
  const forced = spawnSync(process.execPath, [cli, 'info', '--backend', 'cpu'], { encoding: 'utf8', env: { ...process.env, HARMONIA_INFERENCE: 'tfjs' } });
  assert.equal(forced.status, 0, forced.stderr);
  assert.match(forced.stdout, /^inference engine \(generator\): TensorFlow\.js \(HARMONIA_INFERENCE=tfjs\)$/m);
  const bad = spawnSync(process.execPath, [cli, 'info', '--backend', 'cpu'], { encoding: 'utf8', env: { ...process.env, HARMONIA_INFERENCE: 'gpu' } });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /HARMONIA_INFERENCE must be auto, onnx or tfjs/);
});
