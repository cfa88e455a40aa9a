/**
 * The in-memory form of a harmonization model folder (model.json + weights.bin + harmonia.json, and
 * the derived model.onnx): the TF.js generator, its config and card, and optional faster engines for
 * the same network (ONNX Runtime, src/models/onnx.ts). Shared by the pipeline, the export and the web app.
 */
import type { tf } from '../engine/tf.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import type { GeneratorConfig } from './generator.ts';
import type { ColorTransformParams } from './color-transform.ts';

/** A trained generator plus the config it was built with (the `harmonia.json` of a model folder). */
export interface HarmonizationModel {
  generator: tf.LayersModel;
  config: GeneratorConfig;
  /** Free-form description (training data, preset, metrics); shown in reports. */
  card?: ModelCard;
  /**
   * Optional faster implementation of the same G (e.g. ONNX Runtime, src/models/onnx.ts): given an
   * RGB image and its mask, returns G(x) at the same size, exactly like runGenerator. When set,
   * generatorCorrection uses it instead of `generator`; `generator` stays the source of truth.
   */
  runner?: (x: FloatImage, mask: Mask) => FloatImage;
  /**
   * Colour-transform generators: optional faster implementation of the parameter network (ONNX
   * Runtime): θ (and the pct field) for one size×size×4 analysis copy (RGB + mask, interleaved).
   * When set, the pipeline uses it instead of running `generator` up to the apply.
   */
  transformParams?: (input: Float32Array, size: number) => ColorTransformParams;
}

export interface ModelCard {
  name: string;
  /** Input the generator was trained on: the semi-harmonized image (paper) or the raw composite. */
  input: 'semiHarmonized' | 'composite';
  trainedOn?: string;
  command?: string;
  metrics?: Record<string, number | string>;
  notes?: string[];
}
