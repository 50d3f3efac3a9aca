/**
 * @module scripts/split-equivalence
 * The split's equivalence property: for generated seccomp-shaped eBPF programs and generated
 * syscalls, running (a) the split's classic-BPF filter (cbpf interpreter), then the whole eBPF
 * program compiled by the JIT where the filter says USER_NOTIF, as the supervisor does, and (b)
 * the eBPF program in the reference interpreter alone, each with its own copy of the maps, gives the same verdict for every
 * syscall of a sequence and the same map contents at the end.
 *
 * Programs: an optional arch check, a dispatch on nr (constants, ranges, the x32 bit, a .rodata
 * number), and bodies that nest argument tests (64-bit and 32-bit, every jump op, against
 * constants or another argument) on expressions clang emits (loads of whole args or halves or
 * bytes, masks, shifts, sign extensions, + c, products, spills to the stack, a subprogram),
 * verdicts (constant, LOG, USER_NOTIF, computed from an argument, 64-bit r0), counters in .bss,
 * state written from arguments, and map lookups through helpers. Syscalls: numbers and
 * arguments around the program's own constants and at 2^31 / 2^32 / 2^63 boundaries.
 *
 * Used by test/split-equivalence.test.ts (bounded); the long run:
 *   node --import tsx scripts/split-equivalence.ts --count 100000 [--seed S] [--jobs N]
 */
import { fork } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import {
  BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ARSH, BPF_ATOMIC, BPF_CALL, BPF_DIV, BPF_DW, BPF_END, BPF_EXIT, BPF_FETCH,
  BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JMP, BPF_JMP32, BPF_JNE, BPF_JSET, BPF_JSGE, BPF_JSGT,
  BPF_JSLE, BPF_JSLT, BPF_K, BPF_LD, BPF_LDX, BPF_LSH, BPF_MAP_TYPE_ARRAY, BPF_MEM, BPF_MEMSX, BPF_MOD, BPF_MOV,
  BPF_MUL, BPF_NEG, BPF_OR, BPF_PSEUDO_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_RSH, BPF_STX, BPF_SUB,
  BPF_W, BPF_X, BPF_XOR, BPF_B, BPF_H, BPF_IMM, BPF_ST, BPF_XCHG, BPF_CMPXCHG,
} from '../src/abi/bpf.js';
import {
  AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG, SECCOMP_RET_TRACE, SECCOMP_RET_TRAP,
  SECCOMP_RET_USER_NOTIF,
} from '../src/abi/seccomp.js';
import { compileClassic } from '../src/cbpf/interpreter.js';
import { seccompData } from '../src/cbpf/data.js';
import type { Insn } from '../src/ebpf/insn.js';
import { createHelpers } from '../src/ebpf/helpers/index.js';
import { createMap, type LiveMap } from '../src/ebpf/maps/create.js';
import type { MapSpec } from '../src/ebpf/maps/types.js';
import { createVm } from '../src/ebpf/vm/interpreter.js';
import { compileVm } from '../src/ebpf/vm/jit/index.js';
import { simulatedHost, simulatedTask } from '../src/ebpf/vm/simulated.js';
import { splitProgram } from '../src/split/split.js';
import { Rng } from '../test/helpers/progen.js';

// Random numbers: test/helpers/progen's splitmix32 (a number seed is the initial state).
export { Rng };

// ---------------------------------------------------------------------------------------------
// A tiny eBPF assembler with labels
// ---------------------------------------------------------------------------------------------

const ins = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm: imm | 0 });

