/**
 * Adding a generator is one builder plus one registry line: a toy generator registered here trains for
 * a step through the CLI (`harmonia train --generator toy --real …`), with nothing else changed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.ts';
import { registerGenerator, generatorNames, ResidualBlend } from '../../src/models/index.ts';
import { main } from '../../src/cli/main.ts';
import { Rng } from '../../src/util/random.ts';
import { rawToPng } from '../fixtures-gen/images.ts';
import { tempDirFactory } from '../helpers.ts';

const tempDir = tempDirFactory();

/** A real-photo source in the iHarmony4-style layout: real_images/<name>.png + masks/<name>_1.png. */
async function photoSource(dir: string, count: number, size: number): Promise<void> {
  mkdirSync(join(dir, 'real_images'), { recursive: true });
  mkdirSync(join(dir, 'masks'), { recursive: true });
  for (let k = 0; k < count; k++) {
    const rng = new Rng(k);
    const rgb = new Uint8Array(size * size * 3), m = new Uint8Array(size * size);
    const tint = [rng.uniform(0.3, 1), rng.uniform(0.3, 1), rng.uniform(0.3, 1)];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const i = y * size + x;
        const inside = Math.hypot(x - size / 2, y - size / 2) < size / 4;
        m[i] = inside ? 255 : 0;
        for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.round(255 * (inside ? tint[c] : 0.2 + 0.6 * ((x + 2 * y + 40 * c) % size) / size));
      }
    }
    writeFileSync(join(dir, 'real_images', `photo${k}.png`), await rawToPng(rgb, size, size, 3));
    writeFileSync(join(dir, 'masks', `photo${k}_1.png`), await rawToPng(m, size, size, 1));
  }
}

test('a toy generator registered by name trains for a step through `harmonia train`', async () => {
  registerGenerator({
    name: 'toy',
    description: 'a 1×1 convolution on [RGB, mask], residual and mask-blended',
    build: (cfg) => {
      const input = tf.input({ shape: [null, null, 4], name: 'g_input' });
      const delta = tf.layers.conv2d({ filters: 3, kernelSize: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: cfg.seed ?? 0 }), name: 'toy_conv' }).apply(input) as tf.SymbolicTensor;
      const out = new ResidualBlend({ scale: 0.5, name: 'toy_blend' }).apply([input, delta]) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: out, name: 'generator' });
    },
    stride: 1,
    inputChannels: () => 4,
    onnx: false,
    fullResolution: false,
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
