/**
 * Adding a generator is one builder plus one registry line: a toy generator registered here trains for
 * a step through the CLI (`harmonia train --generator toy --real …`), with nothing else changed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.ts';
import { registerGenerator, generatorNames, ResidualBlend } from '../../src/models/index.ts';
import { main } from '../../src/cli/main.ts';
import { photoSource } from '../fixtures-gen/photos.ts';
import { tempDirFactory } from '../helpers.ts';

const tempDir = tempDirFactory();

test('a toy generator registered by name trains for a step through `harmonia train`', async () => {
  registerGenerator({
    name: 'toy',
    description: 'a 1×1 convolution on [RGB, mask], residual and mask-blended',
    family: 'full-image',
    options: [],
    implementation: { build: (cfg) => {
      const input = tf.input({ shape: [null, null, 4], name: 'g_input' });
      const delta = tf.layers.conv2d({ filters: 3, kernelSize: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: cfg.seed ?? 0 }), name: 'toy_conv' }).apply(input) as tf.SymbolicTensor;
      const out = new ResidualBlend({ scale: 0.5, name: 'toy_blend' }).apply([input, delta]) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: out, name: 'generator' });
    } },
    stride: 1,
    inputChannels: () => 4,
    onnx: false,
    defaults: {},
  });
  assert.ok(generatorNames().includes('toy'));
  const dir = tempDir('harmonia-toy-');
  const photos = join(dir, 'photos');
  await photoSource(photos, 10, 32);
  const out = join(dir, 'run');
  const code = await main(['train', '--config', 'smoke', '--generator', 'toy', '--real', photos, '--size', '32', '--out', out, '--max-steps', '1', '--workers', '1', '--quiet']);
  assert.equal(code, 0);
  const state = JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')) as { step: number; config: { generator: { kind: string } } };
  assert.equal(state.step, 1);
  assert.equal(state.config.generator.kind, 'toy');
  assert.ok(existsSync(join(out, 'log.jsonl')));
  const steps = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; losses?: Record<string, number> }).filter((r) => r.type === 'step');
  assert.equal(steps.length, 1);
  assert.ok(Number.isFinite(steps[0].losses?.g), 'the step has a finite generator loss');
});
