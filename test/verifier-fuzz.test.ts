// A short, bounded fuzzing run of the verifier and the interpreter (the long run is
// `node --import tsx scripts/fuzz.ts --count 1000000`): generated, mutated and byte-mutated
// programs through loadProgram for root, unprivileged and restricted loaders; accepted ones run
// on random contexts. Only SeccompEbpfErrors may come out, no program may take longer than its
// budget, and no verified program may fault.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeccompEbpfError } from '../src/errors.js';
import { loadProgram } from '../src/ebpf/verifier/load.js';
import { fuzzRange, loadCorpus, makeProgram, ROOT } from '../scripts/fuzz.js';
import { Rng } from './helpers/progen.js';
import { instructionSoup, mutate, mutateBytes } from './helpers/mutate.js';

const COUNT = Number(process.env.VERIFIER_FUZZ_COUNT ?? 10_000);
const SEED = process.env.VERIFIER_FUZZ_SEED ?? 'suite-1';

test(`fuzzing: ${COUNT} programs, no crash, no hang, no fault of a verified program`, (t) => {
  const corpus = loadCorpus();
  const t0 = performance.now();
  const s = fuzzRange(SEED, 0, COUNT, corpus, { budgetMs: 20_000, contexts: 4 });
  const secs = (performance.now() - t0) / 1000;
  t.diagnostic(`${s.programs} programs in ${secs.toFixed(1)} s: accepted ${s.accepted} (ran ${s.ran}), slowest ${s.slowestMs.toFixed(0)} ms (program ${s.slowestIndex}), ${s.overOneSecond} over one second`);
  t.diagnostic(`rejected: ${JSON.stringify(s.rejected)}`);
  const findings = s.findings.map((f) => `[${f.kind}] program ${f.index} (${f.note}, ${f.loader}): ${f.detail.split('\n').slice(0, 3).join(' | ')}` +
    ` — reproduce: node --import tsx scripts/fuzz.ts --seed ${SEED} --only ${f.index}`);
  assert.deepEqual(findings, []);
  // The run must exercise both outcomes and many rejection codes, or it proves nothing.
  assert.ok(s.accepted >= COUNT * 0.05, `only ${s.accepted} accepted`);
  assert.ok(s.ran >= COUNT * 0.03, `only ${s.ran} ran`);
  assert.ok(Object.keys(s.rejected).length >= 10, `only ${Object.keys(s.rejected).length} distinct rejection codes`);
});

test('the generators are deterministic: program i of a seed is the same every time', () => {
  const corpus = loadCorpus();
  for (const i of [0, 7, 123, 4567]) assert.deepEqual(makeProgram('det', i, corpus), makeProgram('det', i, corpus));
  assert.deepEqual(instructionSoup(new Rng('x'), 20), instructionSoup(new Rng('x'), 20));
  assert.deepEqual(mutate(new Rng('y'), corpus[0]!.insns), mutate(new Rng('y'), corpus[0]!.insns));
  assert.deepEqual(mutateBytes(new Rng('z'), corpus[0]!.insns), mutateBytes(new Rng('z'), corpus[0]!.insns));
});

test('hostile inputs give SeccompEbpfErrors: empty, huge, odd field values, non-arrays', () => {
  const bad: unknown[] = [
    [],
    [{ code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }],
    [{ code: 0xb7, dst: 11, src: 0, off: 0, imm: 0 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }],
    [{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 2 ** 40 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }],
    [{ code: 0x18, dst: 0, src: 0, off: 0, imm: 0 }],
    [{ code: 0x05, dst: 0, src: 0, off: -1, imm: 0 }],
    [{ code: 0x85, dst: 0, src: 1, off: 0, imm: -1 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }],
    Array.from({ length: 5000 }, () => ({ code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 })).concat([{ code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]),
    'not an array',
    [null],
  ];
  for (const insns of bad) {
    for (const cred of [ROOT]) {
      try {
        loadProgram(insns as never, { maps: [], license: 'GPL', cred });
      } catch (e) {
        assert.ok(e instanceof SeccompEbpfError, `${JSON.stringify(insns).slice(0, 80)}: ${(e as Error)?.stack}`);
      }
    }
  }
});
