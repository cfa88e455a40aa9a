/** The four HFlickr colour-transfer methods behind one call. Colours are n×3 sRGB in [0,1]. */
import { HarmoniaError } from '../../errors.ts';
import type { Rng } from '../../util/random.ts';
import { reinhardTransfer } from './reinhard.ts';
import { covarianceTransfer } from './covariance.ts';
import { histogramTransfer } from './histogram.ts';
import { idtTransfer } from './idt.ts';

export type TransferMethod = 'reinhard' | 'covariance' | 'histogram' | 'idt';
export const TRANSFER_METHODS: readonly TransferMethod[] = ['reinhard', 'covariance', 'histogram', 'idt'];

export function isTransferMethod(s: string): s is TransferMethod {
  return (TRANSFER_METHODS as readonly string[]).includes(s);
}

/** Recolours `src` towards the colour statistics of `ref` with `method` (IDT draws rotations from `rng`). */
export function transferColors(method: TransferMethod, src: Float32Array, ref: Float32Array, rng: Rng): Float32Array {
  if (src.length % 3 !== 0 || ref.length % 3 !== 0 || src.length === 0 || ref.length === 0) {
    throw new HarmoniaError(`transferColors: source and reference must be non-empty n×3 colour arrays (got ${src.length} and ${ref.length} values)`);
  }
  switch (method) {
    case 'reinhard': return reinhardTransfer(src, ref);
    case 'covariance': return covarianceTransfer(src, ref);
    case 'histogram': return histogramTransfer(src, ref);
    case 'idt': return idtTransfer(src, ref, rng);
    default: throw new HarmoniaError(`unknown colour transfer method "${String(method)}": use ${TRANSFER_METHODS.join(', ')}`);
  }
}

export { reinhardTransfer } from './reinhard.ts';
export { covarianceTransfer, mongeKantorovich } from './covariance.ts';
export { histogramTransfer, matchHistogram1D } from './histogram.ts';
export { idtTransfer, regrain } from './idt.ts';
