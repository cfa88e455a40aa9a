import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
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

test('.npmrc skips the CUDA download of onnxruntime-node, under the name its install script reads', () => {
  const rc = readFileSync(join(root, '.npmrc'), 'utf8');
  assert.match(rc, /^onnxruntime-node-install=skip$/m);
  const script = join(root, 'node_modules', 'onnxruntime-node', 'script', 'install-utils.js');
  if (!existsSync(script)) return; // not installed: nothing to cross-check
  // npm exports the .npmrc key "onnxruntime-node-install" as npm_config_onnxruntime_node_install
  const src = readFileSync(script, 'utf8');
  assert.match(src, /process\.env\.npm_config_onnxruntime_node_install\b/);
  assert.match(src, /case 'skip':\s*return false;/);
});

test('harmonia info names the inference engine of the generator and why', { timeout: 120_000 }, () => {
  const auto = spawnSync(process.execPath, [cli, 'info', '--backend', 'cpu'], { encoding: 'utf8', env: { ...process.env, HARMONIA_INFERENCE: '' } });
  assert.equal(auto.status, 0, auto.stderr);
  const line = /^inference engine \(generator\): (.*)$/m.exec(auto.stdout)?.[1];
  assert.ok(line, auto.stdout);
  if (ortInstalled()) assert.match(line, /^ONNX Runtime \d+\.\d+\.\d+ \(onnxruntime-node is installed .*CPU provider, \d+ threads/);
  else assert.match(line, /^TensorFlow\.js \(onnxruntime-node .*not installed/);
  const forced = spawnSync(process.execPath, [cli, 'info', '--backend', 'cpu'], { encoding: 'utf8', env: { ...process.env, HARMONIA_INFERENCE: 'tfjs' } });
  assert.equal(forced.status, 0, forced.stderr);
  assert.match(forced.stdout, /^inference engine \(generator\): TensorFlow\.js \(HARMONIA_INFERENCE=tfjs\)$/m);
  const bad = spawnSync(process.execPath, [cli, 'info', '--backend', 'cpu'], { encoding: 'utf8', env: { ...process.env, HARMONIA_INFERENCE: 'gpu' } });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /HARMONIA_INFERENCE must be auto, onnx or tfjs/);
});
