#!/usr/bin/env node
// CLI entry: loads the TypeScript sources through tsx (a runtime dependency), so no build step is needed.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
