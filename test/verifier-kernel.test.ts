// Our verifier against the kernel's, on a generated corpus: generated programs
// (test/helpers/progen.ts), their mutations, and mutations of the real corpus programs
// (test/helpers/mutate.ts), each loaded by root. The kernel sees them as socket filters with
// the context rewritten (test/helpers/kernel-verdict.ts). Every program we accept, the kernel
// must accept (never looser); every program we reject and the kernel accepts must be one of
// the documented kinds of difference (docs/verifier.md, "Differences from the kernel").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SeccompEbpfError } from '../src/errors.js';
import type { Insn } from '../src/ebpf/insn.js';
import { disassemble } from '../src/ebpf/disasm.js';
import { loadProgram } from '../src/ebpf/verifier/load.js';
import { helperTable } from '../src/ebpf/verifier/privilege.js';
import { bpfUnavailableReason } from '../src/sys/bpf.js';
import { ROOT, loadCorpus, type FuzzProgram } from '../scripts/fuzz.js';
import { KernelMaps, kernelVerdict, validSeccompField, type KernelVerdict, type SeccompProgram, type VerdictOptions } from './helpers/kernel-verdict.js';
import { mutate } from './helpers/mutate.js';
import { IO_VALUE_SIZE, Rng, generateProgram, hexdump } from './helpers/progen.js';
import { BPF_MAP_TYPE_ARRAY } from '../src/abi/bpf.js';
import { assemble } from '../src/ebpf/asm.js';
import type { MapSpec } from '../src/ebpf/maps/types.js';

/** Programs compared per run (the suite's budget is about 20 s). */
const COUNT = Number(process.env.VERIFIER_KERNEL_COUNT ?? 2000);
const SEED = process.env.VERIFIER_KERNEL_SEED ?? 'kernel-compare-1';
/** VERIFIER_KERNEL_VERBOSE=1: print every skipped program's reason and every stricter program. */
const VERBOSE = process.env.VERIFIER_KERNEL_VERBOSE === '1';

/** What a kind's test may look at: the program, our rejection, and kernel probes (the kernel's
 *  verdict on a variant of the program, see VerdictOptions in kernel-verdict.ts). */
interface Difference {
  p: SeccompProgram;
  err: SeccompEbpfError;
  probe: (o: Omit<VerdictOptions, 'ourHelpers'>) => KernelVerdict['kind'];
}

/** Helpers whose return range the kernel refines (do_refine_retval_range and friends). */
const RANGED_HELPERS = new Set([8, 42, 45, 67, 114, 115]);

/**
 * The documented kinds of "we reject, the kernel accepts" (docs/verifier.md, "Differences from
 * the kernel", explains and justifies each). A difference belongs to the first kind whose test
 * holds; the tests are probes of the kernel where one exists, so that a kind is shown, not
 * guessed from a message.
 */