class Asm {
  readonly insns: Insn[] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: { at: number; label: string; call: boolean }[] = [];
  private n = 0;
  fresh(): string { return `L${this.n++}`; }
  emit(...xs: Insn[]): void { this.insns.push(...xs); }
  label(l: string): void { this.labels.set(l, this.insns.length); }
  /** A jump (JA or conditional) to `label`. */
  jump(i: Insn, label: string): void {
    this.fixups.push({ at: this.insns.length, label, call: false });
    this.insns.push(i);
  }
  call(label: string): void {
    this.fixups.push({ at: this.insns.length, label, call: true });
    this.insns.push(ins(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 0));
  }
  build(): Insn[] {
    for (const f of this.fixups) {
      const rel = this.labels.get(f.label)! - f.at - 1;
      if (f.call) this.insns[f.at] = { ...this.insns[f.at]!, imm: rel };
      else this.insns[f.at] = { ...this.insns[f.at]!, off: rel };
    }
    return this.insns;
  }
}

const lddw = (dst: number, v: bigint, src = 0, second?: number): Insn[] => {
  const u = BigInt.asUintN(64, v);
  return [ins(BPF_LD | BPF_IMM | BPF_DW, dst, src, 0, Number(BigInt.asIntN(32, u & 0xffff_ffffn))),
    ins(0, 0, 0, 0, second ?? Number(BigInt.asIntN(32, u >> 32n)))];
};
const mapValue = (dst: number, map: number, off: number): Insn[] => [
  ins(BPF_LD | BPF_IMM | BPF_DW, dst, BPF_PSEUDO_MAP_VALUE, 0, map), ins(0, 0, 0, 0, off)];
const mapFd = (dst: number, map: number): Insn[] => [ins(BPF_LD | BPF_IMM | BPF_DW, dst, BPF_PSEUDO_MAP_FD, 0, map), ins(0)];
const SZ: Record<number, number> = { 1: BPF_B, 2: BPF_H, 4: BPF_W, 8: BPF_DW };

// ---------------------------------------------------------------------------------------------
// Program generator
// ---------------------------------------------------------------------------------------------

/** Map indices of generated programs. */
const BSS = 0, RODATA = 1, ARR = 2;
export const MAP_SPECS: readonly MapSpec[] = [
  { name: '.bss', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 16, maxEntries: 1, flags: 0x400 },
  { name: '.rodata', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 16, maxEntries: 1, flags: 0x480, readOnly: true },
  { name: 'arr', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0 },
];

export interface GeneratedCase {
  insns: Insn[];
  /** Initial .rodata value. */
  rodata: Uint8Array;
  /** Constants the program compares with (for input generation). */
  nrs: number[];
  consts: bigint[];
}

const JOPS = [BPF_JEQ, BPF_JNE, BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSET, BPF_JSGT, BPF_JSGE, BPF_JSLT, BPF_JSLE];
const EDGES: readonly bigint[] = [
  0n, 1n, 2n, 0x7fn, 0x80n, 0xffn, 0xfffn, 0x1000n, 0x7fff_ffffn, 0x8000_0000n, 0xffff_ffffn, 0x1_0000_0000n,
  0x1_0000_0001n, 0x7fff_ffff_ffff_ffffn, 0x8000_0000_0000_0000n, 0xffff_ffff_ffff_ffffn, 0xffff_ffff_8000_0000n,
  0xffff_ffff_ffff_fffen, 999n, 64n, 0o100n,
];
const VERDICTS = [
  SECCOMP_RET_ALLOW, SECCOMP_RET_ALLOW, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | 1, SECCOMP_RET_ERRNO | 13, SECCOMP_RET_ERRNO | 5000,
  SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP | 7, SECCOMP_RET_TRACE | 3, SECCOMP_RET_LOG,
  SECCOMP_RET_USER_NOTIF, 0x1234_5678,
];

class Gen {
  readonly a = new Asm();
  readonly nrs: number[] = [];
  readonly consts: bigint[] = [];
  private subs: { label: string; op: number; k: number }[] = [];
  constructor(private readonly r: Rng) {}

  constant(): bigint {
    const r = this.r;
    const c = r.chance(0.6) ? r.pick(EDGES) : r.chance(0.5) ? BigInt(r.int(5000)) : r.u64();
    const v = r.chance(0.2) ? BigInt.asUintN(64, -c) : c;
    this.consts.push(v);
    return v;
  }

