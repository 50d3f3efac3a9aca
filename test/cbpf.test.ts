// Classic BPF: codec, the kernel's checker rules, the interpreter, bpf_asm / seccomp-tools
// disassembly and assembly, the builder's trampolines, and conversion to eBPF (checked against
// the eBPF interpreter). The kernel itself is the reference in test/cbpf-kernel.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assembleClassic, checkChain, checkClassic, ClassicBuilder, classicToEbpf, compileClassic, decodeClassic,
  disassembleClassic, encodeClassic, findClassicProblem, kernelProgramLength, runClassic, seccompData, cinsn, OP,
  type CInsn, type ClassicRule,
} from '../src/cbpf/index.js';
import { createVm } from '../src/ebpf/vm/interpreter.js';
import { simulatedHost, simulatedTask } from '../src/ebpf/vm/simulated.js';
import { decodeInstruction } from '../src/ebpf/opcodes.js';
import { hasCode, SeccompEbpfError } from '../src/errors.js';
import {
  BPF_ALU, BPF_JMP, BPF_K, BPF_X, BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_MOD, BPF_AND, BPF_OR, BPF_XOR, BPF_LSH,
  BPF_RSH, BPF_JGT, BPF_JSET, BPF_LD, BPF_H, BPF_ABS, BPF_RET, SKF_AD_OFF,
} from '../src/abi/cbpf.js';
import { SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP } from '../src/abi/seccomp.js';
import { below, longFilter, pick, randomArg, randomNearValid, randomValidFilter, rng, valuePool, PROBE_NRS } from './fixtures/cbpf/gen.js';

const RET_ALLOW = cinsn(OP.RET_K, SECCOMP_RET_ALLOW);
const alu = (op: number, k?: number): CInsn => (k === undefined ? cinsn(BPF_ALU | op | BPF_X) : cinsn(BPF_ALU | op | BPF_K, k));

