/** Harmonia public API. */
export { HarmoniaError } from './errors.ts';
export { initEngine, engineInfo } from './engine/index.ts';
export type { EngineInfo, BackendName, BackendRequest } from './engine/index.ts';
export { reflectPad, pixelShuffle, pixelUnshuffle } from './engine/ops.ts';
export type { Padding4 } from './engine/ops.ts';
export * from './image/types.ts';
export { readImage, readMask, readCutout, writeImage, writeMask, encodeImage, probeImage, DEFAULT_MAX_PIXELS } from './image/io.ts';
export { assertValidImage, maskCoverage, assertUsableMask, SUPPORTED_INPUT_FORMATS } from './image/io.ts';
export type { MaskCoverage, WriteOptions, ReadOptions, ImageSource } from './image/io.ts';
export { resizeImage, resizeMask, fitWithin } from './image/resize.ts';
export type { ResizeKernel } from './image/resize.ts';
export { writeFileAtomic, writeFileAtomicSync, removeStaleTempFiles } from './image/atomic.ts';
export type { AtomicData } from './image/atomic.ts';
export { assertNotSamePath, assertWritableOutput, canonicalPath } from './util/paths.ts';
export { sha256Hex, digestFile, digestImage, digestValue, stableStringify, compareCodeUnits, sortedNames, deriveSeed, firstDifference, checkDeterministic } from './util/determinism.ts';
export { buildGenerator, runGenerator, countParams, PAPER_GENERATOR, buildDiscriminator, PAPER_DISCRIMINATOR, saveModel, loadModel, fileSystemHandler } from './models/index.ts';
export type { GeneratorConfig, RunGeneratorOptions, DiscriminatorConfig } from './models/index.ts';
export * from './image/color.ts';
export { parseCompositeName, compositeFileName, maskFileName, readIHarmonyDataset, checkSampleSizes, writeSubsetLists } from './data/iharmony4.ts';
export type { HarmonizationSample, Split } from './data/iharmony4.ts';
export { renderScene, makeProceduralComposite, writeProceduralDataset, lambertShading, randomLight, composeSrgb, SHADING_SCALE, PROCEDURAL_SUBSET } from './data/procedural.ts';
export type { SceneLight, ProceduralScene, ProceduralComposite, ObjectKind } from './data/procedural.ts';
export { harmonize, harmonizeWithReport } from './pipeline/harmonize.ts';
export type { HarmonizeOptions, HarmonizeReport } from './pipeline/harmonize.ts';
export { harmonizeImage, blendByMask, generatorCorrection } from './pipeline/refine.ts';
export type { HarmonizationModel, ModelCard, RefineOptions, RefineResult, Stage } from './pipeline/refine.ts';
export { loadHarmonizationModel, saveHarmonizationModel, DEFAULT_MODEL_DIR } from './pipeline/model.ts';
export { placeForeground, defaultPlacement, applyChangeAtFullResolution, maskBounds } from './pipeline/compose.ts';
export type { Placement } from './pipeline/compose.ts';
export { harmonizeBatch, pairFolder } from './pipeline/batch.ts';
export {
  semiHarmonize, checkLight, decompose, evaluateShading, solveAlbedoParams, applyAlbedoEdits, identityAlbedoParams,
  fitLightOfficial, fitLightLeastSquares, accumulateLightStats, estimateLightFromShading, lightDirection, angleBetweenDeg,
  renderLightSphere, inflateNormals, insideDistance, outsideDistance, squaredDistanceTransform, reshade,
} from './intrinsic/index.ts';
export type {
  IntrinsicOptions, SemiHarmonizeResult, LightInfo, LightMethod, LightCoeffs, LightStats, AlbedoParams, AlbedoStrengths,
  DecompositionMethod, DecomposeOptions, ShadingModel, ReshadeOptions,
} from './intrinsic/index.ts';
export { precomputeSemiHarmonized, semiHarmonizedCachePath } from './intrinsic/batch.ts';
export type { PrecomputeOptions, PrecomputeResult } from './intrinsic/batch.ts';
export { makeComposites, synthesizeComposite, foregroundPixels, foregroundMse255, DEFAULT_MIN_FMSE, DEFAULT_MAX_FMSE } from './data/composites.ts';
export type { SynthesisOptions, SynthesisRecord, SynthesisSummary } from './data/composites.ts';
export { transferColors, TRANSFER_METHODS, isTransferMethod, reinhardTransfer, covarianceTransfer, mongeKantorovich, histogramTransfer, matchHistogram1D, idtTransfer, regrain } from './data/transfer/index.ts';
export type { TransferMethod } from './data/transfer/index.ts';
export { applyIllumination, randomIllumination, NO_ILLUMINATION_CHANGE } from './data/illumination.ts';
export type { IlluminationParams } from './data/illumination.ts';
export { readRealSource, normalizeCategory } from './data/sources.ts';
export type { RealEntry, RealSource } from './data/sources.ts';
export { createLoader, orderForEpoch, batchesPerEpoch, cropGeometry, applyGeometry, transformedInput, encodeFloatImage, decodeFloatImage } from './data/loader.ts';
export type { Batch, Loader, LoaderOptions, InputTransform, CropMode, Geometry } from './data/loader.ts';
export { compositeCopyBaseline, contactSheet } from './data/report.ts';
export type { BaselineStats } from './data/report.ts';
export { imageGrid, maskToImage } from './report/grid.ts';
export type { GridOptions } from './report/grid.ts';
export * from './metrics/index.ts';
export { readTorchCheckpoint, parseTorchCheckpoint, loadStateDict, toStateDict, tensorData, getTensor, TorchTensor, TorchStorage } from './models/torch/checkpoint.ts';
export type { StateDict, TorchCheckpoint, TorchDType } from './models/torch/checkpoint.ts';
export type { FeatureBackbone } from './models/torch/convert.ts';
export { VggFeatures, loadVgg19Features, loadVgg16Features, createRandomVgg19, vggFromStateDict, DEFAULT_VGG19_TAPS, LPIPS_VGG16_TAPS, IMAGENET_MEAN, IMAGENET_STD } from './models/vgg.ts';
export { AlexNetFeatures, loadAlexNet } from './models/alexnet.ts';
export { SqueezeNetFeatures, loadSqueezeNet } from './models/squeezenet.ts';
export { Lpips, loadLpips, lpipsFiles, LPIPS_NETS, isLpipsNet } from './models/lpips.ts';
export type { LpipsNet, LpipsFiles } from './models/lpips.ts';
export { KNOWN_WEIGHTS, weightsDir, weightPath, verifyWeight, requireWeight, sha256File } from './models/weights.ts';
export type { WeightId, WeightSpec, WeightStatus } from './models/weights.ts';
export { evaluateSamples, evaluateDataset, writeEvalReport, resultMarkdown, resultCsv, summarize, predictionsFromFolder, predictionCandidates, COMPOSITE_METHOD, LPIPS_NO_WEIGHTS, PROTOCOL_TEXT } from './eval/evaluate.ts';
export type { Predictor, EvalResult, ImageRow, GroupSummary, MethodSummary, EvaluateOptions, EvaluateDatasetOptions, EvalFiles, LpipsStatus } from './eval/evaluate.ts';
export { markdownTable, csvTable, parseCsv, formatNumber, formatPercent } from './report/table.ts';
