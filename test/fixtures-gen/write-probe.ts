/**
 * Child process for the read-only-folder test (run as an unprivileged user when the tests run as root):
 * tries assertWritableOutput and writeImage on argv[2] and prints one JSON line per attempt.
 */
import { writeImage } from '../../src/image/io.ts';
import { createImage } from '../../src/image/types.ts';
import { assertWritableOutput } from '../../src/util/paths.ts';

const target = process.argv[2];
const results: { step: string; ok: boolean; error?: string; message?: string }[] = [];
for (const [step, run] of [
  ['assertWritableOutput', async () => assertWritableOutput(target)],
  ['writeImage', () => writeImage(target, createImage(2, 2, 3, 0.5))],
] as const) {
  try {
    await run();
    results.push({ step, ok: true });
  } catch (e) {
    results.push({ step, ok: false, error: (e as Error).constructor.name, message: (e as Error).message });
  }
}
process.stdout.write(JSON.stringify(results) + '\n');
