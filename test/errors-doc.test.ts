// docs/errors.md is the list of stable error codes: every code thrown in src/ must be there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('every error code used in src/ is documented in docs/errors.md', () => {
  const doc = readFileSync('docs/errors.md', 'utf8');
  const used = new Set<string>();
  for (const f of files('src')) {
    for (const m of readFileSync(f, 'utf8').matchAll(/['"`](ERR_[A-Z0-9_]*[A-Z0-9])['"`]/g)) used.add(m[1]!);
  }
  assert.ok(used.size > 20, `found only ${used.size} codes: the scan is broken`);
  const missing = [...used].filter((c) => !doc.includes(`\`${c}\``)).sort();
  assert.deepEqual(missing, []);
});
