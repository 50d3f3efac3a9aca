/**
 * @module test/helpers/progen
 * Instruction builders and a seeded random generator of verifier-friendly eBPF programs, used by
 * the VM's differential test against the kernel (test/ebpf-vm-kernel.test.ts) and reusable by a
 * fuzzer.
 *
 * A generated program exchanges data through the single value of an array map (map index 0 in
 * the VM, the real map fd in the kernel), reached with `lddw rX, map_value(0) + off`:
 *
 *   value offset   0 ..  80   inputs: initial values of r0..r9 (a register is either loaded
 *                             from here, unknown to the verifier, or set to a constant)
 *                 80 .. 160   outputs: r0..r9 at the end of the body
 *                160 .. 224   outputs: the 64-byte stack scratch area [r10-64, r10)
 *
 * Stack: scratch area [r10-64, r10) (initialised by the prologue, then loaded, stored and
 * updated atomically by the body); save area [r10-144, r10-64) used by the epilogue.
 *
 * With `subprograms`, the main body calls one or two bpf-to-bpf subprograms (each with its own
 * stack frame and scratch area; r6-r9 of the caller must survive the calls).
 *
 * The body only jumps forward, never reads an unwritten register or stack byte, uses
 * in-range shift immediates and non-zero division immediates: the kernel verifier must
 * accept every program (with cpu v4 instructions: sdiv/smod, movsx, memsx, bswap, gotol).
 */
import { type Insn, insn } from '../../src/ebpf/insn.js';
import { encodeInsns } from '../../src/ebpf/codec.js';
import {
  BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ARSH, BPF_ATOMIC, BPF_B, BPF_CALL, BPF_CMPXCHG, BPF_DIV, BPF_DW,
  BPF_END, BPF_EXIT, BPF_FETCH, BPF_H, BPF_IMM, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JMP,
  BPF_JMP32, BPF_JNE, BPF_JSET, BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_K, BPF_LD, BPF_LDX, BPF_LSH,
  BPF_MAP_TYPE_ARRAY, BPF_MEM, BPF_MEMSX, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR, BPF_PSEUDO_CALL,
  BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_W, BPF_X, BPF_XCHG, BPF_XOR,
} from '../../src/abi/bpf.js';
import type { BpfMap, MapSpec } from '../../src/ebpf/maps/types.js';

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

export type Size = 'b' | 'h' | 'w' | 'dw';
const SIZE: Record<Size, number> = { b: BPF_B, h: BPF_H, w: BPF_W, dw: BPF_DW };
export const SIZE_BYTES: Record<Size, number> = { b: 1, h: 2, w: 4, dw: 8 };

