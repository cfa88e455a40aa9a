/**
 * A user module that adds a generator: this one file, with its one `registerGenerator` line at the end
 * (test/architecture/user-modules.test.ts loads it with `harmonia <command> --import <this file>`).
 * A 1×1 convolution on [RGB, mask], residual and mask-blended, any input size; exported to ONNX with
 * the generic layer exporter.
 */
import { tf } from '../../src/engine/tf.ts';
import { registerGenerator, type GeneratorImplementation } from '../../src/models/registry.ts';
import { ResidualBlend } from '../../src/models/layers.ts';
import { exportGeneratorToOnnx } from '../../src/export/generator.ts';

const implementation: GeneratorImplementation = {
  build: (cfg) => {
    const input = tf.input({ shape: [null, null, 4], name: 'g_input' });
    const delta = tf.layers.conv2d({ filters: 3, kernelSize: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: cfg.seed ?? 0 }), name: 'toy_conv' }).apply(input) as tf.SymbolicTensor;
    const out = new ResidualBlend({ scale: cfg.residualScale ?? 0.5, name: 'toy_blend' }).apply([input, delta]) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: out, name: 'generator' });
  },
  exportOnnx: (model, cfg, opts) => exportGeneratorToOnnx(model, cfg, opts),
};

registerGenerator({
  name: 'toy-user',
  description: 'a 1×1 convolution on [RGB, mask], residual and mask-blended (a user module)',
  stride: 1,
  inputChannels: () => 4,
  family: 'full-image',
  onnx: true,
  options: [{ key: 'residualScale', flag: 'residual-scale', type: 'number', default: 0.5, description: 'largest change (tanh scale)' }],
  defaults: { residualScale: 0.5 },
  implementation,
});