  imm32(): number {
    const v = Number(BigInt.asIntN(32, this.constant()));
    this.consts.push(BigInt.asUintN(64, BigInt(v)), BigInt(v >>> 0));
    return v;
  }

  verdict(): void {
    const { a, r } = this;
    const k = r.pick(VERDICTS);
    if (r.chance(0.03)) { // r0 as it is (maybe never set)
      a.emit(ins(BPF_JMP | BPF_EXIT));
      return;
    }
    if (r.chance(0.1)) a.emit(...lddw(0, (BigInt(r.u32()) << 32n) | BigInt(k >>> 0)));
    else a.emit(ins(BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, k));
    a.emit(ins(BPF_JMP | BPF_EXIT));
  }

  /** r<dst> = an expression of the syscall's data. */
  expr(dst: number): void {
    const { a, r } = this;
    const arg = 16 + 8 * r.int(6);
    switch (r.int(9)) {
      case 0: case 1: case 2: a.emit(ins(BPF_LDX | BPF_MEM | BPF_DW, dst, 6, arg)); break;
      case 3: a.emit(ins(BPF_LDX | BPF_MEM | BPF_W, dst, 6, arg + (r.chance(0.5) ? 4 : 0))); break;
      case 4: a.emit(ins(BPF_LDX | BPF_MEM | SZ[r.pick([1, 2])]!, dst, 6, arg + r.int(7))); break;
      case 5: a.emit(ins(BPF_LDX | BPF_MEMSX | SZ[r.pick([1, 2, 4])]!, dst, 6, arg)); break;
      case 6: a.emit(ins(BPF_LDX | BPF_MEM | BPF_DW, dst, 6, 8)); break; // instruction_pointer
      case 7: a.emit(ins(BPF_ALU64 | BPF_MOV | BPF_X, dst, 7)); break; // nr
      default: a.emit(ins(BPF_LDX | BPF_MEM | BPF_W, dst, 6, arg + 1)); break; // unaligned
    }
    for (let n = r.int(4); n > 0; n--) this.op(dst);
  }

