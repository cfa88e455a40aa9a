/**
 * `harmonia/data`: Data: iHarmony4 datasets, composite synthesis (colour transfer, illumination), procedural scenes,
 * and the training data path (BatchSource: memorySource over a fixed set, CompositeStream on the fly).
 */
export { parseCompositeName, compositeFileName, maskFileName, readIHarmonyDataset, checkSampleSizes, writeSubsetLists } from './iharmony4.ts';
export type { HarmonizationSample, Split } from './iharmony4.ts';
export { renderScene, makeProceduralComposite, writeProceduralDataset, lambertShading, randomLight, composeSrgb, SHADING_SCALE, PROCEDURAL_SUBSET } from './procedural.ts';
export { illuminantColor } from './procedural.ts';
export type { SceneLight, ProceduralScene, ProceduralComposite, ObjectKind } from './procedural.ts';
export { makeComposites, synthesizeComposite, foregroundPixels, foregroundMse255, DEFAULT_MIN_FMSE, DEFAULT_MAX_FMSE } from './composites.ts';
export type { SynthesisOptions, SynthesisRecord, SynthesisSummary } from './composites.ts';
export { transferColors, TRANSFER_METHODS, isTransferMethod, reinhardTransfer, covarianceTransfer, mongeKantorovich, histogramTransfer, matchHistogram1D, idtTransfer, regrain } from './transfer/index.ts';
export type { TransferMethod } from './transfer/index.ts';
export { applyIllumination, randomIllumination, NO_ILLUMINATION_CHANGE } from './illumination.ts';
export type { IlluminationParams } from './illumination.ts';
export { readRealSource, normalizeCategory } from './sources.ts';
export type { RealEntry, RealSource } from './sources.ts';
export { memorySource, makeBatch, epochOrder } from './memory.ts';
export type { BatchSource, MemorySample } from './memory.ts';
export { CompositeStream } from './stream.ts';
export type { StreamBatch, StreamOptions } from './stream.ts';
export { compositeCopyBaseline, contactSheet } from './report.ts';
export type { BaselineStats } from './report.ts';
