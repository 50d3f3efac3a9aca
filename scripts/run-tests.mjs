// Runs every test/*.test.ts with node's test runner (Node 20 has no --test globbing).
// Extra arguments are passed through, e.g. `node scripts/run-tests.mjs test/asm.test.ts`.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const files = args.length > 0 ? args : readdirSync('test').filter((f) => f.endsWith('.test.ts')).sort().map((f) => `test/${f}`);
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