  private op(dst: number): void {
    const { a, r } = this;
    const cls = r.chance(0.7) ? BPF_ALU64 : BPF_ALU;
    switch (r.int(14)) {
      case 0: a.emit(ins(cls | BPF_AND | BPF_K, dst, 0, 0, r.pick([0xff, 0xffff, 0o100, 0x40000000, -1, 0x7fffffff, -0x100, this.imm32()]))); break;
      case 1: a.emit(ins(cls | BPF_ADD | BPF_K, dst, 0, 0, r.pick([1, -1, 0x1000, -165, this.imm32()]))); break;
      case 2: a.emit(ins(cls | r.pick([BPF_LSH, BPF_RSH, BPF_ARSH]) | BPF_K, dst, 0, 0, r.int(cls === BPF_ALU64 ? 64 : 32))); break;
      case 3: // (s64)(s32)x, as clang writes it without movsx
        a.emit(ins(BPF_ALU64 | BPF_LSH | BPF_K, dst, 0, 0, 32), ins(BPF_ALU64 | BPF_ARSH | BPF_K, dst, 0, 0, 32));
        break;
      case 4: a.emit(ins(cls | BPF_MOV | BPF_X, dst, dst, r.pick(cls === BPF_ALU64 ? [8, 16, 32] : [8, 16]))); break;
      case 5: {
        const op = r.pick([BPF_MUL, BPF_DIV, BPF_MOD]);
        a.emit(ins(cls | op | BPF_K, dst, 0, op !== BPF_MUL && r.chance(0.1) ? 1 : 0, r.pick([0, 1, 2, 4, 3, 10, 4096, -1])));
        break;
      }
      case 6: a.emit(ins(cls | r.pick([BPF_XOR, BPF_OR, BPF_SUB]) | BPF_K, dst, 0, 0, this.imm32())); break;
      case 7: a.emit(ins(cls | BPF_NEG, dst)); break;
      case 8: a.emit(ins(r.pick([BPF_ALU64 | BPF_END, BPF_ALU | BPF_END | BPF_X, BPF_ALU | BPF_END]), dst, 0, 0, r.pick([16, 32, 64]))); break;
      case 9: { // another argument combined in
        const o = r.pick([8, 9]) === dst ? 9 : 8;
        const other = o === dst ? (dst === 8 ? 9 : 8) : o;
        a.emit(ins(BPF_LDX | BPF_MEM | BPF_DW, other, 6, 16 + 8 * r.int(6)));
        a.emit(ins(cls | r.pick([BPF_ADD, BPF_SUB, BPF_AND, BPF_OR, BPF_XOR, BPF_MUL, BPF_LSH, BPF_RSH, BPF_DIV]) | BPF_X, dst, other));
        break;
      }
      case 10: { // spill and reload (maybe a part)
        const size = r.pick([1, 2, 4, 8]);
        a.emit(ins(BPF_STX | BPF_MEM | BPF_DW, 10, dst, -16));
        if (r.chance(0.3)) a.emit(ins(BPF_ST | BPF_MEM | BPF_B, 10, 0, -16 + r.int(8), r.int(256)));
        a.emit(ins(BPF_LDX | BPF_MEM | SZ[size]!, dst, 10, -16 + r.int(9 - size)));
        break;
      }
      case 12: { // an atomic operation on a stack slot
        const size = r.pick([4, 8]);
        const op = r.pick([BPF_ADD, BPF_ADD | BPF_FETCH, BPF_OR, BPF_XOR | BPF_FETCH, BPF_AND, BPF_XCHG, BPF_CMPXCHG]);
        a.emit(ins(BPF_STX | BPF_MEM | BPF_DW, 10, dst, -24), ins(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, r.pick([1, 0xff, -1])));
        a.emit(ins(BPF_STX | BPF_ATOMIC | SZ[size]!, 10, 1, -24, op));
        a.emit(ins(BPF_LDX | BPF_MEM | SZ[size]!, dst, 10, -24));
        // r1 holds the constant or the fetched old value; r0 holds a value only after CMPXCHG
        // (before, it may be a map value pointer, whose address must not reach a verdict: the
        // kernel rejects that, and the two VMs place map values at different addresses).
        if (r.chance(0.5)) a.emit(ins(BPF_ALU64 | BPF_ADD | BPF_X, dst, op === BPF_CMPXCHG ? r.pick([0, 1]) : 1));
        break;
      }
      case 13: { // a small counted loop: dst = dst * n (by repeated addition)
        const loop = a.fresh();
        a.emit(ins(BPF_ALU64 | BPF_MOV | BPF_X, 9, dst), ins(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, 1 + r.int(3)));
        a.label(loop);
        a.emit(ins(BPF_ALU64 | BPF_ADD | BPF_X, dst, 9), ins(BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, -1));
        a.emit(ins(BPF_JMP | BPF_JNE | BPF_K, 1, 0, -3, 0));
        break;
      }
      default: { // through a subprogram
        const sub = { label: a.fresh(), op: r.pick([BPF_ADD, BPF_AND, BPF_XOR, BPF_RSH]), k: r.pick([1, 0xff, 3, 7]) };
        this.subs.push(sub);
        a.emit(ins(BPF_ALU64 | BPF_MOV | BPF_X, 1, dst));
        a.call(sub.label);
        a.emit(ins(BPF_ALU64 | BPF_MOV | BPF_X, dst, 0));
      }
    }
  }

