/**
 * @module cli/bin
 * Runs the CLI from source (`node --import tsx src/cli/bin.ts ...`), as bin/seccomp-ebpf.js
 * does from the build.
 */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
