/** Model export: TensorFlow.js generator → ONNX (the encoder is browser-safe; cache.ts is Node-only; the `harmonia export-onnx` command is src/cli/commands/export-onnx.ts). */
export { exportGeneratorToOnnx, permute4, convTransposeSamePads, ONNX_EXPORTER_VERSION, ONNX_INPUT, ONNX_OUTPUT, META_CONFIG, META_EXPORTER, META_LAYOUT, META_SOURCE } from './generator.ts';
export type { ExportOptions } from './generator.ts';
export { encodeOnnxModel, readOnnxSummary, ONNX_IR_VERSION, ONNX_OPSET } from './onnx-proto.ts';
export type { OnnxModel, OnnxNode, OnnxInitializer, OnnxValueInfo, OnnxModelSummary, AttrValue } from './onnx-proto.ts';
export { ensureOnnxModel, modelSourceDigest, ONNX_FILE } from './cache.ts';
export type { OnnxArtifact } from './cache.ts';
