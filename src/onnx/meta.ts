/**
 * The names Harmonia's ONNX exports (src/export/) share with their readers (ONNX Runtime in Node:
 * src/models/onnx.ts and src/pipeline/ort-hooks.ts, in the browser: src/browser/; the model.onnx
 * freshness check: file.ts): the exporter version, tensor names and metadata keys. No TensorFlow.js
 * here, so readers load without it.
 */

/** Bumped whenever the exporter's output for the same model changes (part of the cache key). */
export const ONNX_EXPORTER_VERSION = '2';
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'output';

/** Metadata keys written into the ModelProto. */
export const META_EXPORTER = 'harmonia.exporter';
export const META_CONFIG = 'harmonia.generator';
export const META_LAYOUT = 'harmonia.layout';
export const META_SOURCE = 'harmonia.source_sha256';
/** What the graph computes: 'generator' (G(x), generator.ts) or 'color-transform-parameters' (θ and the field, color-transform.ts). */
export const META_GRAPH = 'harmonia.graph';

/** Output names of the colour-transform parameter network (color-transform.ts). */
export const ONNX_THETA = 'theta';
export const ONNX_FIELD = 'field';
/** META_GRAPH of a colour-transform parameter network. */
export const COLOR_TRANSFORM_GRAPH = 'color-transform-parameters';
