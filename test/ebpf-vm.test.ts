// Unit tests of the eBPF VMs: Linux's edge semantics as literal expected values
// (kernel/bpf/core.c, the verifier's div/mod rewrites, RFC 9669 and prior-art-ebpf.md §3.2),
// memory faults, limits, calls and helpers. Every test runs on every engine: the reference
// interpreter and the JIT (src/ebpf/vm/jit) in both its layouts; the kernel itself is the second implementation
// in test/ebpf-vm-kernel.test.ts, the interpreter the JIT's in test/ebpf-jit.test.ts.
import { test as nodeTest, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createVm, VM_POISON, type Vm, type VmOptions } from '../src/ebpf/vm/interpreter.js';
import { compileVm } from '../src/ebpf/vm/jit/index.js';
import { VmMemoryFault } from '../src/ebpf/vm/faults.js';
import { mapHandle, type HelperDef, type HostServices, type TaskContext } from '../src/ebpf/vm/types.js';
import { SeccompEbpfError } from '../src/errors.js';
import { insn, type Insn } from '../src/ebpf/insn.js';
import {
  BPF_ADD, BPF_AND, BPF_ARSH, BPF_CMPXCHG, BPF_DIV, BPF_FETCH, BPF_JEQ, BPF_JGT, BPF_JLT, BPF_JNE, BPF_JSET, BPF_JSGT,
  BPF_JSLT, BPF_LSH, BPF_MOD, BPF_MUL, BPF_OR, BPF_RSH, BPF_SUB, BPF_XCHG, BPF_XOR, BPF_JSGE, BPF_JGE, BPF_JLE,
  BPF_JSLE,
} from '../src/abi/bpf.js';
import { I, prog, makeArrayMap, Rng } from './helpers/progen.js';

const host: HostServices = {
  monotonicNs: () => 1n, boottimeNs: () => 2n, coarseNs: () => 3n, random32: () => 4, possibleCpus: 1, tracePrintk: () => {},
};
const task: TaskContext = {
  tid: 100, tgid: () => 100, uid: () => 0, gid: () => 0, comm: () => 'test', cpu: () => 0, leaderKey: () => '100',
  readMemory: () => -14,
};

/** struct seccomp_data: nr=59 (execve), arch=AUDIT_ARCH_X86_64, ip, args[0..5] = 0x1111..6666 patterns. */
function makeCtx(): Uint8Array {
  const b = new Uint8Array(64);
  const dv = new DataView(b.buffer);
  dv.setInt32(0, 59, true);
  dv.setUint32(4, 0xc000003e, true);
  dv.setBigUint64(8, 0x7fff_1234_5678n, true);
  for (let i = 0; i < 6; i++) dv.setBigUint64(16 + 8 * i, 0x1111_1111_1111_1111n * BigInt(i + 1), true);
  return b;
}
const CTX = makeCtx();

type Engine = (insns: readonly Insn[], opts: VmOptions) => Vm;
const ENGINES: readonly (readonly [string, Engine])[] = [
  ['interpreter', createVm],
  ['jit', compileVm],
  // The JIT's layout for big programs (several functions), forced by a tiny size budget.
  ['jit-chunked', (insns, opts) => compileVm(insns, opts, { chunkChars: 300 })],
];
/** The engine of the test being run (set by `test` below). */
let engine: Engine = createVm;
let engineName = 'interpreter';

/** Registers `fn` as one test per engine, named "name [engine]". */
function test(name: string, fn: (t: TestContext) => unknown): void {
  for (const [label, make] of ENGINES) {
    nodeTest(`${name} [${label}]`, async (t) => {
      engine = make;
      engineName = label;
      try {
        await fn(t);
      } finally {
        engine = createVm;
        engineName = 'interpreter';
      }
    });
  }
}

function vm(insns: Insn[], opts: Partial<VmOptions> = {}): Vm {
  return engine(insns, { maps: [], helpers: new Map(), host, ...opts });
}
const run = (insns: Insn[], opts: Partial<VmOptions> = {}): bigint => vm(insns, opts).run(CTX, task);

