/**
 * Child process for the kill -9 test: starts an atomic write of `argv[2]`, writes one chunk, reports
 * "chunk-written" on stdout, then stalls forever (the parent kills it with SIGKILL mid-write).
 */
import { writeFileAtomic } from '../../src/util/atomic.ts';

const target = process.argv[2];
if (!target) {
  process.stderr.write('usage: slow-writer.ts <target>\n');
  process.exit(2);
}
const keepAlive = setInterval(() => undefined, 1000);
async function* chunks(): AsyncGenerator<Uint8Array> {
  yield new Uint8Array(4096).fill(0x41);
  process.stdout.write('chunk-written\n');
  await new Promise(() => undefined); // never resolves: the write stays half done until killed
}
await writeFileAtomic(target, chunks());
clearInterval(keepAlive);
