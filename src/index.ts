/** Harmonia public API. */
export { HarmoniaError } from './errors.ts';
export { initEngine, engineInfo } from './engine/index.ts';
export type { EngineInfo, BackendName, BackendRequest } from './engine/index.ts';
export * from './image/types.ts';
export { readImage, readMask, readCutout, writeImage, writeMask, encodeImage, probeImage, DEFAULT_MAX_PIXELS } from './image/io.ts';
export { resizeImage, resizeMask, fitWithin } from './image/resize.ts';
export type { ResizeKernel } from './image/resize.ts';
export { writeFileAtomic } from './image/atomic.ts';
export { buildGenerator, runGenerator, countParams, PAPER_GENERATOR, buildDiscriminator, PAPER_DISCRIMINATOR, saveModel, loadModel, fileSystemHandler } from './models/index.ts';
export type { GeneratorConfig, RunGeneratorOptions, DiscriminatorConfig } from './models/index.ts';
export * from './image/color.ts';
export { parseCompositeName, compositeFileName, maskFileName, readIHarmonyDataset, checkSampleSizes, writeSubsetLists } from './data/iharmony4.ts';
export type { HarmonizationSample, Split } from './data/iharmony4.ts';
export { renderScene, makeProceduralComposite, writeProceduralDataset, lambertShading, randomLight, composeSrgb, SHADING_SCALE, PROCEDURAL_SUBSET } from './data/procedural.ts';
export type { SceneLight, ProceduralScene, ProceduralComposite, ObjectKind } from './data/procedural.ts';
