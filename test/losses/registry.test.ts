/**
 * Adding a loss setting is one file plus one registry line: a toy setting (an L2 content loss with
 * its own weight) registered here gets its CLI flag, its Table 1 column and its sweep key from the
 * registry, and trains for a step through `harmonia train --setting l2`, with nothing else changed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.ts';
import type { Scalar } from '../../src/engine/tf.ts';
import { registerLossSetting, lossSettingNames, lossWeight, mseLoss, generatorLoss, DEFAULT_LOSS, sweepableWeights, validateLossConfig } from '../../src/losses/index.ts';
import type { LossSettingEntry } from '../../src/losses/index.ts';
import { methodColumns } from '../../src/eval/experiment.ts';
import { trainCommand } from '../../src/cli/commands/train.ts';
import { main } from '../../src/cli/main.ts';
import { photoSource } from '../fixtures-gen/photos.ts';
import { tempDirFactory } from '../helpers.ts';

const tempDir = tempDirFactory();

const L2_WEIGHT = { key: 'l2Weight', flag: 'l2-weight', description: 'L2 weight', default: 100 };
const L2_SETTING: LossSettingEntry = {
  name: 'l2',
  description: 'toy: 100·MSE over the whole image',
  column: 'GAN + L2',
  needsFeatures: false,
  weights: [L2_WEIGHT],
  terms: (cfg, t) => ({ l2: tf.tidy(() => mseLoss(t.fake, t.real).mul(lossWeight(cfg, L2_WEIGHT)) as Scalar) }),
};

test('the paper settings and the add-on terms are registered', () => {
  assert.deepEqual(lossSettingNames().slice(0, 3), ['content', 'mask', 'feature']);
  assert.deepEqual(sweepableWeights('mask').map((w) => w.key), ['lambdaMask', 'lambdaUnmask', 'fnMseWeight', 'noWorseWeight', 'logRatioWeight', 'worseLogWeight']);
  const flags = Object.keys(trainCommand.options);
  for (const f of ['l1-weight', 'lambda-mask', 'lambda-unmask', 'feature-weight', 'feature-layers', 'fn-mse', 'no-worse', 'log-ratio', 'worse-log']) assert.ok(flags.includes(f), f);
});

test('a toy loss setting registered by name gets its flag, column and sweep key, and trains for a step through `harmonia train`', async () => {
  registerLossSetting(L2_SETTING);
  assert.ok(lossSettingNames().includes('l2'));
  assert.ok(Object.keys(trainCommand.options).includes('l2-weight'), 'the CLI flag comes from the registry');
  assert.ok(methodColumns().includes('GAN + L2'), 'Table 1 gets its column');
  assert.deepEqual(sweepableWeights('l2').map((w) => w.key)[0], 'l2Weight');
  validateLossConfig({ ...DEFAULT_LOSS, setting: 'l2' });
  assert.throws(() => validateLossConfig({ ...DEFAULT_LOSS, setting: 'l2', l2Weight: -1 } as typeof DEFAULT_LOSS), /loss\.l2Weight/);

  const x = tf.fill([1, 4, 4, 3], 0.25) as tf.Tensor4D, y = tf.fill([1, 4, 4, 3], 0.75) as tf.Tensor4D, m = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
  const logits = tf.tensor2d([[0]]);
  const r = generatorLoss({ ...DEFAULT_LOSS, setting: 'l2' }, { fake: x, real: y, mask: m, fakeLogits: logits });
  assert.deepEqual(Object.keys(r.parts), ['adv', 'l2']);
  assert.ok(Math.abs(r.parts.l2.dataSync()[0] - 100 * 0.25) < 1e-5);
  tf.dispose([x, y, m, logits, r.total, ...Object.values(r.parts)]);

  const dir = tempDir('harmonia-toy-loss-');
  const photos = join(dir, 'photos');
  await photoSource(photos, 10, 32);
  const out = join(dir, 'run');
  const code = await main(['train', '--config', 'smoke', '--generator', 'global', '--setting', 'l2', '--l2-weight', '50', '--real', photos, '--size', '32', '--out', out, '--max-steps', '1', '--workers', '1', '--quiet']);
  assert.equal(code, 0);
  const state = JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')) as { step: number; config: { loss: Record<string, unknown> } };
  assert.equal(state.step, 1);
  assert.equal(state.config.loss.setting, 'l2');
  assert.equal(state.config.loss.l2Weight, 50);
  const steps = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; losses?: Record<string, number> }).filter((s) => s.type === 'step');
  assert.equal(steps.length, 1);
  assert.ok(Number.isFinite(steps[0].losses?.l2), 'the log has the toy term');
});
