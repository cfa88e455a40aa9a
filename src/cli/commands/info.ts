import type { Command } from '../types.ts';
import { initEngine } from '../../engine/index.ts';
import { tf } from '../../engine/tf.ts';

export const info: Command = {
  name: 'info',
  summary: 'show the TensorFlow.js backend Harmonia picks and its versions',
  usage: 'harmonia info [--backend auto|tensorflow|native|wasm|cpu]',
  options: {
    backend: { type: 'string', default: 'auto', description: 'backend to initialise' },
  },
  async run({ values }) {
    const e = await initEngine({ backend: values.backend as 'auto' });
    console.log(`backend: ${e.backend} (${e.reason})`);
    console.log(`threads per op: ${e.threads}`);
    if (e.kernels.length) console.log(`project kernels: ${e.kernels.join(', ')}`);
    console.log(`tfjs: ${tf.version.tfjs}`);
    console.log(`node: ${process.version}`);
    return 0;
  },
};
