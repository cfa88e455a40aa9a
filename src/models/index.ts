/** Models: generator, discriminator, custom layers, file-system model I/O. */
export { buildGenerator, buildPaperGenerator, runGenerator, countParams, padAxis, generatorInputChannels, modelInputChannels, PAPER_GENERATOR } from './generator.ts';
export type { GeneratorConfig, RunGeneratorOptions, PadMode } from './generator.ts';
export { buildDiscriminator, PAPER_DISCRIMINATOR } from './discriminator.ts';
export type { DiscriminatorConfig } from './discriminator.ts';
export { fileSystemHandler, saveModel, loadModel, MODEL_JSON, WEIGHTS_BIN } from './io.ts';
export { ChannelSlice, ResidualBlend } from './layers.ts';
export { registerGenerator, generatorEntry, generatorEntryOf, generatorNames, generatorConfig, loadGeneratorImplementation, DEFAULT_GENERATOR } from './registry.ts';
export type { GeneratorEntry, GeneratorImplementation, GeneratorOption, InferenceFamily } from './registry.ts';
export { buildColorTransformGenerator, applyColorTransform, areaDownscale, TRANSFORM_PARAMS, CURVE_KNOTS } from './color-transform.ts';