/** Instruction builders (one function per encoding form). */
export const I = {
  alu64K: (op: number, dst: number, imm: number, off = 0): Insn => insn(BPF_ALU64 | op | BPF_K, dst, 0, off, imm),
  alu64X: (op: number, dst: number, src: number, off = 0): Insn => insn(BPF_ALU64 | op | BPF_X, dst, src, off, 0),
  alu32K: (op: number, dst: number, imm: number, off = 0): Insn => insn(BPF_ALU | op | BPF_K, dst, 0, off, imm),
  alu32X: (op: number, dst: number, src: number, off = 0): Insn => insn(BPF_ALU | op | BPF_X, dst, src, off, 0),
  mov64K: (dst: number, imm: number): Insn => insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm),
  mov64X: (dst: number, src: number): Insn => insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0),
  mov32K: (dst: number, imm: number): Insn => insn(BPF_ALU | BPF_MOV | BPF_K, dst, 0, 0, imm),
  mov32X: (dst: number, src: number): Insn => insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0),
  movsx64: (dst: number, src: number, bits: 8 | 16 | 32): Insn => insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, bits, 0),
  movsx32: (dst: number, src: number, bits: 8 | 16): Insn => insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, bits, 0),
  neg64: (dst: number): Insn => insn(BPF_ALU64 | BPF_NEG, dst),
  neg32: (dst: number): Insn => insn(BPF_ALU | BPF_NEG, dst),
  /** le16/32/64 (ALU, to little-endian: truncation), be16/32/64 (ALU, swap), bswap16/32/64 (ALU64). */
  end: (kind: 'le' | 'be' | 'bswap', dst: number, bits: 16 | 32 | 64): Insn =>
    insn((kind === 'bswap' ? BPF_ALU64 : BPF_ALU) | BPF_END | (kind === 'be' ? BPF_X : BPF_K), dst, 0, 0, bits),
  /** lddw dst, value (two slots). */
  lddw: (dst: number, value: bigint): Insn[] => {
    const v = BigInt.asUintN(64, value);
    return [insn(BPF_LD | BPF_IMM | BPF_DW, dst, 0, 0, Number(BigInt.asIntN(32, v))), insn(0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n)))];
  },
  ldMapFd: (dst: number, map: number): Insn[] => [insn(BPF_LD | BPF_IMM | BPF_DW, dst, BPF_PSEUDO_MAP_FD, 0, map), insn(0)],
  ldMapValue: (dst: number, map: number, off: number): Insn[] =>
    [insn(BPF_LD | BPF_IMM | BPF_DW, dst, BPF_PSEUDO_MAP_VALUE, 0, map), insn(0, 0, 0, 0, off)],
  ldx: (size: Size, dst: number, src: number, off: number): Insn => insn(BPF_LDX | BPF_MEM | SIZE[size], dst, src, off, 0),
  ldxsx: (size: 'b' | 'h' | 'w', dst: number, src: number, off: number): Insn => insn(BPF_LDX | BPF_MEMSX | SIZE[size], dst, src, off, 0),
  st: (size: Size, dst: number, off: number, imm: number): Insn => insn(BPF_ST | BPF_MEM | SIZE[size], dst, 0, off, imm),
  stx: (size: Size, dst: number, src: number, off: number): Insn => insn(BPF_STX | BPF_MEM | SIZE[size], dst, src, off, 0),
  atomic: (size: 'w' | 'dw', op: number, dst: number, src: number, off: number): Insn =>
    insn(BPF_STX | BPF_ATOMIC | SIZE[size], dst, src, off, op),
  jK: (op: number, dst: number, imm: number, off: number): Insn => insn(BPF_JMP | op | BPF_K, dst, 0, off, imm),
  jX: (op: number, dst: number, src: number, off: number): Insn => insn(BPF_JMP | op | BPF_X, dst, src, off, 0),
  j32K: (op: number, dst: number, imm: number, off: number): Insn => insn(BPF_JMP32 | op | BPF_K, dst, 0, off, imm),
  j32X: (op: number, dst: number, src: number, off: number): Insn => insn(BPF_JMP32 | op | BPF_X, dst, src, off, 0),
  ja: (off: number): Insn => insn(BPF_JMP | BPF_JA, 0, 0, off, 0),
  gotol: (imm: number): Insn => insn(BPF_JMP32 | BPF_JA, 0, 0, 0, imm),
  call: (helper: number): Insn => insn(BPF_JMP | BPF_CALL, 0, 0, 0, helper),
  callLocal: (rel: number): Insn => insn(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, rel),
  exit: (): Insn => insn(BPF_JMP | BPF_EXIT),
};

/** Flattens builder output into one instruction array. */
export const prog = (...parts: (Insn | Insn[])[]): Insn[] => parts.flat();