  body(depth: number): void {
    const { a, r } = this;
    const c = depth <= 0 ? 0 : r.int(10);
    if (c <= 2) return this.verdict();
    if (c <= 6) { // if (expr OP k) {...} else {...}
      this.expr(8);
      const j32 = r.chance(0.3);
      const op = r.pick(JOPS);
      const other = a.fresh();
      if (r.chance(0.25)) {
        this.expr(9);
        a.jump(ins((j32 ? BPF_JMP32 : BPF_JMP) | op | BPF_X, 8, 9), other);
      } else if (!j32 && r.chance(0.4)) {
        a.emit(...lddw(9, this.constant()));
        a.jump(ins(BPF_JMP | op | BPF_X, 8, 9), other);
      } else {
        a.jump(ins((j32 ? BPF_JMP32 : BPF_JMP) | op | BPF_K, 8, 0, 0, this.imm32()), other);
      }
      this.body(depth - 1);
      a.label(other);
      this.body(depth - 1);
      return;
    }
    if (c === 7) { // a verdict computed from an argument
      this.expr(8);
      a.emit(ins(BPF_ALU64 | BPF_MOV | BPF_X, 0, 8));
      if (r.chance(0.7)) a.emit(ins(BPF_ALU | BPF_AND | BPF_K, 0, 0, 0, 0xff), ins(BPF_ALU | BPF_OR | BPF_K, 0, 0, 0, r.pick([SECCOMP_RET_ERRNO, SECCOMP_RET_TRAP])));
      a.emit(ins(BPF_JMP | BPF_EXIT));
      return;
    }
    if (c === 8) { // state: a counter in .bss, or an argument stored into it
      const other = a.fresh();
      a.emit(...mapValue(2, BSS, r.pick([0, 8])));
      if (r.chance(0.5)) {
        a.emit(ins(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, 1), ins(BPF_STX | BPF_ATOMIC | BPF_DW, 2, 1, 0, BPF_ADD | BPF_FETCH));
        a.emit(...mapValue(3, RODATA, 0), ins(BPF_LDX | BPF_MEM | BPF_DW, 3, 3, 0));
        a.jump(ins(BPF_JMP | r.pick([BPF_JLT, BPF_JEQ, BPF_JGT]) | BPF_X, 1, 3), other);
      } else if (r.chance(0.5)) {
        this.expr(8);
        a.emit(ins(BPF_STX | BPF_MEM | BPF_DW, 2, 8, 0));
        a.jump(ins(BPF_JMP | BPF_JA), other);
      } else {
        a.emit(ins(BPF_LDX | BPF_MEM | BPF_W, 1, 2, 0));
        a.jump(ins(BPF_JMP32 | BPF_JSET | BPF_K, 1, 0, 0, 1), other);
      }
      this.body(depth - 1);
      a.label(other);
      this.body(depth - 1);
      return;
    }
    // a helper: count into arr[nr & 3]
    const nul = a.fresh();
    a.emit(ins(BPF_ALU | BPF_MOV | BPF_X, 1, 7), ins(BPF_ALU | BPF_AND | BPF_K, 1, 0, 0, 3), ins(BPF_STX | BPF_MEM | BPF_W, 10, 1, -4));
    a.emit(ins(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10), ins(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -4), ...mapFd(1, ARR));
    a.emit(ins(BPF_JMP | BPF_CALL, 0, 0, 0, 1));
    a.jump(ins(BPF_JMP | BPF_JEQ | BPF_K, 0), nul);
    a.emit(ins(BPF_LDX | BPF_MEM | BPF_DW, 1, 0, 0), ins(BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, 1), ins(BPF_STX | BPF_MEM | BPF_DW, 0, 1, 0));
    a.jump(ins(BPF_JMP | BPF_JGT | BPF_K, 1, 0, 0, 2), nul);
    this.body(depth - 1);
    a.label(nul);
    this.body(depth - 1);
  }

