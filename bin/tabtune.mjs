#!/usr/bin/env node
// The tabtune CLI: runs src/cli/main.ts straight from source.
import './register.mjs';

const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
