/**
 * The feature setting's extractor: VGG-19 feature maps (torchvision weights), or — only when
 * explicitly allowed — a seeded random VGG-19, in which case a note travels with every output.
 */
import { existsSync } from 'node:fs';
import { HarmoniaError } from '../errors.ts';
import { loadVgg19Features, createRandomVgg19 } from '../models/vgg.ts';
import { weightPath } from '../models/weights.ts';
import type { FeatureExtractor } from '../losses/index.ts';
import { env } from '../config/index.ts';

export interface FeatureSpec {
  /** Path of vgg19-dcbb9e9d.pth (default: $HARMONIA_VGG19). */
  vggWeights?: string;
  allowRandom: boolean;
  layers: string[];
  seed: number;
}

export const RANDOM_FEATURES_NOTE = 'feature loss uses a RANDOMLY INITIALISED VGG-19 (vgg19-dcbb9e9d.pth not available; --allow-random-features)';

/** Where the VGG-19 weights are looked for when none is given: $HARMONIA_VGG19, else the weights folder (models/weights.ts). */
export function defaultVggPath(): string {
  return env.vgg19 ?? weightPath('vgg19');
}

/** Decides which VGG-19 the feature setting will use; throws when no weights and random is not allowed. */
export function resolveFeatureSource(spec: FeatureSpec): { path?: string; random: boolean; note?: string } {
  const path = spec.vggWeights ?? defaultVggPath();
  if (existsSync(path)) return { path, random: false };
  if (spec.allowRandom) return { random: true, note: RANDOM_FEATURES_NOTE };
  throw new HarmoniaError(
    `VGG-19 weights not found at ${path}: the feature setting needs torchvision's vgg19-dcbb9e9d.pth (give --vgg19 <file>, set HARMONIA_VGG19, or put it in the weights folder; see \`harmonia weights\`), ` +
    'or pass --allow-random-features to run with random features, which every output will then say',
  );
}

export async function createFeatureExtractor(spec: FeatureSpec): Promise<{ extract: FeatureExtractor; note?: string; dispose(): void }> {
  const src = resolveFeatureSource(spec);
  const vgg = src.random ? createRandomVgg19(spec.seed, spec.layers) : await loadVgg19Features(src.path!, spec.layers);
  return { extract: (x) => vgg.forward(x), note: src.note, dispose: () => vgg.dispose() };
}