  program(): Insn[] {
    const { a, r } = this;
    a.emit(ins(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1));
    if (r.chance(0.7)) {
      const foreign = a.fresh();
      a.emit(ins(BPF_LDX | BPF_MEM | BPF_W, 2, 6, 4));
      a.jump(ins(BPF_JMP32 | BPF_JNE | BPF_K, 2, 0, 0, AUDIT_ARCH_X86_64 | 0), foreign);
      const rest = a.fresh();
      a.jump(ins(BPF_JMP | BPF_JA), rest);
      a.label(foreign);
      if (r.chance(0.8)) this.verdict();
      else this.body(1);
      a.label(rest);
    }
    a.emit(ins(BPF_LDX | BPF_MEM | BPF_W, 7, 6, 0));
    const cases: string[] = [];
    for (let n = 1 + r.int(5); n > 0; n--) {
      const l = a.fresh();
      cases.push(l);
      const nr = r.chance(0.8) ? r.int(40) : r.pick([59, 322, 469, 470, 0x4000_0000 + r.int(40), 0xffff_ffff]);
      this.nrs.push(nr);
      switch (r.int(6)) {
        case 0: a.jump(ins(BPF_JMP32 | BPF_JGT | BPF_K, 7, 0, 0, nr | 0), l); break;
        case 5: { // clang's switch as a bit test: (1 << (nr - base)) & mask
          const skip = a.fresh();
          const base = nr & 0xffff;
          a.emit(ins(BPF_ALU | BPF_MOV | BPF_X, 2, 7), ins(BPF_ALU | BPF_ADD | BPF_K, 2, 0, 0, -base));
          a.jump(ins(BPF_JMP32 | BPF_JGT | BPF_K, 2, 0, 0, 11), skip);
          a.emit(ins(BPF_ALU | BPF_MOV | BPF_K, 3, 0, 0, 1), ins(BPF_ALU | BPF_LSH | BPF_X, 3, 2), ins(BPF_ALU | BPF_AND | BPF_K, 3, 0, 0, r.u32() & 0xfff));
          a.jump(ins(BPF_JMP32 | BPF_JNE | BPF_K, 3, 0, 0, 0), l);
          a.label(skip);
          for (let k = 0; k < 12; k++) this.nrs.push(base + k);
          break;
        }
        case 1: a.jump(ins(BPF_JMP32 | BPF_JSET | BPF_K, 7, 0, 0, 0x4000_0000), l); break;
        case 2: // compare with a .rodata number (like fault-inject's NR)
          a.emit(...mapValue(3, RODATA, 8), ins(BPF_LDX | BPF_MEM | BPF_W, 3, 3, 0));
          a.jump(ins(BPF_JMP32 | BPF_JEQ | BPF_X, 7, 3), l);
          break;
        default: a.jump(ins(BPF_JMP32 | BPF_JEQ | BPF_K, 7, 0, 0, nr | 0), l);
      }
    }
    this.body(2);
    for (const l of cases) {
      a.label(l);
      this.body(1 + r.int(3));
    }
    for (const s of this.subs) {
      a.label(s.label);
      a.emit(ins(BPF_ALU64 | BPF_MOV | BPF_X, 0, 1));
      if (r.chance(0.5)) a.emit(ins(BPF_STX | BPF_MEM | BPF_DW, 10, 1, -8), ins(BPF_LDX | BPF_MEM | BPF_W, 0, 10, -8));
      a.emit(ins(BPF_ALU64 | s.op | BPF_K, 0, 0, 0, s.k), ins(BPF_JMP | BPF_EXIT));
    }
    return a.build();
  }
}

/** Generates program number `index` of seed `seed`. */
export function generateCase(seed: number, index: number): GeneratedCase {
  const r = new Rng(Math.imul(seed, 0x9e3779b1) ^ index);
  const g = new Gen(r);
  const insns = g.program();
  const rodata = new Uint8Array(16);
  const dv = new DataView(rodata.buffer);
  dv.setBigUint64(0, BigInt(r.int(4)), true); // counter limit
  dv.setUint32(8, r.chance(0.7) ? r.int(40) : r.u32(), true); // a syscall number
  g.nrs.push(dv.getUint32(8, true));
  return { insns, rodata, nrs: g.nrs, consts: g.consts };
}