test('codec: struct sock_filter layout, round trip, and no silent truncation', () => {
  const f = [cinsn(OP.LD_ABS, 4), cinsn(OP.JEQ_K, 0xc000003e, 1, 2), RET_ALLOW];
  const bytes = encodeClassic(f);
  assert.equal(Buffer.from(bytes).toString('hex'), '2000000004000000' + '150001023e0000c0' + '060000000000ff7f');
  assert.deepEqual(decodeClassic(bytes), f);
  assert.deepEqual(encodeClassic([cinsn(OP.LD_IMM, -1)]).slice(4), Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  assert.throws(() => decodeClassic(new Uint8Array(7)), { code: 'ERR_CBPF_BYTES' });
  for (const bad of [{ code: 0x10000, jt: 0, jf: 0, k: 0 }, { code: 6, jt: 256, jf: 0, k: 0 }, { code: 6, jt: 0, jf: -1, k: 0 },
    { code: 6, jt: 0, jf: 0, k: 2 ** 32 }, { code: 6, jt: 0, jf: 0, k: 1.5 }, { code: 6, jt: 0, jf: 0 } as CInsn]) {
    assert.throws(() => encodeClassic([RET_ALLOW, bad]), (e: unknown) => hasCode(e, 'ERR_CBPF_FIELD') && (e as { location: { insn: number } }).location.insn === 1);
  }
});

const CHECK_CASES: [name: string, filter: CInsn[], rule: ClassicRule | undefined, insn?: number, generic?: ClassicRule | undefined][] = [
  ['minimal', [RET_ALLOW], undefined],
  ['empty', [], 'length'],
  ['4096 instructions', longFilter(4096), undefined],
  ['4097 instructions', longFilter(4097), 'length'],
  ['unknown opcode', [cinsn(0x0e), RET_ALLOW], 'opcode', 0],
  ['high byte set', [cinsn(0x106), RET_ALLOW], 'opcode', 0],
  ['div by constant 0', [alu(BPF_DIV, 0), RET_ALLOW], 'div-by-zero', 0],
  ['mod by constant 0', [alu(BPF_MOD, 0), RET_ALLOW], 'div-by-zero', 0],
  ['shift by 32', [alu(BPF_LSH, 32), RET_ALLOW], 'shift-range', 0],
  ['shift by 31', [alu(BPF_RSH, 31), RET_ALLOW], undefined],
  ['M[16]', [cinsn(OP.ST, 16), RET_ALLOW], 'mem-index', 0],
  ['ja past the end', [cinsn(OP.JA, 1), RET_ALLOW], 'jump-range', 0],
  ['ja k = 2^32-1', [cinsn(OP.JA, 0xffffffff), RET_ALLOW], 'jump-range', 0],
  ['jt past the end', [cinsn(OP.JEQ_K, 0, 1, 0), RET_ALLOW], 'jump-range', 0],
  ['jf past the end', [cinsn(OP.JSET_X, 0, 0, 200), RET_ALLOW], 'jump-range', 0],
  ['no final RET', [RET_ALLOW, cinsn(OP.LD_IMM)], 'no-return', 1],
  ['RET X is not an opcode', [cinsn(BPF_RET | BPF_X)], 'opcode', 0],
  ['M[] read before write', [cinsn(OP.LD_MEM, 3), RET_ALLOW], 'mem-uninit', 0],
  ['M[] written on one path only', [cinsn(OP.JEQ_K, 0, 0, 1), cinsn(OP.ST, 3), cinsn(OP.LDX_MEM, 3), RET_ALLOW], 'mem-uninit', 2],
  ['M[] written on both paths', [cinsn(OP.JEQ_K, 0, 0, 2), cinsn(OP.ST, 3), cinsn(OP.JA, 1), cinsn(OP.STX, 3), cinsn(OP.LD_MEM, 3), RET_ALLOW], undefined],
  // check_load_and_stores does not reset its state after RET: the unreachable load after a
  // RET inherits the store before it.
  ['kernel quirk: state flows over RET', [cinsn(OP.ST, 0), RET_ALLOW, cinsn(OP.LD_MEM, 0), RET_ALLOW], undefined],
  ['ancillary offset', [cinsn(OP.LD_ABS, SKF_AD_OFF + 4), RET_ALLOW], 'seccomp-load', 0, undefined],
  ['unknown ancillary offset', [cinsn(OP.LD_ABS, SKF_AD_OFF + 2), RET_ALLOW], 'ancillary', 0, 'ancillary'],
  ['seccomp: ld [64]', [cinsn(OP.LD_ABS, 64), RET_ALLOW], 'seccomp-load', 0, undefined],
  ['seccomp: ld [2]', [cinsn(OP.LD_ABS, 2), RET_ALLOW], 'seccomp-load', 0, undefined],
  ['seccomp: ld [60]', [cinsn(OP.LD_ABS, 60), RET_ALLOW], undefined],
  ['seccomp: ldh', [cinsn(BPF_LD | BPF_H | BPF_ABS, 0), RET_ALLOW], 'seccomp-opcode', 0, undefined],
  ['seccomp: mod', [alu(BPF_MOD, 3), RET_ALLOW], 'seccomp-opcode', 0, undefined],
  ['seccomp: xor allowed', [alu(BPF_XOR, 3), alu(BPF_XOR), RET_ALLOW], undefined],
  ['seccomp: ld #len', [cinsn(OP.LD_LEN), cinsn(OP.LDX_LEN), RET_ALLOW], undefined],
];

test('checker: one case per kernel rule, with the instruction index (seccomp and socket-filter rules)', () => {
  for (const c of CHECK_CASES) {
    const [name, f, rule, insn] = c;
    const p = findClassicProblem(f);
    assert.equal(p?.rule, rule, name);
    if (insn !== undefined) assert.equal(p?.insn, insn, name);
    // The fifth column, when present, is the socket-filter (bpf_check_classic only) outcome.
    assert.equal(findClassicProblem(f, { seccomp: false })?.rule, c.length === 5 ? c[4] : rule, `${name} (socket filter)`);
    if (rule) {
      assert.throws(() => checkClassic(f), (e: unknown) => hasCode(e, 'ERR_CBPF_INVALID') && (e as { rule: string }).rule === rule, name);
    } else checkClassic(f);
  }
  assert.throws(() => findClassicProblem([RET_ALLOW], { sec: true } as never), TypeError);
  assert.throws(() => checkClassic('x' as never), { code: 'ERR_CBPF_FIELD' });
});

test('checker: converted length and the chain limit', () => {
  // 3 prologue + per instruction (see kernelProgramLength); pinned against the kernel in cbpf-kernel.test.ts.
  assert.equal(kernelProgramLength([RET_ALLOW]), 5);
  assert.equal(kernelProgramLength([cinsn(OP.RET_A)]), 4);
  assert.equal(kernelProgramLength([alu(BPF_DIV), RET_ALLOW]), 10);
  assert.equal(kernelProgramLength([cinsn(OP.JEQ_K, 1, 1, 0), cinsn(OP.JEQ_K, 1, 0, 1), cinsn(OP.JSET_K, 1, 0, 1), RET_ALLOW, RET_ALLOW]), 3 + 1 + 1 + 2 + 2 + 2);
  assert.equal(kernelProgramLength([cinsn(OP.JEQ_K, 0x80000000, 0, 0), RET_ALLOW]), 3 + 2 + 2);
  const big = longFilter(4096);
  checkChain([...Array(7).fill(big), longFilter(4036)]);
  assert.throws(() => checkChain([...Array(7).fill(big), longFilter(4037)]), { code: 'ERR_CBPF_CHAIN_TOO_LONG' });
  assert.throws(() => checkChain([big, [cinsn(OP.LD_IMM)]]), (e: unknown) => hasCode(e, 'ERR_CBPF_INVALID') && /filter 1/.test((e as Error).message));
});

/** Runs `body` (without its final RET A) on A = a, X = x and returns A. */
function evalA(body: CInsn[], a: number, x: number, data = seccompData()): number {
  return runClassic([cinsn(OP.LD_IMM, a), cinsn(OP.LDX_IMM, x), ...body, cinsn(OP.RET_A)], data);
}

test('interpreter: 32-bit arithmetic with the kernel edge cases', () => {
  const cases: [CInsn[], number, number, number][] = [
    [[alu(BPF_ADD)], 0xffffffff, 2, 1],
    [[alu(BPF_SUB, 3)], 1, 0, 0xfffffffe],
    [[alu(BPF_MUL)], 0x10001, 0x10001, 0x20001],
    [[alu(BPF_DIV, 7)], 0xffffffff, 0, 0x24924924],
    [[alu(BPF_DIV)], 100, 7, 14],
    [[alu(BPF_LSH)], 1, 33, 2], // shift counts by X are masked to 5 bits (JIT/interpreter)
    [[alu(BPF_RSH)], 0x80000000, 63, 1],
    [[alu(BPF_LSH, 31)], 3, 0, 0x80000000],
    [[alu(BPF_AND, 0xf0)], 0xff, 0, 0xf0],
    [[alu(BPF_OR)], 0xf0, 0x0f, 0xff],
    [[alu(BPF_XOR, 0xffffffff)], 0x0f0f0f0f, 0, 0xf0f0f0f0],
    [[cinsn(OP.NEG)], 1, 0, 0xffffffff],
    [[cinsn(OP.TXA)], 1, 9, 9],
    [[cinsn(OP.TAX), alu(BPF_ADD)], 4, 0, 8],
    [[cinsn(OP.ST, 15), cinsn(OP.LD_IMM, 0), cinsn(OP.LD_MEM, 15)], 77, 0, 77],
    [[cinsn(OP.STX, 0), cinsn(OP.LDX_IMM, 0), cinsn(OP.LDX_MEM, 0), cinsn(OP.TXA)], 0, 5, 5],
    [[cinsn(OP.LD_LEN)], 0, 0, 64],
    [[cinsn(OP.LDX_LEN), cinsn(OP.TXA)], 0, 0, 64],
  ];
  for (const [body, a, x, want] of cases) assert.equal(evalA(body, a, x), want, JSON.stringify(body));
  // Division by X == 0 ends the program with 0 (SECCOMP_RET_KILL_THREAD).
  assert.equal(evalA([alu(BPF_DIV)], 5, 0), SECCOMP_RET_KILL_THREAD);
});

test('interpreter: loads from seccomp_data, jumps and bad input', () => {
  const data = seccompData({ nr: 39, arch: 0xc000003e, instructionPointer: 0x1122334455667788n, args: [0xaaaabbbbccccddddn, -1n] });
  const ld = (k: number): number => runClassic([cinsn(OP.LD_ABS, k), cinsn(OP.RET_A)], data);
  assert.deepEqual([0, 4, 8, 12, 16, 20, 24, 28, 32].map(ld), [39, 0xc000003e, 0x55667788, 0x11223344, 0xccccdddd, 0xaaaabbbb, 0xffffffff, 0xffffffff, 0]);
  const jumps = (code: number, a: number, k: number): number =>
    runClassic([cinsn(OP.LD_IMM, a), cinsn(OP.LDX_IMM, k), cinsn(code, k, 1, 0), cinsn(OP.RET_K, 0), cinsn(OP.RET_K, 1)], data);
  assert.deepEqual([[OP.JGT_K, 5, 4], [OP.JGT_K, 4, 4], [OP.JGE_X, 4, 4], [OP.JGT_K, 0x80000000, 1], [OP.JSET_K, 6, 2], [OP.JSET_X, 6, 1], [OP.JEQ_K, 0xffffffff, 0xffffffff]]
    .map(([c, a, k]) => jumps(c!, a!, k!)), [1, 0, 1, 1, 1, 0, 1]);
  assert.equal(runClassic([cinsn(OP.JA, 1), cinsn(OP.RET_K, 0), RET_ALLOW], data), SECCOMP_RET_ALLOW);
  assert.throws(() => runClassic([RET_ALLOW], new Uint8Array(63)), { code: 'ERR_CBPF_DATA' });
  assert.throws(() => runClassic([cinsn(OP.LD_MEM, 0), RET_ALLOW], data), { code: 'ERR_CBPF_INVALID' });
  assert.throws(() => seccompData({ args: [1, 2, 3, 4, 5, 6, 7] }), { code: 'ERR_CBPF_DATA' });
  const p = compileClassic([cinsn(OP.LD_ABS, 0), cinsn(OP.RET_A)]);
  assert.equal(p.run(seccompData({ nr: 7 })), 7);
  assert.equal(p.run(seccompData({ nr: -1 })), 0xffffffff);
});

test('disassembler: bpf_asm syntax with seccomp notes, and it assembles back bit for bit', () => {
  const f = assembleClassic(`
    ld [4]
    jne #0xc000003e, kill
    ld [0]
    jeq #39, allow
    ld [20]
    jset #1, trap, allow
  trap: ret TRAP(7)
  allow: ret ALLOW
  kill: ret #0`);
  assert.equal(disassembleClassic(f, { seccomp: true }), [
    'l0:    ld [4]                           ; arch',
    'l1:    jeq #0xc000003e, l2, l8          ; ARCH_X86_64',
    'l2:    ld [0]                           ; sys_number',
    'l3:    jeq #39, l7, l4                  ; getpid',
    'l4:    ld [20]                          ; args[0] >> 32',
    'l5:    jset #0x1, l6, l7',
    'l6:    ret #0x30007                     ; TRAP(7)',
    'l7:    ret #0x7fff0000                  ; ALLOW',
    'l8:    ret #0x0                         ; KILL_THREAD',
    ''].join('\n'));
  // Every generated program, valid or not, round-trips (invalid jumps and opcodes as .raw).
  const r = rng(11);
  for (let i = 0; i < 1500; i++) {
    const g = i % 2 ? randomValidFilter(r) : randomNearValid(r);
    for (const seccomp of [false, true]) assert.deepEqual(assembleClassic(disassembleClassic(g, { seccomp })), g);
  }
  assert.match(disassembleClassic([cinsn(0xffff, 5, 1, 2)]), /\.raw 0xffff, 1, 2, 0x5/);
  assert.match(disassembleClassic([cinsn(BPF_ALU | BPF_MOD | BPF_K, 3), cinsn(BPF_LD | BPF_H | BPF_ABS, 12), cinsn(0xb1, 14)]), /mod #3\n.*ldh \[12\]\n.*ldxb 4\*\(\[14\]&0xf\)/);
});

const ASM_CASES: [text: string, want: CInsn[]][] = [
  ['ld [4]\nldh [x + 2]\nldb [%x]\nld #0x10\nldi 7\nld #len\nld len\nld M[3]', [cinsn(OP.LD_ABS, 4), cinsn(0x48, 2), cinsn(0x50, 0), cinsn(OP.LD_IMM, 16), cinsn(OP.LD_IMM, 7), cinsn(OP.LD_LEN), cinsn(OP.LD_LEN), cinsn(OP.LD_MEM, 3)]],
  ['ldx #-1\nldxi #0b101\nldx #len\nldx M[15]\nldx 4*([14]&0xf)\nldxb 4*([1]&0xf)\nst M[0]\nstx M[1]', [cinsn(OP.LDX_IMM, 0xffffffff), cinsn(OP.LDX_IMM, 5), cinsn(OP.LDX_LEN), cinsn(OP.LDX_MEM, 15), cinsn(0xb1, 14), cinsn(0xb1, 1), cinsn(OP.ST, 0), cinsn(OP.STX, 1)]],
  ['add #1\nsub x\nmul %x\ndiv #3\nmod x\nand #0xff\nor #1\nxor x\nlsh #2\nrsh %x\nneg\ntax\ntxa', [alu(BPF_ADD, 1), alu(BPF_SUB), alu(BPF_MUL), alu(BPF_DIV, 3), alu(BPF_MOD), alu(BPF_AND, 0xff), alu(BPF_OR, 1), alu(BPF_XOR), alu(BPF_LSH, 2), alu(BPF_RSH), cinsn(OP.NEG), cinsn(OP.TAX), cinsn(OP.TXA)]],
  ['ret #0x7fff0000\nret a\nret %a\nret x\nret ERRNO(13)\nRET KILL_PROCESS\nret #trace(2)', [RET_ALLOW, cinsn(OP.RET_A), cinsn(OP.RET_A), cinsn(BPF_RET | BPF_X), cinsn(OP.RET_K, SECCOMP_RET_ERRNO | 13), cinsn(OP.RET_K, 0x80000000), cinsn(OP.RET_K, 0x7ff00002)]],
  // Labels, `next`, numeric offsets, one-target and negated forms.
  ['jeq #1, a, b\njeq #2, 1, 0\njne #3, b\njlt x, a, b\njle #4, b\nja a\na: jgt #5, next\nb: jset #6, next, 0\nret #0',
    [cinsn(OP.JEQ_K, 1, 5, 6), cinsn(OP.JEQ_K, 2, 1, 0), cinsn(OP.JEQ_K, 3, 0, 4), cinsn(OP.JGE_X, 0, 3, 2), cinsn(OP.JGT_K, 4, 0, 2), cinsn(OP.JA, 0), cinsn(OP.JGT_K, 5, 0, 0), cinsn(OP.JSET_K, 6, 0, 0), cinsn(OP.RET_K, 0)]],
  ['/* block\n comment */ ld [0] ; trailing\n// line\n  l1: l2: .raw 0x15, 0, 1, 39\nret #0\nret #1', [cinsn(OP.LD_ABS, 0), cinsn(OP.JEQ_K, 39, 0, 1), cinsn(OP.RET_K, 0), cinsn(OP.RET_K, 1)]],
  // seccomp-tools syntax.
  ['A = sys_number\nA = arch\nA = instruction_pointer >> 32\nA = args[5] >> 32\nA = data[8]\nA = 0x40000000\nX = 3\nA = X\nX = A\nA = len\nX = len',
    [cinsn(OP.LD_ABS, 0), cinsn(OP.LD_ABS, 4), cinsn(OP.LD_ABS, 12), cinsn(OP.LD_ABS, 60), cinsn(OP.LD_ABS, 8), cinsn(OP.LD_IMM, 0x40000000), cinsn(OP.LDX_IMM, 3), cinsn(OP.TXA), cinsn(OP.TAX), cinsn(OP.LD_LEN), cinsn(OP.LDX_LEN)]],
  ['mem[2] = A\nmem[3] = X\nA = mem[2]\nX = mem[3]\nA += 1\nA -= X\nA *= 2\nA /= X\nA &= 0xf\nA |= X\nA ^= 1\nA <<= 3\nA >>= X\nA = -A',
    [cinsn(OP.ST, 2), cinsn(OP.STX, 3), cinsn(OP.LD_MEM, 2), cinsn(OP.LDX_MEM, 3), alu(BPF_ADD, 1), alu(BPF_SUB), alu(BPF_MUL, 2), alu(BPF_DIV), alu(BPF_AND, 15), alu(BPF_OR), alu(BPF_XOR, 1), alu(BPF_LSH, 3), alu(BPF_RSH), cinsn(OP.NEG)]],
  ['if (A == getpid) goto 0002\nif (A != ARCH_X86_64) goto 0003 else goto 0004\nif (A > 5) goto 0004\nif (A <= X) goto 0005\nif (!(A & 4)) goto ok\nok: return ALLOW',
    [cinsn(OP.JEQ_K, 39, 1, 0), cinsn(OP.JEQ_K, 0xc000003e, 2, 1), cinsn(OP.JGT_K, 5, 1, 0), cinsn(BPF_JMP | BPF_JGT | BPF_X, 0, 0, 1), cinsn(OP.JSET_K, 4, 0, 0), RET_ALLOW]],
  ['# seccomp-tools asm\nA = sys_number\nA >= 0x40000000 ? dead : next\nA == execve ? ok : next\nA & X ? ok : dead\nok:\nreturn ALLOW\ndead:\nreturn KILL',
    [cinsn(OP.LD_ABS, 0), cinsn(OP.JGE_K, 0x40000000, 3, 0), cinsn(OP.JEQ_K, 59, 1, 0), cinsn(OP.JSET_X, 0, 0, 1), RET_ALLOW, cinsn(OP.RET_K, 0)]],
  ['goto 0002\nreturn A\nreturn ERRNO(1)\nreturn TRAP\nreturn 0x7ffc0000', [cinsn(OP.JA, 1), cinsn(OP.RET_A), cinsn(OP.RET_K, SECCOMP_RET_ERRNO | 1), cinsn(OP.RET_K, SECCOMP_RET_TRAP), cinsn(OP.RET_K, 0x7ffc0000)]],
];

test('assembler: bpf_asm and seccomp-tools statements', () => {
  for (const [text, want] of ASM_CASES) assert.deepEqual(assembleClassic(text), want, text);
});

test('assembler: seccomp-tools disasm output is read from its raw columns', () => {
  // As `seccomp-tools dump -f disasm` prints it (its README's example, abridged).
  const dump = ` line  CODE  JT   JF      K
=================================
 0000: 0x20 0x00 0x00 0x00000004  A = arch
 0001: 0x15 0x00 0x05 0xc000003e  if (A != ARCH_X86_64) goto 0007
 0002: 0x20 0x00 0x00 0x00000000  A = sys_number
 0003: 0x35 0x00 0x01 0x40000000  if (A < 0x40000000) goto 0005
 0004: 0x15 0x00 0x02 0xffffffff  if (A != 0xffffffff) goto 0007
 0005: 0x15 0x01 0x00 0x0000003b  if (A == execve) goto 0007
 0006: 0x06 0x00 0x00 0x7fff0000  return ALLOW
 0007: 0x06 0x00 0x00 0x00000000  return KILL
`;
  const f = assembleClassic(dump);
  assert.equal(f.length, 8);
  // The statements alone (without the columns) give the same program.
  const statements = dump.split('\n').slice(2).map((l) => l.slice(34)).join('\n');
  assert.deepEqual(assembleClassic(statements), f);
  assert.equal(runClassic(f, seccompData({ nr: 59 })), 0);
  assert.equal(runClassic(f, seccompData({ nr: 0x40000001 })), 0);
  assert.equal(runClassic(f, seccompData({ nr: 1 })), SECCOMP_RET_ALLOW);
});

test('assembler: errors name the line and column', () => {
  const at = (text: string, code: string, line: number, column?: number) =>
    assert.throws(() => assembleClassic(text, { file: 'f.bpf' }), (e: unknown) => {
      const loc = (e as { location?: { line?: number; column?: number; file?: string } }).location;
      return hasCode(e, code) && loc?.line === line && (column === undefined || loc.column === column) && loc.file === 'f.bpf';
    }, text);
  at('ld [4]\nfoo #1', 'ERR_CBPF_ASM_SYNTAX', 2, 1);
  at('ld [4]\nld #0x1ffffffff', 'ERR_CBPF_ASM_SYNTAX', 2, 5);
  at('ret #0\nld [4', 'ERR_CBPF_ASM_SYNTAX', 2);
  at('add #1 2', 'ERR_CBPF_ASM_SYNTAX', 1, 8);
  at('A = args[6]', 'ERR_CBPF_ASM_SYNTAX', 1, 10);
  at('if (A == nosuchcall) goto 1', 'ERR_CBPF_ASM_SYNTAX', 1, 10);
  at('ret ERRNO(65536)', 'ERR_CBPF_ASM_SYNTAX', 1, 11);
  at('ld [0]\n/* open', 'ERR_CBPF_ASM_SYNTAX', 2);
  at('jeq #1, nowhere\nret #0', 'ERR_CBPF_ASM_LABEL', 1, 9);
  at('a: ret #0\na: ret #1', 'ERR_CBPF_ASM_LABEL', 2, 1);
  at('a: ld [0]\nja a\nret #0', 'ERR_CBPF_ASM_LABEL', 2, 4);
  at('jeq #1, 5, 0\nret #0', 'ERR_CBPF_ASM_LABEL', 1, 9);
  at('jeq #1, end\nret #0\nend:', 'ERR_CBPF_ASM_LABEL', 1, 9);
  at(['jeq #1, far', ...Array(300).fill('ld #0'), 'far: ret #0'].join('\n'), 'ERR_CBPF_JUMP_RANGE', 1);
  assert.throws(() => assembleClassic('ret #0', { trampoline: true } as never), TypeError);
});

/** Interprets builder-level items directly (targets are item indices), the reference for build(). */
type Item = { ins: CInsn; t?: number; f?: number };
function runItems(items: Item[], data: Uint8Array): number {
  // Same semantics as runClassic, but jumps go to item indices: rebuild with exact offsets
  // when they all fit, else walk the items.
  let a = 0, x = 0, pc = 0;
  const mem = new Uint32Array(16);
  const dv = new DataView(data.buffer, data.byteOffset, 64);
  for (;;) {
    const { ins, t, f } = items[pc]!;
    const k = ins.k >>> 0;
    if (ins.code === OP.RET_K) return k;
    if (ins.code === OP.RET_A) return a;
    if (ins.code === OP.JA) { pc = t!; continue; }
    if (t !== undefined) {
      const v = (ins.code & BPF_X) ? x : k;
      const op = ins.code & 0xf0;
      const c = op === 0x10 ? a === v : op === BPF_JGT ? a > v : op === 0x30 ? a >= v : (a & v) !== 0;
      pc = c ? t : f!;
      continue;
    }
    switch (ins.code) {
      case OP.LD_ABS: a = dv.getUint32(k, true); break;
      case OP.LD_IMM: a = k; break;
      case OP.LDX_IMM: x = k; break;
      case OP.ST: mem[k] = a; break;
      case OP.LD_MEM: a = mem[k]!; break;
      case BPF_ALU | BPF_ADD | BPF_K: a = (a + k) >>> 0; break;
      case OP.TAX: x = a; break;
      default: throw new Error(`runItems: 0x${ins.code.toString(16)}`);
    }
    pc++;
  }
}

test('builder: long conditional jumps are lowered through trampolines, never truncated', () => {
  const r = rng(77);
  let lowered = 0;
  for (let iter = 0; iter < 300; iter++) {
    const n = 20 + below(r, 700);
    const items: Item[] = [];
    const retAt = new Set<number>();
    for (let i = 0; i < n - 1; i++) {
      const w = below(r, 10);
      const fwd = (): number => i + 1 + (below(r, 3) === 0 ? below(r, n - i - 1) : below(r, Math.min(8, n - i - 1)));
      if (w < 4) items.push({ ins: cinsn(pick(r, [OP.JEQ_K, OP.JGT_K, OP.JSET_K, OP.JGE_X]), pick(r, [0, 1, 39, 110, r()])), t: fwd(), f: fwd() });
      else if (w < 5) items.push({ ins: cinsn(OP.JA), t: fwd() });
      else if (w < 6) { items.push({ ins: cinsn(OP.RET_K, r()) }); retAt.add(i); } else if (w < 7) items.push({ ins: cinsn(OP.LD_ABS, pick(r, [0, 16, 20])) });
      else if (w < 8) items.push({ ins: cinsn(OP.TAX) });
      else items.push({ ins: alu(BPF_ADD, below(r, 5)) });
    }
    items.push({ ins: cinsn(OP.RET_A) });
    const build = (trampolines: boolean): CInsn[] => {
      const b = new ClassicBuilder({ trampolines });
      items.forEach(({ ins, t, f }) => {
        if (ins.code === OP.JA) b.ja(t!);
        else if (t !== undefined) b.jump(ins.code, ins.k, t, f!);
        else b.emit(ins);
      });
      return b.build();
    };
    const far = items.some(({ ins, t, f }, i) => ins.code !== OP.JA && t !== undefined && (t - i - 1 > 255 || f! - i - 1 > 255));
    const out = build(true);
    checkClassic(out);
    if (far) {
      lowered++;
      assert.ok(out.length > n);
      assert.throws(() => build(false), { code: 'ERR_CBPF_JUMP_RANGE' });
    } else {
      assert.equal(out.length, n);
      assert.deepEqual(build(false), out);
    }
    const prog = compileClassic(out);
    for (let j = 0; j < 20; j++) {
      const data = seccompData({ nr: pick(r, [0, 1, 39, 110]), args: [r(), randomArg(r, [0, 1, 39, 110])] });
      assert.equal(prog.run(data), runItems(items, data), `iteration ${iter}`);
    }
  }
  assert.ok(lowered > 50, `only ${lowered} programs needed trampolines`);
});

test('builder: label errors', () => {
  assert.throws(() => new ClassicBuilder().ja('x').ret(0).build(), { code: 'ERR_CBPF_BUILD_LABEL' });
  assert.throws(() => new ClassicBuilder().label('x').label('x'), { code: 'ERR_CBPF_BUILD_LABEL' });
  assert.throws(() => new ClassicBuilder().label('x').ret(0).ja('x').ret(0).build(), { code: 'ERR_CBPF_BUILD_LABEL' });
  assert.throws(() => new ClassicBuilder().jump(OP.JEQ_K, 0, null, 'end').ret(0).label('end').build(), { code: 'ERR_CBPF_BUILD_LABEL' });
  assert.throws(() => new ClassicBuilder().emit(cinsn(OP.JA)), { code: 'ERR_CBPF_BUILD' });
  assert.throws(() => new ClassicBuilder().jump(OP.LD_IMM, 0, null, null), { code: 'ERR_CBPF_BUILD' });
  assert.deepEqual(new ClassicBuilder().jump(BPF_JMP | BPF_JSET | BPF_K, 1, 'a', null).ret(0).label('a').ret(1).build(),
    [cinsn(OP.JSET_K, 1, 1, 0), cinsn(OP.RET_K, 0), cinsn(OP.RET_K, 1)]);
});

test('to-ebpf: converted programs give runClassic\'s verdict in the eBPF interpreter, reading whole context fields only', () => {
  const host = simulatedHost();
  const task = simulatedTask();
  const r = rng(4242);
  let runs = 0;
  const fields = new Set<string>();
  for (let i = 0; i < 1500; i++) {
    const pool = valuePool(r);
    const f = randomValidFilter(r, { pool });
    const e = classicToEbpf(f);
    for (const [pc, s] of e.entries()) {
      const d = decodeInstruction(e, pc);
      assert.ok(d.ok, `slot ${pc} decodes`);
      if (s.src === 6 && d.insn.kind === 'load') {
        const ok = (d.insn.size === 4 && (s.off === 0 || s.off === 4)) || (d.insn.size === 8 && s.off >= 8 && s.off <= 56 && s.off % 8 === 0);
        assert.ok(ok, `ctx read of ${d.insn.size} bytes at ${s.off}`);
        fields.add(`${d.insn.size}@${s.off}`);
      }
    }
    const vm = createVm(e, { maps: [], helpers: new Map(), host });
    const prog = compileClassic(f);
    for (let j = 0; j < 4; j++) {
      const data = seccompData({ nr: pick(r, PROBE_NRS), instructionPointer: randomArg(r, pool), args: Array.from({ length: 6 }, () => randomArg(r, pool)) });
      const want = prog.run(data);
      assert.equal(vm.run(data, task), BigInt(want), `filter ${i}:\n${disassembleClassic(f)}`);
      runs++;
    }
  }
  assert.equal(runs, 6000);
  assert.ok(fields.size >= 8, `context fields read: ${[...fields].join(' ')}`);
  // Unreachable classic code is left out; division by X == 0 exits with 0.
  const e = classicToEbpf([cinsn(OP.JA, 1), cinsn(OP.LD_MEM, 0), cinsn(OP.LDX_IMM, 0), alu(BPF_DIV), RET_ALLOW]);
  assert.equal(e.filter((s) => s.code === 0x61 && s.src === 10).length, 0);
  assert.equal(createVm(e, { maps: [], helpers: new Map(), host }).run(seccompData(), task), 0n);
});

test('fuzz: any text, bytes or program gives a result or a SeccompEbpfError, nothing else', () => {
  const r = rng(99);
  const words = ['ld', 'ldx', 'ldh', 'st', 'jeq', 'jne', 'ja', 'ret', 'add', 'A', 'X', '=', '==', '#', '[', ']', '(', ')', ',', ':',
    'x', '%', 'M', 'mem', 'args', '>>', '32', '0x10', '-', '99999999999', 'if', 'goto', 'else', 'return', 'ALLOW', 'ERRNO',
    'lbl', 'lbl:', 'next', '?', '/*', '*/', ';', '\n', '.raw', '4', '*', '&', '0xf', 'len', 'getpid', 'ARCH_X86_64', '!', '0b2'];
  const ours = (f: () => unknown): void => {
    try { f(); } catch (e) { if (!(e instanceof SeccompEbpfError)) throw e; }
  };
  for (let i = 0; i < 3000; i++) {
    const text = Array.from({ length: 1 + below(r, 14) }, () => pick(r, words)).join(pick(r, [' ', '', '\n']));
    ours(() => assembleClassic(text, { trampolines: below(r, 2) === 0 }));
    const bytes = Uint8Array.from({ length: 8 * below(r, 6) + (below(r, 8) === 0 ? 3 : 0) }, () => r() & 0xff);
    ours(() => {
      const f = decodeClassic(bytes);
      assert.deepEqual(assembleClassic(disassembleClassic(f, { seccomp: true })), f);
      ours(() => runClassic(f, seccompData()));
      ours(() => classicToEbpf(f));
    });
  }
});

test('builder: constants are checked, not wrapped', () => {
  assert.throws(() => new ClassicBuilder().ret(2 ** 32), { code: 'ERR_CBPF_FIELD' });
  assert.throws(() => new ClassicBuilder().jump(OP.JEQ_K, 2 ** 33, null, null), { code: 'ERR_CBPF_FIELD' });
  assert.deepEqual(new ClassicBuilder().ldImm(-1).retA().build(), [cinsn(OP.LD_IMM, 0xffffffff), cinsn(OP.RET_A)]);
});
