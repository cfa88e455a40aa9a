/**
 * Model export: TensorFlow.js generator → ONNX. generator.ts (the paper G), color-transform.ts (the parameter
 * network of global/pct), graph.ts and onnx-proto.ts are browser-safe; cache.ts (model.onnx beside a model
 * folder's TF.js files, tagged with their SHA-256) is Node-only. The `harmonia export-onnx` command is
 * src/cli/commands/export-onnx.ts.
 */
export { exportGeneratorToOnnx, permute4, convTransposeSamePads, ONNX_EXPORTER_VERSION, ONNX_INPUT, ONNX_OUTPUT, META_CONFIG, META_EXPORTER, META_GRAPH, META_LAYOUT, META_SOURCE } from './generator.ts';
export type { ExportOptions } from './generator.ts';
export { exportColorTransformToOnnx, ONNX_THETA, ONNX_FIELD, COLOR_TRANSFORM_GRAPH } from './color-transform.ts';
export { encodeOnnxModel, readOnnxSummary, ONNX_IR_VERSION, ONNX_OPSET } from './onnx-proto.ts';
export type { OnnxModel, OnnxNode, OnnxInitializer, OnnxValueInfo, OnnxModelSummary, AttrValue } from './onnx-proto.ts';
export { ensureOnnxModel, exportModelToOnnx, readOnnxModel, writeOnnxModel, modelSourceDigest, hasOnnxExport, reexportCommand, ONNX_FILE } from './cache.ts';
export type { OnnxArtifact, OnnxFileState, ExportableModel } from './cache.ts';