const STRICTER_KINDS: readonly { name: string; match: (d: Difference) => boolean }[] = [
  {
    // The kernel does not check the off field of exit (nor, in dead code, any field).
    name: 'exit-off',
    match: ({ err }) => err.code === 'ERR_VERIFY_INSN' && /BPF_EXIT uses reserved fields: off/.test(err.message),
  },
  {
    // Reading kernel structures: struct bpf_map through a map pointer, task_struct through
    // get_current_task_btf()'s pointer (the kernel types them with vmlinux BTF; not modelled).
    name: 'kernel-struct-read',
    match: ({ err }) => err.code === 'ERR_VERIFY_MEM_TYPE' && /invalid mem access '(map_ptr|trusted_ptr_|rcu_ptr_|ptr_)/.test(err.message),
  },
  {
    // A register compared with itself (`if r4 > r4 goto -1`): the kernel decides the branch,
    // we explore both. Variant: with every such jump decided (taken for ==, >=, <=, never for
    // !=, >, <), our verifier accepts the program too.
    name: 'self-compare',
    match: ({ p }) => {
      const decided = decideSelfCompares(p.insns);
      return decided !== undefined && ourVerdict({ ...p, insns: decided }).ours === 'accept';
    },
  },
  {
    // Our verifier ran out of its 1M-instruction budget where the kernel's pruning succeeds.
    name: 'too-complex',
    match: ({ err }) => err.code === 'ERR_VERIFY_TOO_COMPLEX',
  },
  {
    // The kernel knows that a lookup in an array map with a constant in-range key cannot fail:
    // with hash maps of the same sizes instead, it rejects the program too.
    name: 'array-lookup-not-null',
    match: ({ probe }) => probe({ arraysAsHashes: true }) === 'reject',
  },
  {
    // The kernel bounds the return values of some helpers (probe_read_*_str: at most the
    // size; get_smp_processor_id: below nr_cpu_ids...): with r0 unknown after them, it rejects.
    name: 'helper-return-range',
    match: ({ p, probe }) => p.insns.some((x) => x.code === 0x85 && x.src === 0 && RANGED_HELPERS.has(x.imm))
      && probe({ launderReturnsOf: RANGED_HELPERS }) === 'reject',
  },
  {
    // An invalid encoding (reserved field, unknown opcode) on no path the kernel explores: we
    // check every instruction's encoding first, the kernel only the ones it reaches. Replacing
    // it by an instruction the kernel always refuses keeps the kernel's verdict: accept.
    name: 'dead-code-encoding',
    match: ({ err, probe }) => err.code === 'ERR_VERIFY_INSN' && /^invalid instruction/.test(err.message)
      && err.location?.insn !== undefined && probe({ refuseAt: err.location.insn }) === 'accept',
  },
  {
    // The instruction we reject is on no path the kernel explores: its value tracking proved
    // the branches to it dead where ours did not (same probe as above).
    name: 'kernel-dead-insn',
    match: ({ err, probe }) => err.location?.insn !== undefined && probe({ refuseAt: err.location.insn }) === 'accept',
  },
];

/**
 * The documented kinds of "we accept, the kernel rejects" where the program is safe: each is
 * shown by a semantically equivalent variant of the program that the kernel accepts (so the
 * kernel itself vouches for the program; its rejection of the original comes from how it tracks
 * values, not from the program). Anything else we accept and the kernel rejects is a bug.
 */
const LOOSER_KINDS: readonly { name: string; match: (d: { p: SeccompProgram; kernelLog: string; probe: Difference['probe'] }) => boolean }[] = [
  {
    // v6.12+ links a register copied from another and moved by a constant (`w3 = w2; w3 +=
    // -105`, printed id=1-105); a comparison of the copy then overwrites the original's bounds
    // and drops its 32-bit signed bound, which we keep. Variant: copies as rA = 0; rA += rB.
    name: 'kernel-linked-scalars',
    match: ({ kernelLog, probe }) => /id=\d+[+-]\d+/.test(kernelLog) && probe({ unlinkMovs: true }) === 'accept',
  },
];

/** `p` with every `if rX op rX` (X form, rX compared with itself; not jset) replaced by its
 *  outcome: `goto` the target or `goto +0`. Undefined if there is none. */
function decideSelfCompares(insns: readonly Insn[]): Insn[] | undefined {
  const ALWAYS = new Set([0x10, 0x30, 0xb0, 0x70, 0xd0]); // jeq, jge, jle, jsge, jsle
  const NEVER = new Set([0x50, 0x20, 0xa0, 0x60, 0xc0]); // jne, jgt, jlt, jsgt, jslt
  let found = false;
  const out = insns.map((x) => {
    const cls = x.code & 7, op = x.code & 0xf0;
    if ((cls === 5 || cls === 6) && (x.code & 0x08) && x.src === x.dst && (ALWAYS.has(op) || NEVER.has(op))) {
      found = true;
      return { code: 0x05, dst: 0, src: 0, off: ALWAYS.has(op) ? x.off : 0, imm: 0 };
    }
    return { ...x };
  });
  return found ? out : undefined;
}

interface Outcome {
  ours: 'accept' | string;
  error?: SeccompEbpfError & { rule?: string };
}

function ourVerdict(p: SeccompProgram): Outcome {
  try {
    loadProgram(p.insns, { maps: p.maps, license: p.license, cred: ROOT });
    return { ours: 'accept' };
  } catch (e) {
    if (!(e instanceof SeccompEbpfError)) throw e;
    return { ours: e.code, error: e as SeccompEbpfError & { rule?: string } };
  }
}

const IO_MAP = [{ name: 'io', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: IO_VALUE_SIZE, maxEntries: 1, flags: 0 }];

/** The generated corpus: a quarter generated programs, a quarter mutated ones, half mutations of
 *  the real corpus (plus every real program once, unmodified). */