// ---------------------------------------------------------------------------------------------
// Running a case both ways
// ---------------------------------------------------------------------------------------------

function makeMaps(rodata: Uint8Array): LiveMap[] {
  return MAP_SPECS.map((spec, i) => createMap(i === RODATA ? { ...spec, initialValue: rodata } : spec, { possibleCpus: 2 }));
}

/** A syscall near the program's constants. */
function input(r: Rng, c: GeneratedCase): Uint8Array {
  const near = (v: bigint): bigint => BigInt.asUintN(64, v + BigInt(r.int(3) - 1));
  const arg = (): bigint => {
    const k = r.int(10);
    if (k < 4 && c.consts.length > 0) return near(r.pick(c.consts));
    if (k < 7) return near(r.pick(EDGES));
    if (k < 8) return BigInt(r.int(300));
    return r.u64();
  };
  const nr = r.chance(0.7) && c.nrs.length > 0 ? (r.pick(c.nrs) + r.int(3) - 1) >>> 0 : r.pick([r.int(480), 0x4000_0000 + r.int(600), 0xffff_ffff, r.u32()]);
  const arch = r.chance(0.85) ? AUDIT_ARCH_X86_64 : r.pick([AUDIT_ARCH_I386, r.u32()]);
  return seccompData({ nr, arch, instructionPointer: arg(), args: [arg(), arg(), arg(), arg(), arg(), arg()] });
}

export interface CaseOutcome {
  /** Syscalls run; how many the classic filter decided itself. */
  calls: number;
  inKernel: number;
  filterSize: number;
  /** A description of the first difference, if any. */
  mismatch?: string;
}

const verdictOf = (vm: ReturnType<typeof createVm>, data: Uint8Array, task: ReturnType<typeof simulatedTask>): string => {
  try {
    return `0x${Number(BigInt.asUintN(32, vm.run(data, task))).toString(16)}`;
  } catch (e) {
    return `fault ${(e as { code?: string }).code}`;
  }
};

