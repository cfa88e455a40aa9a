#!/usr/bin/env node
// CLI entry: loads the TypeScript sources through tsx (a runtime dependency), so no build step is needed.
import { register } from 'tsx/esm/api';
// A closed pipe (`harmonia info | head -1`) ends the program quietly instead of with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => { if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw err; });
}
register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
