/**
 * Model export: TensorFlow.js generator → ONNX. generator.ts (the paper G), color-transform.ts (the parameter
 * network of global/pct) and graph.ts are browser-safe and know no generator registry (its entries call
 * them). The ONNX format itself (proto.ts), the names exports share with readers (meta.ts) and the model.onnx
 * freshness check (file.ts) are src/onnx/; writing model.onnx beside a model folder's TF.js files is
 * src/models/folder-onnx.ts. The `harmonia export-onnx` command is src/cli/commands/export-onnx.ts.
 */
export { exportGeneratorToOnnx, permute4, convTransposeSamePads, ONNX_EXPORTER_VERSION, ONNX_INPUT, ONNX_OUTPUT, META_CONFIG, META_EXPORTER, META_GRAPH, META_LAYOUT, META_SOURCE } from './generator.ts';
export type { ExportOptions, ExportConfig } from './generator.ts';
export { exportColorTransformToOnnx, ONNX_THETA, ONNX_FIELD, COLOR_TRANSFORM_GRAPH } from './color-transform.ts';
export { encodeOnnxModel, readOnnxSummary, ONNX_IR_VERSION, ONNX_OPSET } from '../onnx/proto.ts';
export type { OnnxModel, OnnxNode, OnnxInitializer, OnnxValueInfo, OnnxModelSummary, AttrValue } from '../onnx/proto.ts';
