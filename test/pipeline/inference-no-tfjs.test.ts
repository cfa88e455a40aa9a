/**
 * Inference without TF.js (issue 27): importing the Node API's inference path and harmonizing with the
 * default model (on ONNX Runtime) loads no `@tensorflow/*` module, as `harmonia harmonize` does not
 * (test/pipeline/onnx-first.test.ts). A fresh process records every module it resolves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { onnxAvailable } from '../../src/models/onnx.ts';
import { DEFAULT_MODEL_DIR, isModelDir } from '../../src/models/folder-meta.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

test('harmonize() with the default model loads no @tensorflow/* module', { timeout: 120_000 }, async (t) => {
  if (!(await onnxAvailable())) return t.skip('onnxruntime-node is not installed');
  if (!isModelDir(DEFAULT_MODEL_DIR)) return t.skip('no shipped model');
  const script = `
    import { register } from 'node:module';
    const seen = [];
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (u) => seen.push(u));
    port1.unref();
    register('data:text/javascript,' + encodeURIComponent('let p; export function initialize(d) { p = d.port; } export async function resolve(s, c, n) { const r = await n(s, c); p.postMessage(r.url); return r; }'), { data: { port: port2 }, transferList: [port2] });
    const { harmonize } = await import(${JSON.stringify(resolve(ROOT, 'src/pipeline/harmonize.ts'))});
    const { makeProceduralComposite } = await import(${JSON.stringify(resolve(ROOT, 'src/data/procedural.ts'))});
    const { composite, mask } = makeProceduralComposite({ seed: 2, width: 48, height: 40 });
    const png = await harmonize({ composite, mask });
    await new Promise((r) => setTimeout(r, 50));
    console.log(JSON.stringify({ bytes: png.length, seen }));
  `;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'HARMONIA_BACKEND' && k !== 'HARMONIA_INFERENCE'));
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  const { bytes, seen } = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { bytes: number; seen: string[] };
  assert.ok(bytes > 100, 'an encoded image came back');
  assert.ok(seen.some((u) => u.includes('onnxruntime-node')), 'the generator ran on ONNX Runtime');
  const tfjs = seen.filter((u) => u.includes('@tensorflow/') || u.endsWith('/src/engine/tf.ts'));
  assert.deepEqual(tfjs, [], `TensorFlow.js loaded:\n  ${tfjs.join('\n  ')}`);
});
