#!/usr/bin/env node
// The `tidings` command: runs the compiled CLI (built by `npm install` through `prepare`).
import { main } from '../dist/src/cli/main.js';

await main(process.argv);
