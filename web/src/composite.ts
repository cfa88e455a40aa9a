/** The browser app's compositing maths live in the library (shared with the CLI's cut-out mode), plus the coverage snap the page applies before handing a composite to the worker. */
import type { FloatImage, Mask } from '../../src/image/types.ts';
export * from '../../src/pipeline/compose.ts';

/** Coverage below half an 8-bit step: invisible in any 8-bit output, so treated as none. */
export const MIN_COVERAGE = 0.5 / 255;

/**
 * Snaps mask values below MIN_COVERAGE to 0 and restores the background there, so that every pixel
 * whose 8-bit mask reads 0 is, and stays, exactly the background. Returns new images.
 */
export function snapCoverage(composite: FloatImage, mask: Mask, background: FloatImage): { composite: FloatImage; mask: Mask } {
  const m = new Float32Array(mask.data);
  const c = new Float32Array(composite.data);
  for (let p = 0; p < m.length; p++) {
    if (m[p] > 0 && m[p] < MIN_COVERAGE) {
      m[p] = 0;
      c[p * 3] = background.data[p * 3];
      c[p * 3 + 1] = background.data[p * 3 + 1];
      c[p * 3 + 2] = background.data[p * 3 + 2];
    }
  }
  return { composite: { ...composite, data: c }, mask: { ...mask, data: m } };
}