function programs(count: number): FuzzProgram[] {
  const corpus = loadCorpus();
  const out: FuzzProgram[] = corpus.map((c) => ({ note: `corpus ${c.name}`, insns: c.insns, maps: c.maps, license: c.license }));
  for (let i = out.length; i < count; i++) {
    const rng = new Rng(`${SEED}:${i}`);
    const k = i % 4;
    if (k < 2) {
      const g = generateProgram(rng, { bodyLen: 8 + rng.int(32), maxBranches: rng.int(6), subprograms: rng.chance(0.3) });
      if (k === 0) { out.push({ note: 'progen', insns: g.insns, maps: IO_MAP, license: 'GPL' }); continue; }
      const m = mutate(rng, g.insns);
      out.push({ note: `progen-mut [${m.applied.join(', ')}]`, insns: m.insns, maps: IO_MAP, license: 'GPL' });
      continue;
    }
    const c = rng.pick(corpus);
    const m = mutate(rng, c.insns);
    out.push({ note: `corpus-mut ${c.name} [${m.applied.join(', ')}]`, insns: m.insns, maps: c.maps, license: c.license });
  }
  return out;
}

function show(p: FuzzProgram, insns: readonly Insn[] = p.insns): string {
  let text: string;
  try { text = disassemble(insns); } catch { text = hexdump(insns); }
  return `${p.note}\n${text}`;
}

test(`our verifier never accepts what the kernel rejects, and every stricter verdict is documented (${COUNT} programs)`, (t) => {
  const why = bpfUnavailableReason();
  if (why) return t.skip(why);
  if (process.getuid?.() !== 0) return t.skip('loading socket filters with maps and tracing helpers needs root');
  const ourHelpers = new Set(helperTable(ROOT, { restricted: false }).keys());
  const maps = new KernelMaps();
  const counts = { agreeAccept: 0, agreeReject: 0, stricter: 0, looser: 0, skipped: 0 };
  const skipReasons = new Map<string, number>();
  const kinds = new Map<string, number>();
  const looserKinds = new Map<string, number>();
  const looser: string[] = [];
  const undocumented: string[] = [];
  let ourMs = 0, kernelMs = 0;
  try {
    for (const p of programs(COUNT)) {
      let t0 = performance.now();
      const k = kernelVerdict(p, maps, { ourHelpers });
      kernelMs += performance.now() - t0;
      if (k.kind === 'skip') {
        counts.skipped++;
        const r = k.reason.replace(/\d+/g, 'N');
        if (VERBOSE) t.diagnostic(`[skip] ${k.reason}: ${p.note}`);
        skipReasons.set(r, (skipReasons.get(r) ?? 0) + 1);
        continue;
      }
      t0 = performance.now();
      const o = ourVerdict(p);
      ourMs += performance.now() - t0;
      if (o.ours === 'accept' && k.kind === 'accept') counts.agreeAccept++;
      else if (o.ours !== 'accept' && k.kind === 'reject') counts.agreeReject++;
      else if (o.ours === 'accept') {
        const kernelLog = k.kind === 'reject' ? k.log : '';
        const probe: Difference['probe'] = (po) => kernelVerdict(p, maps, { ourHelpers, ...po, logSize: 0 }).kind;
        const kind = LOOSER_KINDS.find((l) => l.match({ p, kernelLog, probe }));
        if (kind) {
          looserKinds.set(kind.name, (looserKinds.get(kind.name) ?? 0) + 1);
          if (VERBOSE) t.diagnostic(`[${kind.name}] ${show(p)}`);
          continue;
        }
        counts.looser++;
        if (looser.length < 5) looser.push(`${show(p)}\nkernel:\n${k.kind === 'reject' ? k.log.trim().split('\n').slice(-6).join('\n') : ''}`);
      } else {
        counts.stricter++;
        const d: Difference = { p, err: o.error!, probe: (po) => kernelVerdict(p, maps, { ourHelpers, ...po, logSize: 0 }).kind };
        const kind = STRICTER_KINDS.find((s) => s.match(d));
        if (kind) {
          kinds.set(kind.name, (kinds.get(kind.name) ?? 0) + 1);
          if (VERBOSE) t.diagnostic(`[${kind.name}] ${show(p)}\nours: ${o.ours} at insn ${o.error?.location?.insn}: ${o.error?.message}`);
        }
        else if (undocumented.length < 5) undocumented.push(`${show(p)}\nours: ${o.ours} at insn ${o.error?.location?.insn}: ${o.error?.message}`);
        else undocumented.push('...');
      }
    }
  } finally {
    maps.close();
  }
  const compared = COUNT - counts.skipped;
  const shownSafe = [...looserKinds.values()].reduce((a, b) => a + b, 0);
  t.diagnostic(`compared ${compared} of ${COUNT}: agree ${counts.agreeAccept + counts.agreeReject} (both accept ${counts.agreeAccept}, both reject ${counts.agreeReject}), stricter ${counts.stricter}, looser ${counts.looser} (+ ${shownSafe} shown safe)`);
  t.diagnostic(`stricter by kind: ${JSON.stringify(Object.fromEntries(kinds))}`);
  t.diagnostic(`accepted by us, rejected by the kernel, and shown safe by an equivalent program the kernel accepts: ${JSON.stringify(Object.fromEntries(looserKinds))}`);
  t.diagnostic(`not comparable with the kernel (by reason): ${JSON.stringify(Object.fromEntries(skipReasons))}`);
  t.diagnostic(`time: ours ${ourMs.toFixed(0)} ms, kernel ${kernelMs.toFixed(0)} ms`);
  assert.ok(compared >= COUNT * 0.8, `only ${compared} of ${COUNT} programs were comparable`);
  assert.ok(counts.agreeAccept >= COUNT * 0.2 && counts.agreeReject >= COUNT * 0.1, 'the corpus must exercise both verdicts');
  assert.deepEqual(looser, [], 'programs we accept and the kernel rejects (verifier bugs)');
  assert.deepEqual(undocumented, [], 'stricter verdicts of no documented kind');
});

