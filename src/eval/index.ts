/**
 * `harmonia/eval`: the evaluator (dataset files or images in memory in, the same per-image rows and
 * summaries out; CSV/JSON/Markdown reports) and the Table 1 experiment and loss-weight sweep built on
 * it (train the loss settings, then evaluate them).
 */
export {
  evaluateDataset, evaluateSamples, evaluateInMemory, summarize, writeEvalReport, resultMarkdown, resultCsv,
  predictionsFromFolder, protocolText, COMPOSITE_METHOD, PROTOCOL_TEXT,
} from './evaluate.ts';
export type {
  EvalResult, EvaluateOptions, EvaluateDatasetOptions, Predictor, MemoryPredictor, MemoryEvalSample, ImageRow, GroupSummary, MethodSummary, LpipsStatus, EvalFiles,
} from './evaluate.ts';
export { runExperiment, runSweep, table1Markdown, sweepMarkdown, methodColumns, trainSetting, predictSample } from './experiment.ts';
export type { Table1, Table1Column, ExperimentOptions, SweepOptions, SweepTable, SweepRow, RunSummary } from './experiment.ts';
