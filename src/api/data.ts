/**
 * `harmonia/data`: Data: iHarmony4 datasets, composite synthesis (colour transfer, illumination), procedural scenes, the loader.
 * The same names as the main entry exports from src/data/ (until src/data/index.ts exists; issue 14).
 */
export { parseCompositeName, compositeFileName, maskFileName, readIHarmonyDataset, checkSampleSizes, writeSubsetLists } from '../data/iharmony4.ts';
export type { HarmonizationSample, Split } from '../data/iharmony4.ts';
export { renderScene, makeProceduralComposite, writeProceduralDataset, lambertShading, randomLight, composeSrgb, SHADING_SCALE, PROCEDURAL_SUBSET } from '../data/procedural.ts';
export { illuminantColor } from '../data/procedural.ts';
export type { SceneLight, ProceduralScene, ProceduralComposite, ObjectKind } from '../data/procedural.ts';
export { makeComposites, synthesizeComposite, foregroundPixels, foregroundMse255, DEFAULT_MIN_FMSE, DEFAULT_MAX_FMSE } from '../data/composites.ts';
export type { SynthesisOptions, SynthesisRecord, SynthesisSummary } from '../data/composites.ts';
export { transferColors, TRANSFER_METHODS, isTransferMethod, reinhardTransfer, covarianceTransfer, mongeKantorovich, histogramTransfer, matchHistogram1D, idtTransfer, regrain } from '../data/transfer/index.ts';
export type { TransferMethod } from '../data/transfer/index.ts';
export { applyIllumination, randomIllumination, NO_ILLUMINATION_CHANGE } from '../data/illumination.ts';
export type { IlluminationParams } from '../data/illumination.ts';
export { readRealSource, normalizeCategory } from '../data/sources.ts';
export type { RealEntry, RealSource } from '../data/sources.ts';
export { createLoader, orderForEpoch, batchesPerEpoch, cropGeometry, applyGeometry, transformedInput, encodeFloatImage, decodeFloatImage } from '../data/loader.ts';
export type { Batch, Loader, LoaderOptions, InputTransform, CropMode, Geometry } from '../data/loader.ts';
export { compositeCopyBaseline, contactSheet } from '../data/report.ts';
export type { BaselineStats } from '../data/report.ts';