/** Hex dump, one slot per line with its index, for failure messages. */
export function hexdump(insns: readonly Insn[]): string {
  const bytes = encodeInsns(insns);
  const lines: string[] = [];
  for (let i = 0; i < insns.length; i++) {
    const hex = Array.from(bytes.subarray(i * 8, i * 8 + 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
    const { code, dst, src, off, imm } = insns[i]!;
    lines.push(`${String(i).padStart(4)}: ${hex}   code=0x${code.toString(16).padStart(2, '0')} dst=r${dst} src=r${src} off=${off} imm=${imm}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// A one-entry array map for tests (the VM side of the differential test)
// ---------------------------------------------------------------------------------------------

/** Minimal BpfMap: an array map (4-byte keys) whose values live in a SharedArrayBuffer. */
export function makeArrayMap(valueSize: number, maxEntries = 1, opts: { name?: string; readOnly?: boolean; flags?: number } = {}): BpfMap & { storage: Uint8Array } {
  const spec: MapSpec = { name: opts.name ?? 'test_array', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize, maxEntries, flags: opts.flags ?? 0, readOnly: opts.readOnly };
  const sab = new SharedArrayBuffer(valueSize * maxEntries);
  const storage = new Uint8Array(sab);
  const index = (key: Uint8Array): number => key.length === 4 ? new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true) : -1;
  return {
    spec,
    storage,
    lookup(key) {
      const i = index(key);
      return i >= 0 && i < maxEntries ? storage.subarray(i * valueSize, (i + 1) * valueSize) : undefined;
    },
    update(key, value) {
      const i = index(key);
      if (i < 0 || i >= maxEntries) return -7; // -E2BIG
      storage.set(value.subarray(0, valueSize), i * valueSize);
      return 0;
    },
    delete: () => -22,
    keys: () => Array.from({ length: maxEntries }, (_, i) => { const k = new Uint8Array(4); new DataView(k.buffer).setUint32(0, i, true); return k; }),
    share: () => ({ spec, buffers: [sab] }),
  };
}

// ---------------------------------------------------------------------------------------------
// Seeded random numbers
// ---------------------------------------------------------------------------------------------

/** Small deterministic PRNG (splitmix32 seeded from a string hash). */
export class Rng {
  private s: number;
  /** A string seed is hashed (FNV-1a); a number is the initial state itself. */
  constructor(seed: string | number) {
    if (typeof seed === 'number') {
      this.s = seed >>> 0;
      return;
    }
    let h = 0x811c9dc5;
    for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193);
    this.s = h >>> 0;
  }
  u32(): number {
    this.s = (this.s + 0x9e3779b9) >>> 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }
  /** Integer in [0, n). */
  int(n: number): number { return this.u32() % n; }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]!; }
  chance(p: number): boolean { return this.u32() / 0x1_0000_0000 < p; }
  u64(): bigint { return (BigInt(this.u32()) << 32n) | BigInt(this.u32()); }
}

const INTERESTING_64: readonly bigint[] = [
  0n, 1n, 2n, 3n, 7n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fff_ffffn, 0x8000_0000n, 0xffff_ffffn,
  0x1_0000_0000n, 0x1_ffff_ffffn, 0x7fff_ffff_ffff_ffffn, 0x8000_0000_0000_0000n, 0xffff_ffff_ffff_ffffn,
  0xffff_ffff_8000_0000n, 0xffff_ffff_7fff_ffffn, 0xffff_ffff_ffff_fffen, 0x8000_0000_0000_0001n,
];
const INTERESTING_32: readonly number[] = [0, 1, -1, 2, -2, 3, 7, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fff_ffff, -0x8000_0000, -0x7fff_ffff, 13, -13];

/** An "interesting" u64: edge values most of the time, random bits otherwise. */
export function interesting64(rng: Rng): bigint {
  const r = rng.int(10);
  if (r < 6) return rng.pick(INTERESTING_64);
  if (r < 8) return BigInt.asUintN(64, BigInt(rng.u32() | 0)); // sign-extended 32-bit
  return rng.u64();
}

/** An "interesting" s32 immediate. */
export function interesting32(rng: Rng): number {
  return rng.chance(0.7) ? rng.pick(INTERESTING_32) : rng.u32() | 0;
}

// ---------------------------------------------------------------------------------------------
// Program generator
// ---------------------------------------------------------------------------------------------

export const IO_VALUE_SIZE = 224;
export const IN_REGS = 0;
export const OUT_REGS = 80;
export const OUT_STACK = 160;
const SCRATCH = 64; // bytes at [r10-64, r10)
const SAVE = (k: number): number => -72 - 8 * k; // save slot of r_k in the epilogue

export interface GeneratedProgram {
  /** Instructions; map index 0 is the io map (the kernel side patches in the map fd). */
  insns: Insn[];
  /** Initial map value (inputs at IN_REGS, the rest zero). */
  input: Uint8Array;
  /** Slot indices of map pseudo-loads (to patch the imm with a real fd). */
  mapLoads: number[];
}

const ALU_OPS = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_MOD, BPF_XOR, BPF_MOV, BPF_ARSH];
const JMP_OPS = [BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE];
const ATOMIC_OPS = [BPF_ADD, BPF_OR, BPF_AND, BPF_XOR].flatMap((op) => [op, op | BPF_FETCH]).concat([BPF_XCHG, BPF_CMPXCHG]);
const reg = (rng: Rng): number => rng.int(10);
const scratchOffset = (rng: Rng, size: Size): number => -SIZE_BYTES[size] * (1 + rng.int(SCRATCH / SIZE_BYTES[size]));

/** One straight-line instruction (no jump), as slots (lddw is two). `v4`: allow cpu-v4 forms. */
function straight(rng: Rng, v4: boolean): Insn[] {
  const d = reg(rng);
  const s = reg(rng);
  const k = rng.int(100);
  if (k < 44) { // ALU / ALU64 binary ops, K and X
    const wide = rng.chance(0.5);
    const op = rng.pick(ALU_OPS);
    const x = rng.chance(0.5);
    const signed = v4 && (op === BPF_DIV || op === BPF_MOD) && rng.chance(0.5) ? 1 : 0;
    if (x) return [wide ? I.alu64X(op, d, s, signed) : I.alu32X(op, d, s, signed)];
    let imm = interesting32(rng);
    if (op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH) imm = rng.int(wide ? 64 : 32);
    if ((op === BPF_DIV || op === BPF_MOD) && imm === 0) imm = 1 + rng.int(9);
    return [wide ? I.alu64K(op, d, imm, signed) : I.alu32K(op, d, imm, signed)];
  }
  if (k < 50 && v4) { // movsx
    if (rng.chance(0.5)) return [I.movsx64(d, s, rng.pick([8, 16, 32] as const))];
    return [I.movsx32(d, s, rng.pick([8, 16] as const))];
  }
  if (k < 54) return [rng.chance(0.5) ? I.neg64(d) : I.neg32(d)];
  if (k < 60) return [I.end(rng.pick(v4 ? ['le', 'be', 'bswap'] as const : ['le', 'be'] as const), d, rng.pick([16, 32, 64] as const))];
  if (k < 64) return I.lddw(d, interesting64(rng));
  // Stack accesses must be naturally aligned: the verifier always checks stack alignment strictly.
  if (k < 74) { // loads from the scratch area
    const size = rng.pick(['b', 'h', 'w', 'dw'] as const);
    const off = scratchOffset(rng, size);
    if (size !== 'dw' && v4 && rng.chance(0.4)) return [I.ldxsx(size, d, 10, off)];
    return [I.ldx(size, d, 10, off)];
  }
  if (k < 86) { // stores to the scratch area
    const size = rng.pick(['b', 'h', 'w', 'dw'] as const);
    const off = scratchOffset(rng, size);
    return [rng.chance(0.3) ? I.st(size, 10, off, interesting32(rng)) : I.stx(size, 10, s, off)];
  }
  const size = rng.pick(['w', 'dw'] as const);
  return [I.atomic(size, rng.pick(ATOMIC_OPS), 10, s, scratchOffset(rng, size))];
}

function condJump(rng: Rng, skip: number): Insn {
  const op = rng.pick(JMP_OPS);
  const d = reg(rng);
  const wide = rng.chance(0.5);
  if (rng.chance(0.5)) return wide ? I.jX(op, d, reg(rng), skip) : I.j32X(op, d, reg(rng), skip);
  return wide ? I.jK(op, d, interesting32(rng), skip) : I.j32K(op, d, interesting32(rng), skip);
}

/** Appends about `len` random body instructions (forward jumps only) to `out`. */
function emitBody(rng: Rng, out: Insn[], len: number, maxBranches: number, v4: boolean): void {
  let branches = 0;
  for (let n = 0; n < len;) {
    const k = rng.int(100);
    if (k < 14 && branches < maxBranches) { // conditional jump over a small block
      branches++;
      const block: Insn[] = [];
      const blockLen = 1 + rng.int(4);
      for (let i = 0; i < blockLen; i++) block.push(...straight(rng, v4));
      out.push(condJump(rng, block.length), ...block);
      n += blockLen + 1;
    } else if (k < 18 && branches < maxBranches) { // record a condition's outcome in a register
      branches++;
      const t = reg(rng);
      const j = condJump(rng, 1);
      if (j.dst === t) j.dst = (t + 1) % 10;
      if ((j.code & BPF_X) && j.src === t) j.src = (t + 2) % 10;
      out.push(I.mov64K(t, 1), j, I.mov64K(t, 0));
      n += 3;
    } else if (k < 22 && branches < maxBranches) { // if/else diamond: the ja (or gotol) skips the else block
      branches++;
      const then: Insn[] = [];
      const other: Insn[] = [];
      const a = 1 + rng.int(3), b = 1 + rng.int(3);
      for (let i = 0; i < a; i++) then.push(...straight(rng, v4));
      for (let i = 0; i < b; i++) other.push(...straight(rng, v4));
      // Unreachable code is rejected by the verifier, so the jump must be conditional.
      out.push(condJump(rng, then.length + 1), ...then, v4 && rng.chance(0.5) ? I.gotol(other.length) : I.ja(other.length), ...other);
      n += a + b + 2;
    } else {
      out.push(...straight(rng, v4));
      n++;
    }
  }
}

/** Sets r1..r5 to constants (after a call the verifier considers them unreadable). */
function reinitArgs(rng: Rng, out: Insn[]): void {
  for (let r = 1; r <= 5; r++) out.push(...(rng.chance(0.3) ? I.lddw(r, interesting64(rng)) : [I.mov64K(r, interesting32(rng))]));
}

export interface GenerateOptions {
  /** Approximate number of body instructions of the main program (default 32). */
  bodyLen?: number;
  /** Maximum conditional jumps in the main body (default 6): bounds the verifier's path count. */
  maxBranches?: number;
  /** Use cpu-v4 instructions (default true). */
  v4?: boolean;
  /** Add bpf-to-bpf calls: main calls sub0 (and maybe sub1), sub0 may call sub1 (default false). */
  subprograms?: boolean;
}

/** Generates one program (see the module comment for its layout). */
export function generateProgram(rng: Rng, opts: GenerateOptions = {}): GeneratedProgram {
  const { bodyLen = 32, maxBranches = 6, v4 = true, subprograms = false } = opts;
  const input = new Uint8Array(IO_VALUE_SIZE);
  const dv = new DataView(input.buffer);
  const out: Insn[] = [];
  const mapLoads: number[] = [];
  const calls: { at: number; sub: number }[] = [];
  const loadMap = (dst: number, off: number): void => { mapLoads.push(out.length); out.push(...I.ldMapValue(dst, 0, off)); };
  const call = (sub: number): void => { calls.push({ at: out.length, sub }); out.push(I.callLocal(0)); reinitArgs(rng, out); };

  // Prologue: r6 = &value; each register from the map (unknown) or a constant (known); r6 last.
  loadMap(6, 0);
  for (const r of [0, 1, 2, 3, 4, 5, 7, 8, 9, 6]) {
    const v = interesting64(rng);
    dv.setBigUint64(IN_REGS + 8 * r, v, true);
    const how = rng.int(4);
    if (how < 2) out.push(I.ldx('dw', r, 6, IN_REGS + 8 * r));
    else if (how === 2) out.push(...I.lddw(r, v));
    else out.push(rng.chance(0.5) ? I.mov64K(r, Number(BigInt.asIntN(32, v))) : I.mov32K(r, Number(BigInt.asIntN(32, v))));
  }
  for (let j = 0; j < SCRATCH / 8; j++) out.push(I.stx('dw', 10, reg(rng), -8 * (j + 1)));

  // Call graph: main -> sub0, then main -> sub0 or sub1; sub0 -> sub1 sometimes. sub1 exists
  // only if called (the verifier rejects unreachable code).
  const secondTarget = rng.int(2);
  const nested = rng.chance(0.5);
  const subs = !subprograms ? [] : secondTarget === 1 || nested ? [0, 1] : [0];
  if (!subprograms) {
    emitBody(rng, out, bodyLen, maxBranches, v4);
  } else {
    const part = Math.max(1, Math.floor(bodyLen / 3));
    emitBody(rng, out, part, Math.min(maxBranches, 3), v4);
    call(0);
    emitBody(rng, out, part, 1, v4);
    call(secondTarget);
    emitBody(rng, out, part, 1, v4);
  }

  // Epilogue: save r0..r9, then copy them and the scratch area into the map value.
  for (let r = 0; r < 10; r++) out.push(I.stx('dw', 10, r, SAVE(r)));
  loadMap(1, 0);
  for (let r = 0; r < 10; r++) out.push(I.ldx('dw', 2, 10, SAVE(r)), I.stx('dw', 1, 2, OUT_REGS + 8 * r));
  for (let j = 0; j < SCRATCH / 8; j++) out.push(I.ldx('dw', 2, 10, -SCRATCH + 8 * j), I.stx('dw', 1, 2, OUT_STACK + 8 * j));
  out.push(I.ldx('dw', 0, 10, SAVE(0)), I.exit());

  if (subprograms) {
    // sub0 and sub1: r1..r5 are the arguments; r0 and r6..r9 start unreadable, so set them
    // first; each has its own 64-byte scratch area in its own frame. sub0 may call sub1.
    const starts: number[] = [];
    for (const sub of subs) {
      starts.push(out.length);
      for (const r of [0, 6, 7, 8, 9]) out.push(rng.chance(0.6) ? I.mov64X(r, 1 + rng.int(5)) : I.mov64K(r, interesting32(rng)));
      for (let j = 0; j < SCRATCH / 8; j++) out.push(I.stx('dw', 10, reg(rng), -8 * (j + 1)));
      emitBody(rng, out, 10, 2, v4);
      if (sub === 0 && nested) { call(1); emitBody(rng, out, 4, 1, v4); }
      out.push(I.exit());
    }
    for (const c of calls) out[c.at]!.imm = starts[c.sub]! - (c.at + 1);
  }
  return { insns: out, input, mapLoads };
}

/** Copy of `p.insns` with the map pseudo-loads pointing at `fd` (for the kernel). */
export function withMapFd(p: GeneratedProgram, fd: number): Insn[] {
  const insns = p.insns.map((x) => ({ ...x }));
  for (const i of p.mapLoads) insns[i]!.imm = fd;
  return insns;
}
