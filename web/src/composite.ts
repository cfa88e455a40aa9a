/** The browser app's compositing maths live in the library (shared with the CLI's cut-out mode). */
export * from '../../src/pipeline/compose.ts';
