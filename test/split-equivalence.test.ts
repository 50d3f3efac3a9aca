// The split's equivalence property (scripts/split-equivalence.ts has the generator and the long
// run): for generated seccomp-shaped programs and sequences of generated syscalls, the classic
// filter followed by the eBPF program where it says USER_NOTIF gives the same verdicts and the
// same final map contents as the eBPF program alone. Bounded here to a few seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateCase, runCase } from '../scripts/split-equivalence.js';

const PROGRAMS = 1000;
const CALLS = 40;

test(`split equivalence: ${PROGRAMS} generated programs x ${CALLS} syscalls, verdicts and map contents`, () => {
  const seed = 20240601;
  let calls = 0, inKernel = 0, notified = 0, partial = 0;
  const failures: string[] = [];
  for (let i = 0; i < PROGRAMS; i++) {
    const c = generateCase(seed, i);
    const o = runCase(c, seed, i, CALLS);
    if (o.mismatch !== undefined) failures.push(`program ${i}: ${o.mismatch}`);
    calls += o.calls;
    inKernel += o.inKernel;
    if (o.inKernel < o.calls) notified++;
    if (o.inKernel > 0 && o.inKernel < o.calls) partial++;
  }
  assert.deepEqual(failures, []);
  // The property is only meaningful if both paths are exercised, often within one program.
  assert.ok(inKernel > calls * 0.3 && inKernel < calls * 0.9, `${inKernel} of ${calls} decided in the kernel`);
  assert.ok(notified > PROGRAMS / 4 && partial > PROGRAMS / 5, `${notified} programs notified, ${partial} split both ways`);
});

test('split equivalence: the generator covers what the analysis must handle', () => {
  // Guard against a generator that stops producing the hard cases: count opcode families.
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    for (const ins of generateCase(7, i).insns) {
      const cls = ins.code & 7;
      if (cls === 0x07 || cls === 0x04) seen.add(`alu${ins.code & 0xf0}`);
      if ((cls === 0x05 || cls === 0x06) && (ins.code & 0xf0) <= 0xd0) seen.add(`jmp${cls}:${ins.code & 0xf0}`);
      if (cls === 0x03 && (ins.code & 0xe0) === 0xc0) seen.add('atomic');
      if (ins.code === 0x85 && ins.src === 1) seen.add('subprogram');
      if (ins.code === 0x85 && ins.src === 0) seen.add('helper');
      if (ins.code === 0x18 && ins.src === 2) seen.add('map value');
      if ((ins.code & 0xe0) === 0x80 && cls === 1) seen.add('memsx');
    }
  }
  for (const want of ['alu0', 'alu16', 'alu32', 'alu48', 'alu64', 'alu80', 'alu96', 'alu112', 'alu128', 'alu144', 'alu160', 'alu176',
    'alu192', 'alu208', 'atomic', 'subprogram', 'helper', 'map value', 'memsx']) {
    assert.ok(seen.has(want), `generator never emits ${want}`);
  }
  for (const op of [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]) {
    assert.ok(seen.has(`jmp5:${op}`) && seen.has(`jmp6:${op}`), `generator never emits jump op 0x${op.toString(16)}`);
  }
});