test('docs/verifier.md documents every kind of difference the comparison allows', () => {
  const doc = readFileSync('docs/verifier.md', 'utf8');
  for (const k of [...STRICTER_KINDS, ...LOOSER_KINDS]) assert.match(doc, new RegExp(`\`${k.name}\``), `docs/verifier.md does not document ${k.name}`);
});

/** A few instructions as a SeccompProgram (no maps). */
const asm = (...insns: Insn[]): SeccompProgram => ({ insns, maps: [], license: 'GPL' });
const I = {
  ldx: (size: 1 | 2 | 4 | 8, dst: number, src: number, off: number): Insn => ({ code: 0x61 | ({ 4: 0, 2: 8, 1: 0x10, 8: 0x18 } as const)[size], dst, src, off, imm: 0 }),
  stx: (dst: number, src: number, off: number): Insn => ({ code: 0x7b, dst, src, off, imm: 0 }),
  mov: (dst: number, src: number): Insn => ({ code: 0xbf, dst, src, off: 0, imm: 0 }),
  add: (dst: number, imm: number): Insn => ({ code: 0x07, dst, src: 0, off: 0, imm }),
  mov0: (dst: number): Insn => ({ code: 0xb7, dst, src: 0, off: 0, imm: 0 }),
  exit: (): Insn => ({ code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }),
};

