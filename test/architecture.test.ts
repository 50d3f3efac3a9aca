// The pure core (src/abi, src/ebpf) must run in any JS runtime: no node:* imports, no native
// addon, no system layer. This test is the lint rule that keeps dependencies pointing inwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const PURE_DIRS = ['src/abi', 'src/ebpf', 'src/cbpf', 'src/split', 'src/errors.ts'];
const FORBIDDEN = [/from\s+['"]node:/, /from\s+['"](fs|path|os|child_process|worker_threads|crypto)['"]/, /from\s+['"][./]*\/(native|sys|supervisor|cli)\//, /require\(/];

function files(path: string): string[] {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path).flatMap((name) => files(join(path, name)));
}

test('pure core imports nothing from node, the addon or the system layer', () => {
  const offenders: string[] = [];
  for (const file of PURE_DIRS.filter((p) => existsSync(p)).flatMap(files).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(file, 'utf8');
    for (const re of FORBIDDEN) {
      const m = text.match(re);
      if (m) offenders.push(`${file}: ${m[0]}`);
    }
  }
  assert.deepEqual(offenders, []);
});
