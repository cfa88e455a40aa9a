import { Rng } from '../util/random.ts';

/** A seed for one layer's initialiser, derived from the model seed and the layer name. */
export function layerSeed(seed: number, layer: string): number {
  return new Rng(seed).fork(layer).int(0, 0x7fffffff);
}