/** Asserts that `fn` throws a SeccompEbpfError with `code` (and instruction index `insn` if given). */
function throwsCode(fn: () => unknown, code: string, insnIndex?: number): SeccompEbpfError {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  assert.ok(err instanceof SeccompEbpfError, `expected SeccompEbpfError ${code}, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (insnIndex !== undefined) assert.equal(err.location?.insn, insnIndex, err.message);
  return err;
}

// Registers set up by the table cases: r1 = a, r2 = b; the op under test; r0 = r1; exit.
const ab = (a: bigint, b: bigint, ...ops: Insn[]): Insn[] => prog(I.lddw(1, a), I.lddw(2, b), ...ops, I.mov64X(0, 1), I.exit());

const INT64_MIN = 0x8000_0000_0000_0000n;
const ALL = 0xffff_ffff_ffff_ffffn;

const ALU_CASES: [string, Insn[], bigint][] = [
  // Division and modulo by zero (kernel: div -> 0, mod -> dst; 32-bit mod -> low half zero-extended).
  ['div64 by zero reg', ab(7n, 0n, I.alu64X(BPF_DIV, 1, 2)), 0n],
  ['div64 by zero imm', ab(7n, 0n, I.alu64K(BPF_DIV, 1, 0)), 0n],
  ['div32 by zero', ab(0xdead_beef_cafe_baben, 0n, I.alu32X(BPF_DIV, 1, 2)), 0n],
  ['mod64 by zero keeps dst', ab(0xdead_beef_cafe_baben, 0n, I.alu64X(BPF_MOD, 1, 2)), 0xdead_beef_cafe_baben],
  ['mod32 by zero keeps low half', ab(0xdead_beef_cafe_baben, 0xffff_ffff_0000_0000n, I.alu32X(BPF_MOD, 1, 2)), 0xcafe_baben],
  ['sdiv64 by zero', ab(-5n, 0n, I.alu64X(BPF_DIV, 1, 2, 1)), 0n],
  ['smod64 by zero keeps dst', ab(-5n & ALL, 0n, I.alu64X(BPF_MOD, 1, 2, 1)), 0xffff_ffff_ffff_fffbn],
  ['smod32 by zero keeps low half', ab(0x1234_5678_8000_0001n, 0n, I.alu32X(BPF_MOD, 1, 2, 1)), 0x8000_0001n],
  // INT_MIN / -1.
  ['sdiv64 INT64_MIN / -1', ab(INT64_MIN, ALL, I.alu64X(BPF_DIV, 1, 2, 1)), INT64_MIN],
  ['smod64 INT64_MIN % -1', ab(INT64_MIN, ALL, I.alu64X(BPF_MOD, 1, 2, 1)), 0n],
  ['sdiv64 INT64_MIN / imm -1', ab(INT64_MIN, 0n, I.alu64K(BPF_DIV, 1, -1, 1)), INT64_MIN],
  ['sdiv32 INT32_MIN / -1', ab(0xffff_ffff_8000_0000n, ALL, I.alu32X(BPF_DIV, 1, 2, 1)), 0x8000_0000n],
  ['smod32 INT32_MIN % -1', ab(0x8000_0000n, ALL, I.alu32X(BPF_MOD, 1, 2, 1)), 0n],
  // Signed division truncates toward zero; modulo takes the dividend's sign.
  ['sdiv64 -7 / 2', ab(-7n & ALL, 2n, I.alu64X(BPF_DIV, 1, 2, 1)), 0xffff_ffff_ffff_fffdn],
  ['smod64 -13 % 3', ab(-13n & ALL, 3n, I.alu64X(BPF_MOD, 1, 2, 1)), 0xffff_ffff_ffff_ffffn],
  ['smod64 13 % -3', ab(13n, -3n & ALL, I.alu64X(BPF_MOD, 1, 2, 1)), 1n],
  ['sdiv32 -7 / 2 (zero-extended)', ab(0xffff_fff9n, 2n, I.alu32X(BPF_DIV, 1, 2, 1)), 0xffff_fffdn],
  ['smod32 -13 % imm 3', ab(0xffff_fff3n, 0n, I.alu32K(BPF_MOD, 1, 3, 1)), 0xffff_ffffn],
  // Unsigned division with a sign-extended immediate: ALU64 divides by 2^64-1, ALU by 2^32-1.
  ['div64 all-ones / imm -1', ab(ALL, 0n, I.alu64K(BPF_DIV, 1, -1)), 1n],
  ['div64 5 / imm -1', ab(5n, 0n, I.alu64K(BPF_DIV, 1, -1)), 0n],
  ['div32 0xfffffffe / imm -1', ab(0xffff_fffen, 0n, I.alu32K(BPF_DIV, 1, -1)), 0n],
  ['mod64 unsigned 2^63+5 % 10', ab(INT64_MIN + 5n, 10n, I.alu64X(BPF_MOD, 1, 2)), 3n],
  // Shifts: counts masked to 63 / 31, ARSH sign-extends.
  ['lsh64 by 65 = by 1', ab(3n, 65n, I.alu64X(BPF_LSH, 1, 2)), 6n],
  ['rsh64 by 64 = by 0', ab(0x1234n, 64n, I.alu64X(BPF_RSH, 1, 2)), 0x1234n],
  ['lsh32 by 33 = by 1', ab(0x8000_0001n, 33n, I.alu32X(BPF_LSH, 1, 2)), 2n],
  ['rsh32 by 32 = by 0, upper zeroed', ab(0xffff_ffff_8000_0000n, 32n, I.alu32X(BPF_RSH, 1, 2)), 0x8000_0000n],
  ['arsh64 INT64_MIN by 63', ab(INT64_MIN, 63n, I.alu64X(BPF_ARSH, 1, 2)), ALL],
  ['arsh64 by 127 masks to 63', ab(INT64_MIN, 127n, I.alu64X(BPF_ARSH, 1, 2)), ALL],
  ['arsh32 0x80000000 by 31 (zero-extended)', ab(0x1_8000_0000n, 0n, I.alu32K(BPF_ARSH, 1, 31)), 0xffff_ffffn],
  ['arsh32 by 4', ab(0xf000_0000n, 0n, I.alu32K(BPF_ARSH, 1, 4)), 0xff00_0000n],
  ['rsh64 imm is logical', ab(INT64_MIN, 0n, I.alu64K(BPF_RSH, 1, 63)), 1n],
  // Immediate sign extension.
  ['and64 imm 0xffffffff is a no-op', ab(0x1234_5678_9abc_def0n, 0n, I.alu64K(BPF_AND, 1, -1)), 0x1234_5678_9abc_def0n],
  ['and32 imm 0xffffffff truncates', ab(0x1234_5678_9abc_def0n, 0n, I.alu32K(BPF_AND, 1, -1)), 0x9abc_def0n],
  ['mov64 imm -1', ab(0n, 0n, I.mov64K(1, -1)), ALL],
  ['mov32 imm -1', ab(0n, 0n, I.mov32K(1, -1)), 0xffff_ffffn],
  ['add64 imm -1 on 0', ab(0n, 0n, I.alu64K(BPF_ADD, 1, -1)), ALL],
  ['or64 imm INT32_MIN', ab(0n, 0n, I.alu64K(BPF_OR, 1, -0x8000_0000)), 0xffff_ffff_8000_0000n],
  ['xor32 imm INT32_MIN', ab(0xffff_ffff_0000_0001n, 0n, I.alu32K(BPF_XOR, 1, -0x8000_0000)), 0x8000_0001n],
  // 32-bit results are zero-extended.
  ['add32 zero-extends', ab(ALL, 0n, I.alu32K(BPF_ADD, 1, 0)), 0xffff_ffffn],
  ['add32 wraps', ab(0xffff_ffffn, 0n, I.alu32K(BPF_ADD, 1, 2)), 1n],
  ['sub32 wraps', ab(0n, 1n, I.alu32X(BPF_SUB, 1, 2)), 0xffff_ffffn],
  ['neg32 of 1', ab(1n, 0n, I.neg32(1)), 0xffff_ffffn],
  ['neg64 of 1', ab(1n, 0n, I.neg64(1)), ALL],
  ['neg64 of INT64_MIN', ab(INT64_MIN, 0n, I.neg64(1)), INT64_MIN],
  ['mov32 reg truncates', ab(0n, 0x12_3456_7890n, I.mov32X(1, 2)), 0x3456_7890n],
  ['sub64 wraps', ab(0n, 1n, I.alu64X(BPF_SUB, 1, 2)), ALL],
  // Multiplication.
  ['mul32 low 32 bits', ab(0xffff_ffffn, 0xffff_ffffn, I.alu32X(BPF_MUL, 1, 2)), 1n],
  ['mul32 large (beyond 2^53)', ab(0x1234_5678n, 0x9abc_def0n, I.alu32X(BPF_MUL, 1, 2)), 0x242d_2080n],
  ['mul64 wraps', ab(ALL, 2n, I.alu64X(BPF_MUL, 1, 2)), 0xffff_ffff_ffff_fffen],
  ['mul64 imm -1', ab(5n, 0n, I.alu64K(BPF_MUL, 1, -1)), 0xffff_ffff_ffff_fffbn],
  // Byte swaps: le truncates, be swaps then truncates, bswap (ALU64) always swaps.
  ['le16', ab(0x1122_3344_5566_7788n, 0n, I.end('le', 1, 16)), 0x7788n],
  ['le32', ab(0x1122_3344_5566_7788n, 0n, I.end('le', 1, 32)), 0x5566_7788n],
  ['le64', ab(0x1122_3344_5566_7788n, 0n, I.end('le', 1, 64)), 0x1122_3344_5566_7788n],
  ['be16', ab(0x1122_3344_5566_7788n, 0n, I.end('be', 1, 16)), 0x8877n],
  ['be32', ab(0x1122_3344_5566_7788n, 0n, I.end('be', 1, 32)), 0x8877_6655n],
  ['be64', ab(0x1122_3344_5566_7788n, 0n, I.end('be', 1, 64)), 0x8877_6655_4433_2211n],
  ['bswap16', ab(0x1122_3344_5566_7788n, 0n, I.end('bswap', 1, 16)), 0x8877n],
  ['bswap32', ab(0x1122_3344_5566_7788n, 0n, I.end('bswap', 1, 32)), 0x8877_6655n],
  ['bswap64', ab(0x1122_3344_5566_7788n, 0n, I.end('bswap', 1, 64)), 0x8877_6655_4433_2211n],
  // MOVSX.
  ['movsx64 s8', ab(0n, 0x1234_5680n, I.movsx64(1, 2, 8)), 0xffff_ffff_ffff_ff80n],
  ['movsx64 s16', ab(0n, 0x8000n, I.movsx64(1, 2, 16)), 0xffff_ffff_ffff_8000n],
  ['movsx64 s32', ab(0n, 0x8000_0000n, I.movsx64(1, 2, 32)), 0xffff_ffff_8000_0000n],
  ['movsx64 s32 positive', ab(0n, 0xffff_ffff_7fff_ffffn, I.movsx64(1, 2, 32)), 0x7fff_ffffn],
  ['movsx32 s8 (zero-extended)', ab(0n, 0xffn, I.movsx32(1, 2, 8)), 0xffff_ffffn],
  ['movsx32 s16 positive', ab(0n, 0xffff_7fffn, I.movsx32(1, 2, 16)), 0x7fffn],
  // lddw.
  ['lddw 64-bit constant', ab(0x1122_3344_8899_aabbn, 0n), 0x1122_3344_8899_aabbn],
];

test('ALU edge cases give Linux results', async (t) => {
  for (const [name, insns, expected] of ALU_CASES) {
    await t.test(name, () => {
      assert.equal(run(insns), expected);
      assert.equal(vm(insns).run32(CTX, task), Number(expected & 0xffff_ffffn));
    });
  }
});

// Jumps: r0 = 1 if taken, else 2.
const jumpProg = (a: bigint, b: bigint, j: Insn): Insn[] =>
  prog(I.lddw(1, a), I.lddw(2, b), I.mov64K(0, 2), { ...j, off: 1 }, I.exit(), I.mov64K(0, 1), I.exit());
const JUMP_CASES: [string, Insn[], boolean][] = [
  ['jgt is unsigned', jumpProg(ALL, 1n, I.jX(BPF_JGT, 1, 2, 0)), true],
  ['jsgt is signed', jumpProg(ALL, 1n, I.jX(BPF_JSGT, 1, 2, 0)), false],
  ['jslt -1 < 1', jumpProg(ALL, 1n, I.jX(BPF_JSLT, 1, 2, 0)), true],
  ['jlt unsigned', jumpProg(ALL, 1n, I.jX(BPF_JLT, 1, 2, 0)), false],
  ['jge equal', jumpProg(5n, 5n, I.jX(BPF_JGE, 1, 2, 0)), true],
  ['jle equal', jumpProg(5n, 5n, I.jX(BPF_JLE, 1, 2, 0)), true],
  ['jsge INT64_MIN >= 0', jumpProg(INT64_MIN, 0n, I.jX(BPF_JSGE, 1, 2, 0)), false],
  ['jsle INT64_MIN <= 0', jumpProg(INT64_MIN, 0n, I.jX(BPF_JSLE, 1, 2, 0)), true],
  ['jset', jumpProg(0x10n, 0x30n, I.jX(BPF_JSET, 1, 2, 0)), true],
  ['jset no common bit', jumpProg(0x10n, 0x20n, I.jX(BPF_JSET, 1, 2, 0)), false],
  ['jne', jumpProg(1n, 2n, I.jX(BPF_JNE, 1, 2, 0)), true],
  ['jeq imm -128 compares with 0xffffffffffffff80', jumpProg(0xffff_ffff_ffff_ff80n, 0n, I.jK(BPF_JEQ, 1, -128, 0)), true],
  ['jeq imm -128 does not match 0xffffff80', jumpProg(0xffff_ff80n, 0n, I.jK(BPF_JEQ, 1, -128, 0)), false],
  ['jeq32 imm -128 matches low half 0xffffff80', jumpProg(0x5_ffff_ff80n, 0n, I.j32K(BPF_JEQ, 1, -128, 0)), true],
  ['jeq32 compares low halves only', jumpProg(0x1_0000_0000n, 0n, I.j32K(BPF_JEQ, 1, 0, 0)), true],
  ['jeq64 sees the upper half', jumpProg(0x1_0000_0000n, 0n, I.jK(BPF_JEQ, 1, 0, 0)), false],
  ['jsgt32 on low half sign', jumpProg(0x8000_0000n, 0n, I.j32K(BPF_JSGT, 1, 0, 0)), false],
  ['jgt32 unsigned low half', jumpProg(0x8000_0000n, 0n, I.j32K(BPF_JGT, 1, 0, 0)), true],
  ['jslt32 reg', jumpProg(0xffff_ffffn, 0x1_0000_0001n, I.j32X(BPF_JSLT, 1, 2, 0)), true],
  ['jgt imm sign-extended: 0xffffffff > -1 is false', jumpProg(0xffff_ffffn, 0n, I.jK(BPF_JGT, 1, -1, 0)), false],
];

test('conditional jumps', async (t) => {
  for (const [name, insns, taken] of JUMP_CASES) {
    await t.test(name, () => assert.equal(run(insns), taken ? 1n : 2n));
  }
});

test('ja, gotol and backward loops', () => {
  // gotol +1 skips r0 = 5.
  assert.equal(run(prog(I.mov64K(0, 1), I.gotol(1), I.mov64K(0, 5), I.exit())), 1n);
  // Loop: r0 = sum 1..10 with a backward conditional jump.
  assert.equal(run(prog(I.mov64K(0, 0), I.mov64K(1, 10), I.alu64X(BPF_ADD, 0, 1), I.alu64K(BPF_SUB, 1, 1), I.jK(BPF_JNE, 1, 0, -3), I.exit())), 55n);
});

test('memory: loads and stores of every size, memsx, ctx reads', () => {
  const p = prog(
    I.lddw(2, 0x8182_8384_8586_8788n),
    I.stx('dw', 10, 2, -8),
    I.ldx('b', 3, 10, -8), // 0x88
    I.ldxsx('b', 4, 10, -8), // sign-extended 0x88
    I.ldxsx('h', 5, 10, -8), // 0x8788
    I.ldxsx('w', 6, 10, -8), // 0x85868788
    I.ldx('h', 7, 10, -2), // 0x8182
    I.st('w', 10, -16, -2), // 0xfffffffe
    I.st('dw', 10, -24, -2),
    I.ldx('dw', 8, 10, -24),
    I.ldx('w', 9, 1, 0), // ctx nr
    I.mov64X(0, 3),
    I.alu64X(BPF_XOR, 0, 4), // 0x88 ^ 0xff..ff88 = 0xffffffffffffff00
    I.exit());
  assert.equal(run(p), 0xffff_ffff_ffff_ff00n);
  const check = (ops: Insn[], expected: bigint): void => assert.equal(run(prog(
    I.lddw(2, 0x8182_8384_8586_8788n), I.stx('dw', 10, 2, -8), ...ops, I.exit())), expected);
  check([I.ldxsx('h', 0, 10, -8)], 0xffff_ffff_ffff_8788n);
  check([I.ldxsx('w', 0, 10, -8)], 0xffff_ffff_8586_8788n);
  check([I.ldx('h', 0, 10, -2)], 0x8182n);
  check([I.ldx('w', 0, 10, -5)], 0x8283_8485n); // unaligned
  check([I.st('w', 10, -16, -2), I.ldx('dw', 0, 10, -16)], 0xffff_fffen);
  check([I.st('dw', 10, -16, -2), I.ldx('dw', 0, 10, -16)], 0xffff_ffff_ffff_fffen);
  check([I.st('b', 10, -8, 0x1ff), I.ldx('dw', 0, 10, -8)], 0x8182_8384_8586_87ffn);
  check([I.stx('h', 10, 2, -4), I.ldx('dw', 0, 10, -8)], 0x8182_8788_8586_8788n);
  check([I.ldx('w', 0, 1, 0)], 59n);
  check([I.ldx('w', 0, 1, 4)], 0xc000_003en);
  check([I.ldx('dw', 0, 1, 56)], 0x6666_6666_6666_6666n);
  check([I.ldx('b', 0, 10, -9)], 0n); // unwritten stack reads zero
});

test('atomics', async (t) => {
  // Slot at r10-8 holds `init`; r2 = operand; returns what `ret` computes.
  const at = (init: bigint, operand: bigint, size: 'w' | 'dw', op: number, r0: bigint, ...ret: Insn[]): bigint => run(prog(
    I.lddw(1, init), I.stx('dw', 10, 1, -8), I.lddw(2, operand), I.lddw(0, r0),
    I.atomic(size, op, 10, 2, -8), ...ret, I.exit()));
  const mem = I.ldx('dw', 0, 10, -8);
  const src = I.mov64X(0, 2);
  const cases: [string, () => bigint, bigint][] = [
    ['add64', () => at(10n, 5n, 'dw', BPF_ADD, 0n, mem), 15n],
    ['add64 wraps', () => at(ALL, 2n, 'dw', BPF_ADD, 0n, mem), 1n],
    ['fetch add64 puts old value in src', () => at(10n, 5n, 'dw', BPF_ADD | BPF_FETCH, 0n, src), 10n],
    ['add32 only touches the low word', () => at(0x1_ffff_ffffn, 1n, 'w', BPF_ADD, 0n, mem), 0x1_0000_0000n],
    ['fetch add32 zero-extends the old value', () => at(0xaaaa_aaaa_8000_0000n, 0xffff_ffff_0000_0001n, 'w', BPF_ADD | BPF_FETCH, 0n, src), 0x8000_0000n],
    ['fetch add32 result uses the low half of src', () => at(0xaaaa_aaaa_8000_0000n, 0xffff_ffff_0000_0001n, 'w', BPF_ADD | BPF_FETCH, 0n, mem), 0xaaaa_aaaa_8000_0001n],
    ['or64', () => at(0xf0n, 0x0fn, 'dw', BPF_OR, 0n, mem), 0xffn],
    ['fetch or32', () => at(0xf0n, 0x0fn, 'w', BPF_OR | BPF_FETCH, 0n, src), 0xf0n],
    ['and64', () => at(0xf0n, 0x3cn, 'dw', BPF_AND, 0n, mem), 0x30n],
    ['fetch and64', () => at(0xf0n, 0x3cn, 'dw', BPF_AND | BPF_FETCH, 0n, src), 0xf0n],
    ['xor32', () => at(0x1_0000_00ffn, 0xffn, 'w', BPF_XOR, 0n, mem), 0x1_0000_0000n],
    ['fetch xor64', () => at(0xffn, 0xffn, 'dw', BPF_XOR | BPF_FETCH, 0n, mem), 0n],
    ['xchg64 old value', () => at(7n, 9n, 'dw', BPF_XCHG, 0n, src), 7n],
    ['xchg64 new value', () => at(7n, 9n, 'dw', BPF_XCHG, 0n, mem), 9n],
    ['xchg32 zero-extends', () => at(0xffff_ffff_ffff_ffffn, 1n, 'w', BPF_XCHG, 0n, src), 0xffff_ffffn],
    ['cmpxchg64 success writes', () => at(7n, 9n, 'dw', BPF_CMPXCHG, 7n, mem), 9n],
    ['cmpxchg64 success r0 = old', () => at(7n, 9n, 'dw', BPF_CMPXCHG, 7n), 7n],
    ['cmpxchg64 failure keeps memory', () => at(7n, 9n, 'dw', BPF_CMPXCHG, 8n, mem), 7n],
    ['cmpxchg64 failure r0 = old', () => at(7n, 9n, 'dw', BPF_CMPXCHG, 8n), 7n],
    ['cmpxchg64 leaves src alone', () => at(7n, 9n, 'dw', BPF_CMPXCHG, 7n, src), 9n],
    ['cmpxchg32 compares the low half of r0', () => at(0x5n, 0x9n, 'w', BPF_CMPXCHG, 0xffff_ffff_0000_0005n, mem), 0x9n],
    ['cmpxchg32 r0 zero-extended', () => at(0xffff_ffff_ffff_fff5n, 0x9n, 'w', BPF_CMPXCHG, 0n), 0xffff_fff5n],
  ];
  for (const [name, fn, expected] of cases) await t.test(name, () => assert.equal(fn(), expected));
  await t.test('misaligned atomic faults', () => {
    throwsCode(() => run(prog(I.mov64K(2, 1), I.stx('dw', 10, 2, -16), I.atomic('dw', BPF_ADD, 10, 2, -12), I.exit())), 'ERR_VM_MEMORY', 2);
  });
});

test('memory faults', async (t) => {
  const fault = (insns: Insn[], at: number, opts: Partial<VmOptions> = {}): VmMemoryFault => {
    const e = throwsCode(() => run(insns, opts), 'ERR_VM_MEMORY', at);
    assert.ok(e instanceof VmMemoryFault);
    return e;
  };
  await t.test('stack: store at r10 (one past the end)', () => {
    const e = fault(prog(I.st('b', 10, 0, 1), I.exit()), 0);
    assert.equal(e.access, 'write');
    assert.equal(e.size, 1);
    assert.match(e.region ?? '', /stack of frame 0/);
  });
  await t.test('stack: below the 512 bytes', () => {
    const e = fault(prog(I.mov64K(0, 0), I.ldx('dw', 0, 10, -520), I.exit()), 1);
    assert.match(e.message, /before the start of stack of frame 0/);
  });
  await t.test('stack: access straddling the end', () => { fault(prog(I.ldx('dw', 0, 10, -4), I.exit()), 0); });
  await t.test('ctx: read past 64 bytes', () => {
    const e = fault(prog(I.ldx('dw', 0, 1, 60), I.exit()), 0);
    assert.equal(e.access, 'read');
    assert.match(e.message, /context/);
  });
  await t.test('ctx: negative offset', () => { fault(prog(I.ldx('b', 0, 1, -1), I.exit()), 0); });
  await t.test('ctx: write', () => { assert.match(fault(prog(I.st('w', 1, 0, 0), I.exit()), 0).message, /read-only/); });
  await t.test('ctx: atomic', () => { fault(prog(I.mov64K(2, 1), I.atomic('w', BPF_ADD, 1, 2, 0), I.exit()), 1); });
  await t.test('forged pointer: small integer', () => { fault(prog(I.mov64K(1, 0x1000), I.ldx('b', 0, 1, 0), I.exit()), 1); });
  await t.test('forged pointer: null', () => { fault(prog(I.mov64K(1, 0), I.ldx('w', 0, 1, 0), I.exit()), 1); });
  await t.test('forged pointer: ctx + 4 GiB', () => {
    fault(prog(I.lddw(2, 0x1_0000_0000n), I.alu64X(BPF_ADD, 1, 2), I.ldx('b', 0, 1, 0), I.exit()), 3);
  });
  await t.test('forged pointer: stack - 4 GiB', () => {
    fault(prog(I.mov64X(1, 10), I.lddw(2, 0x1_0000_0000n), I.alu64X(BPF_SUB, 1, 2), I.ldx('b', 0, 1, -8), I.exit()), 4);
  });
  await t.test('forged pointer: map handle used as a pointer', () => {
    fault(prog(I.ldMapFd(1, 0), I.ldx('b', 0, 1, 0), I.exit()), 2, { maps: [makeArrayMap(8)] });
  });
  await t.test('poisoned register (r2 at entry) used as a pointer', () => { fault(prog(I.ldx('b', 0, 2, 0), I.exit()), 0); });
  const map = makeArrayMap(16);
  await t.test('map value: in bounds reads and writes the map', () => {
    map.storage.fill(0);
    map.storage[3] = 0x42;
    const r = run(prog(I.ldMapValue(1, 0, 0), I.ldx('b', 0, 1, 3), I.st('dw', 1, 8, -1), I.exit()), { maps: [map] });
    assert.equal(r, 0x42n);
    assert.deepEqual([...map.storage.subarray(8)], [255, 255, 255, 255, 255, 255, 255, 255]);
  });
  await t.test('map value: lddw offset is added', () => {
    map.storage.fill(0);
    map.storage[5] = 0x17;
    assert.equal(run(prog(I.ldMapValue(1, 0, 4), I.ldx('b', 0, 1, 1), I.exit()), { maps: [map] }), 0x17n);
  });
  await t.test('map value: read past the end', () => { fault(prog(I.ldMapValue(1, 0, 0), I.ldx('dw', 0, 1, 12), I.exit()), 2, { maps: [map] }); });
  await t.test('map value: read-only map', () => {
    const ro = makeArrayMap(8, 1, { readOnly: true });
    assert.match(fault(prog(I.ldMapValue(1, 0, 0), I.st('b', 1, 0, 1), I.exit()), 2, { maps: [ro] }).message, /read-only/);
    assert.equal(run(prog(I.ldMapValue(1, 0, 0), I.ldx('b', 0, 1, 0), I.exit()), { maps: [ro] }), 0n);
  });
  await t.test('map value: lddw offset beyond the value', () => {
    throwsCode(() => run(prog(I.ldMapValue(1, 0, 16), I.exit()), { maps: [map] }), 'ERR_VM_BAD_MAP', 0);
  });
  await t.test('map value: array with several entries is refused', () => {
    throwsCode(() => run(prog(I.ldMapValue(1, 0, 0), I.exit()), { maps: [makeArrayMap(8, 2)] }), 'ERR_VM_BAD_MAP', 0);
  });
});

// Fake helpers: 1 = add(r1, r2); 2 = "reserve": pointer to a 16-byte record; 3 = "submit": release
// r1; 4 = read 8 bytes at r1 via mem.slice; 5 = throws TypeError; 6 = returns a number;
// 7 = throws a SeccompEbpfError without location; 8 = map handle -> value size.
function helperTable(record: Uint8Array): Map<number, HelperDef> {
  const defs: HelperDef[] = [
    { id: 1, name: 'add', fn: (_e, a, b) => a + b },
    { id: 2, name: 'reserve', fn: (env) => env.mem.pointerTo(record, true) },
    { id: 3, name: 'submit', fn: (env, p) => { env.mem.release(p); return 0n; } },
    { id: 4, name: 'peek', fn: (env, p) => new DataView(env.mem.slice(p, 8, false).slice().buffer).getBigUint64(0, true) },
    { id: 5, name: 'broken', fn: () => { throw new TypeError('oops'); } },
    { id: 6, name: 'number', fn: () => 5 as unknown as bigint },
    { id: 7, name: 'fails', fn: () => { throw new SeccompEbpfError('ERR_TEST_HELPER', 'helper said no'); } },
    { id: 8, name: 'valsize', fn: (env, h) => BigInt(env.map(h).spec.valueSize) },
  ];
  return new Map(defs.map((d) => [d.id, d]));
}

test('helper calls', async (t) => {
  const record = new Uint8Array(16);
  const helpers = helperTable(record);
  const opts = { helpers, maps: [makeArrayMap(24)] };
  await t.test('arguments in r1..r5, result in r0', () => {
    assert.equal(run(prog(I.mov64K(1, 40), I.mov64K(2, 2), I.call(1), I.exit()), opts), 42n);
  });
  await t.test('result is truncated to u64', () => {
    assert.equal(run(prog(I.mov64K(1, -1), I.mov64K(2, 2), I.call(1), I.exit()), opts), 1n);
  });
  await t.test('r1-r5 are poisoned after a call, r6-r9 kept', () => {
    for (const r of [1, 2, 3, 4, 5]) {
      assert.equal(run(prog(I.mov64K(1, 1), I.mov64K(2, 2), I.mov64K(r, 7), I.call(1), I.mov64X(0, r), I.exit()), opts), VM_POISON);
    }
    assert.equal(run(prog(I.mov64K(6, 77), I.mov64K(1, 1), I.mov64K(2, 2), I.call(1), I.mov64X(0, 6), I.exit()), opts), 77n);
  });
  await t.test('map handle from lddw resolves in the helper', () => {
    assert.equal(run(prog(I.ldMapFd(1, 0), I.call(8), I.exit()), opts), 24n);
    assert.equal(run(prog(I.ldMapFd(0, 0), I.exit()), opts), mapHandle(0));
  });
  await t.test('bad map index', () => { throwsCode(() => run(prog(I.ldMapFd(1, 3), I.exit()), opts), 'ERR_VM_BAD_MAP', 0); });
  await t.test('helper rejects a non-handle', () => { throwsCode(() => run(prog(I.mov64K(1, 5), I.call(8), I.exit()), opts), 'ERR_VM_BAD_MAP', 1); });
  await t.test('ring buffer record: write, submit, use after release faults', () => {
    const p = prog(
      I.call(2), I.mov64X(6, 0), I.st('dw', 6, 8, 0x55), I.mov64X(1, 6), I.call(3),
      I.st('b', 6, 0, 1), I.exit());
    const e = throwsCode(() => run(p, opts), 'ERR_VM_MEMORY', 5);
    assert.match(e.message, /use after release/);
    assert.equal(record[8], 0x55);
    // A new reservation of the same record gets a fresh address; the old one stays dead.
    const p2 = prog(I.call(2), I.mov64X(6, 0), I.mov64X(1, 0), I.call(3), I.call(2), I.mov64X(7, 0), I.alu64X(BPF_SUB, 7, 6),
      I.mov64X(0, 7), I.exit());
    assert.notEqual(run(p2, opts), 0n);
  });
  await t.test('double release faults', () => {
    throwsCode(() => run(prog(I.call(2), I.mov64X(6, 0), I.mov64X(1, 6), I.call(3), I.mov64X(1, 6), I.call(3), I.exit()), opts), 'ERR_VM_MEMORY', 5);
  });
  await t.test('helper slice faults carry the call index', () => {
    const e = throwsCode(() => run(prog(I.mov64X(1, 10), I.alu64K(BPF_ADD, 1, -4), I.call(4), I.exit()), opts), 'ERR_VM_MEMORY', 2);
    assert.match(e.message, /stack of frame 0/);
    assert.equal(run(prog(I.st('dw', 10, -8, 99), I.mov64X(1, 10), I.alu64K(BPF_ADD, 1, -8), I.call(4), I.exit()), opts), 99n);
  });
  await t.test('unknown helper', () => { throwsCode(() => run(prog(I.call(999), I.exit()), opts), 'ERR_VM_UNKNOWN_HELPER', 0); });
  await t.test('helper throwing a foreign error', () => {
    const e = throwsCode(() => run(prog(I.mov64K(0, 0), I.call(5), I.exit()), opts), 'ERR_VM_HELPER', 1);
    assert.match(e.message, /broken.*TypeError: oops/);
  });
  await t.test('helper returning a non-bigint', () => { throwsCode(() => run(prog(I.call(6), I.exit()), opts), 'ERR_VM_HELPER', 0); });
  await t.test('helper SeccompEbpfError passes through with the insn index', () => {
    const e = throwsCode(() => run(prog(I.mov64K(0, 0), I.call(7), I.exit()), opts), 'ERR_TEST_HELPER', 1);
    assert.equal(e.message, 'helper said no (insn 1)');
  });
  await t.test('helper calling run() again', () => {
    let inner: Vm | undefined;
    const h = new Map([[1, { id: 1, name: 'reenter', fn: () => inner!.run(CTX, task) }]]);
    inner = vm(prog(I.call(1), I.exit()), { helpers: h });
    throwsCode(() => inner!.run(CTX, task), 'ERR_VM_REENTRANT', 0);
  });
});

test('bpf-to-bpf calls', async (t) => {
  await t.test('stack in both frames, r6-r9 preserved, pointer to caller stack', () => {
    const p = prog(
      /* 0 */ I.st('dw', 10, -8, 111),
      /* 1 */ I.mov64K(6, 5),
      /* 2 */ I.mov64K(1, 3),
      /* 3 */ I.mov64X(2, 10),
      /* 4 */ I.alu64K(BPF_ADD, 2, -8),
      /* 5 */ I.callLocal(8), // -> 14
      /* 6 */ I.ldx('dw', 3, 10, -8), // still 111
      /* 7 */ I.alu64X(BPF_ADD, 0, 3), // r0 = f() + 111
      /* 8 */ I.alu64K(BPF_MUL, 6, 1000), // r6 = 5000 if preserved
      /* 9 */ I.alu64X(BPF_ADD, 0, 6),
      /* 10 */ I.exit(),
      /* 11 */ I.exit(), I.exit(), I.exit(),
      // f(r1 = 3, r2 = &caller slot): own slot = 222; r6 clobbered; returns r1 + own + *r2
      /* 14 */ I.st('dw', 10, -8, 222),
      /* 15 */ I.mov64K(6, 99),
      /* 16 */ I.ldx('dw', 0, 10, -8),
      /* 17 */ I.alu64X(BPF_ADD, 0, 1),
      /* 18 */ I.ldx('dw', 3, 2, 0),
      /* 19 */ I.alu64X(BPF_ADD, 0, 3),
      /* 20 */ I.exit());
    assert.equal(run(p), 222n + 3n + 111n + 111n + 5000n);
  });
  await t.test('callee stack starts zeroed and r10 differs per frame', () => {
    const p = prog(I.mov64X(6, 10), I.callLocal(2), I.alu64X(BPF_SUB, 0, 6), I.exit(),
      I.mov64X(0, 10), I.exit());
    assert.notEqual(run(p), 0n);
  });
  await t.test('8 frames are allowed, 9 fault', () => {
    // f_k calls f_{k+1}: main + `depth` nested calls.
    const chain = (depth: number): Insn[] => {
      const out: Insn[] = [I.mov64K(0, 0)];
      for (let k = 0; k < depth; k++) out.push(I.callLocal(1), I.exit());
      out.push(I.mov64K(0, 7), I.exit());
      // Each call at index 1+2k targets 1+2k+2, i.e. the next call.
      return out;
    };
    assert.equal(run(chain(7)), 7n);
    throwsCode(() => run(chain(8)), 'ERR_VM_CALL_DEPTH', 15);
  });
  await t.test('infinite recursion hits the call depth', () => {
    throwsCode(() => run(prog(I.callLocal(-1), I.exit())), 'ERR_VM_CALL_DEPTH', 0);
  });
});

test('instruction budget', () => {
  throwsCode(() => run(prog(I.ja(-1), I.exit()), { maxInsns: 1000 }), 'ERR_VM_INSN_LIMIT', 0);
  throwsCode(() => run(prog(I.mov64K(0, 0), I.ja(-2))), 'ERR_VM_INSN_LIMIT');
  // Exactly the budget is fine: mov, mov, exit = 3 instructions.
  assert.equal(run(prog(I.mov64K(0, 1), I.mov64K(0, 2), I.exit()), { maxInsns: 3 }), 2n);
  // The JIT charges the budget per basic block, at its first instruction (src/ebpf/vm/jit/compile.ts).
  throwsCode(() => run(prog(I.mov64K(0, 1), I.mov64K(0, 2), I.exit()), { maxInsns: 2 }), 'ERR_VM_INSN_LIMIT', engineName === 'interpreter' ? 2 : 0);
});

test('invalid programs', async (t) => {
  const bad = (name: string, insns: Insn[], at: number): Promise<void> =>
    t.test(name, () => { throwsCode(() => vm(insns), 'ERR_VM_BAD_INSN', at); }).then(() => {});
  await bad('empty', [], 0);
  await bad('unknown opcode', prog(I.mov64K(0, 0), insn(0xff), I.exit()), 1);
  await bad('LD_ABS', prog(insn(0x20), I.exit()), 0);
  await bad('jump out of range', prog(I.ja(5), I.exit()), 0);
  await bad('jump backwards out of range', prog(I.mov64K(0, 0), I.jK(BPF_JEQ, 0, 0, -3), I.exit()), 1);
  await bad('jump into lddw', prog(I.ja(1), I.lddw(0, 5n), I.exit()), 0);
  await bad('lddw truncated', prog(I.mov64K(0, 0), I.lddw(0, 1n)[0]!), 1);
  await bad('lddw second slot not zero', prog(I.lddw(0, 1n)[0]!, insn(0x07), I.exit()), 0);
  await bad('write to r10', prog(I.mov64K(10, 0), I.exit()), 0);
  await bad('register 11', prog(I.mov64X(0, 11), I.exit()), 0);
  await bad('reserved field: ALU K with src', prog(insn(0x07, 0, 1, 0, 1), I.exit()), 0);
  await bad('reserved field: ALU X with imm', prog(insn(0x0f, 0, 1, 0, 1), I.exit()), 0);
  await bad('sdiv with off 2', prog(I.alu64X(BPF_DIV, 0, 1, 2), I.exit()), 0);
  await bad('movsx32 with off 32', prog(I.movsx32(0, 1, 32 as 8), I.exit()), 0);
  await bad('bswap with source bit', prog(insn(0xdf, 0, 0, 0, 16), I.exit()), 0);
  await bad('end with width 8', prog(I.end('le', 0, 8 as 16), I.exit()), 0);
  await bad('atomic on a byte', prog(insn(0xd3, 10, 1, -8, 0), I.exit()), 0);
  await bad('unknown atomic op', prog(I.atomic('dw', 0x10, 10, 1, -8), I.exit()), 0);
  await bad('exit with dst', prog(insn(0x95, 1)), 0);
  await bad('JMP32 exit', prog(insn(0x96)), 0);
  await bad('ja with imm', prog(insn(0x05, 0, 0, 0, 1), I.exit()), 0);
  await bad('kfunc call', prog(insn(0x85, 0, 2, 0, 1), I.exit()), 0);
  await bad('unknown lddw pseudo source', prog(insn(0x18, 0, 3, 0, 0), insn(0), I.exit()), 0);
  await bad('malformed insn object', [{ code: 0x95, dst: 0, src: 0, off: 0, imm: 2 ** 40 }], 0);
  await t.test('falling off the end is a run-time fault', () => {
    throwsCode(() => run(prog(I.mov64K(0, 0))), 'ERR_VM_BAD_INSN', 0);
  });
  await t.test('bad options', () => {
    throwsCode(() => engine([I.exit()], { maps: [], helpers: new Map(), host, maxInsns: 0 }), 'ERR_VM_BAD_OPTIONS');
    throwsCode(() => engine([I.exit()], { maps: [], helpers: new Map(), host, bogus: 1 } as VmOptions), 'ERR_VM_BAD_OPTIONS');
  });
});

test('random instruction streams: only SeccompEbpfError escapes', () => {
  const rng = new Rng('vm-robustness');
  const record = new Uint8Array(16);
  const opts = { helpers: helperTable(record), maps: [makeArrayMap(16)], maxInsns: 10_000 };
  let ran = 0;
  for (let n = 0; n < 3000; n++) {
    const len = rng.int(12);
    const insns: Insn[] = [];
    for (let i = 0; i < len; i++) {
      // Mostly valid opcodes with random fields, sometimes raw random bytes.
      const code = rng.chance(0.8) ? rng.pick([0x07, 0x0f, 0x04, 0x0c, 0xb7, 0xbf, 0x3f, 0x9f, 0x3c, 0x9c, 0xd4, 0xdc, 0xd7, 0x87, 0x84,
        0x18, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb, 0x05, 0x15, 0x1d,
        0x16, 0x1e, 0xa5, 0x06, 0x85, 0x95]) : rng.int(256);
      insns.push(insn(code, rng.int(11), rng.int(rng.chance(0.8) ? 11 : 16), (rng.u32() % 9) - 4 + (rng.chance(0.1) ? 8 : 0), rng.chance(0.5) ? rng.int(5) : rng.u32() | 0));
    }
    if (rng.chance(0.9)) insns.push(I.exit());
    let v: Vm;
    try { v = vm(insns, opts); } catch (e) {
      assert.ok(e instanceof SeccompEbpfError, String(e));
      continue;
    }
    try {
      assert.equal(typeof v.run(CTX, task), 'bigint');
      ran++;
    } catch (e) {
      assert.ok(e instanceof SeccompEbpfError, `${String(e)}\n${JSON.stringify(insns)}`);
      assert.equal(typeof e.location?.insn, 'number', e.message);
    }
  }
  assert.ok(ran > 0, 'some random programs should run to completion');
});