test('through the rewrite, the kernel applies the seccomp context rules of spec.md 2.2, and so do we', (t) => {
  const why = bpfUnavailableReason();
  if (why) return t.skip(why);
  if (process.getuid?.() !== 0) return t.skip('loading socket filters with maps needs root');
  const maps = new KernelMaps();
  const ourHelpers = new Set(helperTable(ROOT, { restricted: false }).keys());
  const kernel = (p: SeccompProgram): string => kernelVerdict(p, maps, { ourHelpers, logSize: 0 }).kind;
  const ours = (p: SeccompProgram): string => (ourVerdict(p).ours === 'accept' ? 'accept' : 'reject');
  const wrong: string[] = [];
  try {
    // Every (offset, size) read of the context, directly and through a copy spilled to the stack.
    for (const size of [1, 2, 4, 8] as const) {
      for (let off = -8; off <= 72; off++) {
        const want = validSeccompField(off, size) ? 'accept' : 'reject';
        const direct = asm(I.ldx(size, 0, 1, off), I.exit());
        const spilled = asm(I.stx(10, 1, -8), I.ldx(8, 6, 10, -8), I.ldx(size, 0, 6, off), I.exit());
        for (const [how, p] of [['direct', direct], ['spilled', spilled]] as const) {
          const k = kernel(p), o = ours(p);
          if (k !== want || o !== want) wrong.push(`${how} read of ${size} bytes at ctx+${off}: spec ${want}, kernel ${k}, ours ${o}`);
        }
      }
    }
    // Stores, modified pointers, and a context pointer passed to a subprogram.
    const cases: [string, SeccompProgram, 'accept' | 'reject'][] = [
      ['store into the context', asm(I.mov0(2), I.stx(1, 2, 16), I.mov0(0), I.exit()), 'reject'],
      ['load through ctx + 16', asm(I.add(1, 16), I.ldx(8, 0, 1, 0), I.exit()), 'reject'],
      ['load through ctx + 0', asm(I.add(1, 0), I.ldx(4, 0, 1, 0), I.exit()), 'accept'],
      ['ctx in r6 across a helper call', asm(I.mov(6, 1), { code: 0x85, dst: 0, src: 0, off: 0, imm: 7 }, I.ldx(8, 0, 6, 24), I.exit()), 'accept'],
      ['ctx passed to a subprogram', asm({ code: 0x85, dst: 0, src: 1, off: 0, imm: 1 }, I.exit(), I.ldx(8, 0, 1, 56), I.exit()), 'accept'],
      ['half an argument in a subprogram', asm({ code: 0x85, dst: 0, src: 1, off: 0, imm: 1 }, I.exit(), I.ldx(4, 0, 1, 60), I.exit()), 'reject'],
    ];
    for (const [name, p, want] of cases) {
      const k = kernel(p), o = ours(p);
      if (k !== want || o !== want) wrong.push(`${name}: expected ${want}, kernel ${k}, ours ${o}`);
    }
  } finally {
    maps.close();
  }
  assert.deepEqual(wrong, []);
});

/** Programs the fuzzer found that we accepted and the kernel rejects (each faulted in the
 *  interpreter: a verifier bug). Kept as regressions: the kernel rejects them, and so must we. */
const FOUND_BY_FUZZING: { name: string; text: string; maps: MapSpec[] }[] = [
  {
    // A 32-bit comparison of a map value pointer with 0 decided as if it were the 64-bit
    // pointer: the low half of a valid pointer may be 0 (it is, in the interpreter), and the
    // loop never ends (seed m1, program 135132).
    name: 'jmp32 on a pointer: spin forever',
    text: 'r2 = map_value[0] ll\nr3 = *(u32 *)(r2 + 0)\nif w2 == 0 goto -2\nr0 = 0\nexit',
    maps: [{ name: '.bss', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0 }],
  },
  {
    // The same with a lookup result: `if w0 != 0` taken as a NULL check of r0, so the
    // fall-through path (a valid pointer whose low half is 0) goes unchecked and reads 8703
    // bytes into a 64-byte value (seed m1, program 351116).
    name: 'jmp32 on a pointer: out-of-bounds read',
    text: '*(u32 *)(r10 - 4) = 0\nr6 = *(u32 *)(r1 + 0)\nr2 = r10\nr2 += -4\nr1 = map[0] ll\ncall 1\n'
      + 'if w0 != 0 goto +3\nif w6 > 8703 goto +2\nr0 += r6\nr0 = *(u8 *)(r0 + 0)\nr0 = 0\nexit',
    maps: [{ name: 'tbl', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 64, maxEntries: 1, flags: 0 }],
  },
];

test('regressions found by fuzzing: the kernel rejects them, and so do we', (t) => {
  const wrong: string[] = [];
  const why = bpfUnavailableReason();
  const maps = why ? undefined : new KernelMaps();
  try {
    for (const c of FOUND_BY_FUZZING) {
      const p: SeccompProgram = { insns: assemble(c.text), maps: c.maps, license: 'GPL' };
      if (maps) {
        const k = kernelVerdict(p, maps, { ourHelpers: new Set(helperTable(ROOT, { restricted: false }).keys()), logSize: 0 }).kind;
        if (k !== 'reject') wrong.push(`${c.name}: the kernel says ${k}`);
      }
      const o = ourVerdict(p);
      if (o.ours === 'accept') wrong.push(`${c.name}: we accept it`);
    }
  } finally {
    maps?.close();
  }
  if (why) t.diagnostic(`kernel side skipped: ${why}`);
  assert.deepEqual(wrong, []);
});
