/**
 * BatchMatMul wrapper for wasm. The stock kernel takes the XNNPACK path only when the batch is 1 and
 * neither operand is transposed; everything else runs a scalar blocked loop (~1.7 vs ~30 GFLOP/s).
 * Dense-layer gradients are transposed matmuls, so this transposes explicitly (a fast rank-2/3
 * Transpose) and calls the stock kernel untransposed. Batched products (batch > 1) go to the stock
 * kernel as they are: XNNPACK has no batched path there.
 */
import { tf } from '../tf.ts';
import { Scratch, attrsOf, input, wasmBackend, type KernelArgs, type KernelImpl } from './wasm.ts';

const NAME = 'BatchMatMul';

interface Attrs { transposeA: boolean; transposeB: boolean }

function batchOf(shape: number[]): number {
  let n = 1;
  for (let i = 0; i < shape.length - 2; i++) n *= shape[i];
  return n;
}

/** perm swapping the last two axes of a rank-r tensor. */
function swapLast(rank: number): number[] {
  const p = Array.from({ length: rank }, (_, i) => i);
  [p[rank - 2], p[rank - 1]] = [p[rank - 1], p[rank - 2]];
  return p;
}

/** Builds the wrapper around the stock kernel function. */
export function makeBatchMatMul(stock: tf.KernelFunc): KernelImpl {
  return (args: KernelArgs): tf.TensorInfo => {
    const a = input(args, 'a', NAME);
    const b = input(args, 'b', NAME);
    const { transposeA, transposeB } = attrsOf<Attrs>(args);
    const stockOut = (): tf.TensorInfo => stock(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    if ((!transposeA && !transposeB) || batchOf(a.shape) !== 1 || batchOf(b.shape) !== 1 || a.dtype !== 'float32' || b.dtype !== 'float32') {
      return stockOut();
    }
    return Scratch.use(wasmBackend(args), NAME, (s) => {
      const aa = transposeA ? s.run('Transpose', { x: a }, { perm: swapLast(a.shape.length) }) : a;
      const bb = transposeB ? s.run('Transpose', { x: b }, { perm: swapLast(b.shape.length) }) : b;
      return s.run(NAME, { a: aa, b: bb }, { ...args.attrs, transposeA: false, transposeB: false }, stock);
    });
  };
}