/** Runs `calls` generated syscalls through both paths. */
export function runCase(c: GeneratedCase, seed: number, index: number, calls: number): CaseOutcome {
  const mapsA = makeMaps(c.rodata), mapsB = makeMaps(c.rodata);
  const split = splitProgram({ insns: c.insns, maps: MAP_SPECS, readOnlyValue: (i) => mapsA[i]?.lookup(new Uint8Array(4)) });
  const classic = compileClassic(split.filter);
  const host = simulatedHost();
  const task = simulatedTask();
  // The split side runs what the supervisor runs (the JIT); the reference is the interpreter.
  const vmA = (process.env.INTERP ? createVm : compileVm)(c.insns, { maps: mapsA, helpers: createHelpers(), host, maxInsns: 100_000 });
  const vmB = createVm(c.insns, { maps: mapsB, helpers: createHelpers(), host, maxInsns: 100_000 });
  const r = new Rng(Math.imul(seed, 0x85ebca6b) ^ index ^ 0x5bd1e995);
  let inKernel = 0;
  const out: CaseOutcome = { calls, inKernel: 0, filterSize: split.filter.length };
  for (let i = 0; i < calls; i++) {
    const data = input(r, c);
    const k = classic.run(data);
    let a: string;
    if (((k & SECCOMP_RET_ACTION_FULL) >>> 0) === SECCOMP_RET_USER_NOTIF) a = verdictOf(vmA, data, task);
    else {
      inKernel++;
      a = `0x${k.toString(16)}`;
      if (((k & SECCOMP_RET_ACTION_FULL) >>> 0) === SECCOMP_RET_LOG) {
        out.mismatch = `call ${i}: the kernel filter returned LOG itself`;
        break;
      }
    }
    const b = verdictOf(vmB, data, task);
    if (a !== b) {
      out.mismatch = `call ${i}: split ${a} (kernel said 0x${k.toString(16)}), VM ${b}; data ${Buffer.from(data).toString('hex')}`;
      break;
    }
  }
  out.inKernel = inKernel;
  if (out.mismatch === undefined) {
    for (let m = 0; m < mapsA.length; m++) {
      for (const key of mapsA[m]!.keys()) {
        const va = mapsA[m]!.lookup(key), vb = mapsB[m]!.lookup(key);
        if (va === undefined || vb === undefined || Buffer.compare(va, vb) !== 0) {
          out.mismatch = `map ${MAP_SPECS[m]!.name} differs at key ${Buffer.from(key).toString('hex')}`;
        }
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The long run
// ---------------------------------------------------------------------------------------------

interface Totals { programs: number; calls: number; inKernel: number; failures: string[]; maxFilter: number; sumFilter: number }

function runRange(seed: number, from: number, to: number, calls: number): Totals {
  const t: Totals = { programs: 0, calls: 0, inKernel: 0, failures: [], maxFilter: 0, sumFilter: 0 };
  for (let i = from; i < to; i++) {
    let o: CaseOutcome;
    try {
      o = runCase(generateCase(seed, i), seed, i, calls);
    } catch (e) {
      o = { calls: 0, inKernel: 0, filterSize: 0, mismatch: `threw ${(e as Error).stack ?? String(e)}` };
    }
    t.programs++;
    t.calls += o.calls;
    t.inKernel += o.inKernel;
    t.maxFilter = Math.max(t.maxFilter, o.filterSize);
    t.sumFilter += o.filterSize;
    if (o.mismatch !== undefined && t.failures.length < 20) t.failures.push(`seed ${seed} program ${i}: ${o.mismatch}`);
  }
  return t;
}

async function main(argv: string[]): Promise<number> {
  const opt = (name: string, def: number): number => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : def;
  };
  const count = opt('--count', 1000), seed = opt('--seed', 1), calls = opt('--calls', 40), jobs = opt('--jobs', 1);
  if (argv[0] === '--worker') {
    const t = runRange(seed, opt('--from', 0), opt('--to', 0), calls);
    process.send!(t);
    return 0;
  }
  const start = Date.now();
  const per = Math.ceil(count / jobs);
  const parts = await Promise.all(Array.from({ length: jobs }, (_, j) => new Promise<Totals>((resolve, reject) => {
    const from = j * per, to = Math.min(count, from + per);
    const child = fork(new URL(import.meta.url).pathname, ['--worker', '--seed', String(seed), '--from', String(from), '--to', String(to), '--calls', String(calls)], { execArgv: ['--import', 'tsx'] });
    child.on('message', (m) => resolve(m as Totals));
    child.on('exit', (code) => { if (code !== 0) reject(new Error(`worker ${j} exited with ${code}`)); });
  })));
  const t = parts.reduce((x, y) => ({
    programs: x.programs + y.programs, calls: x.calls + y.calls, inKernel: x.inKernel + y.inKernel,
    failures: [...x.failures, ...y.failures], maxFilter: Math.max(x.maxFilter, y.maxFilter), sumFilter: x.sumFilter + y.sumFilter,
  }));
  const secs = (Date.now() - start) / 1000;
  console.log(`${t.programs} programs, ${t.calls} syscalls (${(100 * t.inKernel / Math.max(1, t.calls)).toFixed(1)}% decided by the classic filter), ` +
    `filters ${(t.sumFilter / Math.max(1, t.programs)).toFixed(1)} insns on average, at most ${t.maxFilter}; ${t.failures.length} failures; ${secs.toFixed(0)} s (seed ${seed})`);
  for (const f of t.failures) console.log(f);
  return t.failures.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    console.error(e);
    process.exit(2);
  });
}
