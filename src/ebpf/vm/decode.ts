/**
 * @module ebpf/vm/decode
 * Checks a program's encoding once and turns it into the compact, allocation-free form the
 * interpreter dispatches on (parallel typed arrays, immediates pre-extended, jump targets made
 * absolute). The checks follow the kernel's (kernel/bpf/verifier.c: check_alu_op,
 * do_check's reserved-field tests, check_ld_imm, check_cfg's jump range): an instruction the
 * kernel refuses to load for its encoding alone is ERR_VM_BAD_INSN here. Semantic checks
 * (types, initialisation, bounds) are the verifier's business, not the VM's.
 */
import type { Insn } from '../insn.js';
import {
  BPF_ALU, BPF_ALU64, BPF_ARSH, BPF_ATOMIC, BPF_CALL, BPF_CMPXCHG, BPF_DIV, BPF_DW, BPF_END, BPF_EXIT,
  BPF_FETCH, BPF_IMM, BPF_JA, BPF_JMP, BPF_JMP32, BPF_JSLE, BPF_LD, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_MOD,
  BPF_MOV, BPF_NEG, BPF_PSEUDO_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE,
  BPF_PSEUDO_MAP_VALUE, BPF_ST, BPF_STX, BPF_W, BPF_X, BPF_XCHG, BPF_ADD, BPF_OR, BPF_AND, BPF_XOR,
} from '../../abi/bpf.js';
import { vmFault } from './faults.js';

/** How an lddw is resolved (kind[] of an lddw slot). */
export const LD_CONST = 0;
export const LD_MAP_HANDLE = 1;
export const LD_MAP_VALUE = 2;
/** target[] of a slot that is not a jump (no real target can be this small). */
export const NO_TARGET = -0x8000_0000;

export interface DecodedProgram {
  readonly length: number;
  readonly code: Uint8Array;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  /** Raw signed offset (memory ops, DIV/MOD/MOV variants). */
  readonly off: Int16Array;
  /** Raw signed immediate. */
  readonly imm: Int32Array;
  /** Jump / call target (absolute slot index), NO_TARGET when not a jump. */
  readonly target: Int32Array;
  /** imm sign-extended to 64 bits, as a u64 (ALU64/JMP/ST operand); the constant of an lddw. */
  readonly k64: bigint[];
  /** imm as u32 (ALU/JMP32 operand). */
  readonly k32: Uint32Array;
  /** lddw kind (LD_*), or the atomic op for STX|ATOMIC. */
  readonly kind: Int32Array;
}

const U64 = (x: number): bigint => BigInt.asUintN(64, BigInt(x));

/** Decodes and validates `insns`. Throws ERR_VM_BAD_INSN with the offending slot's index. */
export function decodeProgram(insns: readonly Insn[]): DecodedProgram {
  const n = insns.length;
  if (n === 0) throw vmFault('ERR_VM_BAD_INSN', 'empty program', 0);
  const p: DecodedProgram = {
    length: n, code: new Uint8Array(n), dst: new Uint8Array(n), src: new Uint8Array(n), off: new Int16Array(n),
    imm: new Int32Array(n), target: new Int32Array(n).fill(NO_TARGET), k64: new Array<bigint>(n).fill(0n),
    k32: new Uint32Array(n), kind: new Int32Array(n),
  };
  const continuation = new Uint8Array(n); // second slot of an lddw
  for (let i = 0; i < n; i++) {
    const ins = insns[i]!;
    if (!isInsnShape(ins)) throw vmFault('ERR_VM_BAD_INSN', 'malformed instruction object (fields must be integers in range)', i);
    p.code[i] = ins.code; p.dst[i] = ins.dst; p.src[i] = ins.src; p.off[i] = ins.off; p.imm[i] = ins.imm;
    p.k64[i] = U64(ins.imm); p.k32[i] = ins.imm >>> 0;
    if (continuation[i]) continue;
    const err = check(insns, i, p);
    if (err !== undefined) throw vmFault('ERR_VM_BAD_INSN', `${err} (code 0x${ins.code.toString(16).padStart(2, '0')})`, i);
    if (ins.code === (BPF_LD | BPF_IMM | BPF_DW)) continuation[i + 1] = 1;
  }
  for (let i = 0; i < n; i++) {
    const t = p.target[i]!;
    if (t === NO_TARGET) continue;
    if (t < 0 || t >= n) throw vmFault('ERR_VM_BAD_INSN', `jump out of range (target ${t}, program has ${n} slots)`, i);
    if (continuation[t]) throw vmFault('ERR_VM_BAD_INSN', `jump into the middle of lddw (target ${t})`, i);
  }
  return p;
}

function isInsnShape(x: Insn): boolean {
  return typeof x === 'object' && x !== null
    && Number.isInteger(x.code) && x.code >= 0 && x.code <= 0xff
    && Number.isInteger(x.dst) && x.dst >= 0 && x.dst <= 0xf
    && Number.isInteger(x.src) && x.src >= 0 && x.src <= 0xf
    && Number.isInteger(x.off) && x.off >= -0x8000 && x.off <= 0x7fff
    && Number.isInteger(x.imm) && x.imm >= -0x8000_0000 && x.imm <= 0x7fff_ffff;
}

const ATOMIC_OPS = new Set([BPF_ADD, BPF_OR, BPF_AND, BPF_XOR].flatMap((op) => [op, op | BPF_FETCH]).concat([BPF_XCHG, BPF_CMPXCHG]));

/** Returns why slot i is invalid, or undefined; fills target/kind/k64 where they apply. */
function check(insns: readonly Insn[], i: number, p: DecodedProgram): string | undefined {
  const { code, dst, src, off, imm } = insns[i]!;
  const cls = code & 0x07;
  if (dst > 10) return `invalid dst register r${dst}`;
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64: {
      const op = code & 0xf0;
      const x = (code & BPF_X) !== 0;
      if (dst === 10) return 'r10 is read-only';
      if (x && src > 10) return `invalid src register r${src}`;
      switch (op) {
        case BPF_NEG:
          return x || src !== 0 || off !== 0 || imm !== 0 ? 'BPF_NEG uses reserved fields' : undefined;
        case BPF_END:
          if (src !== 0 || off !== 0 || (imm !== 16 && imm !== 32 && imm !== 64)) return 'BPF_END uses reserved fields';
          return cls === BPF_ALU64 && x ? 'BPF_END with BPF_X in ALU64 class (bswap has no source bit)' : undefined;
        case BPF_MOV:
          if (!x) return src !== 0 || off !== 0 ? 'BPF_MOV uses reserved fields' : undefined;
          if (imm !== 0) return 'BPF_MOV uses reserved fields';
          if (off === 0 || off === 8 || off === 16 || (off === 32 && cls === BPF_ALU64)) return undefined;
          return `BPF_MOV with invalid sign-extension offset ${off}`;
        case BPF_DIV:
        case BPF_MOD:
          if (off !== 0 && off !== 1) return `BPF_${op === BPF_DIV ? 'DIV' : 'MOD'} with invalid offset ${off}`;
          return x ? (imm !== 0 ? 'BPF_ALU uses reserved fields' : undefined) : (src !== 0 ? 'BPF_ALU uses reserved fields' : undefined);
        default:
          if (op > BPF_ARSH) return 'invalid ALU operation';
          if (off !== 0) return 'BPF_ALU uses reserved fields';
          return x ? (imm !== 0 ? 'BPF_ALU uses reserved fields' : undefined) : (src !== 0 ? 'BPF_ALU uses reserved fields' : undefined);
      }
    }
    case BPF_JMP:
    case BPF_JMP32: {
      const op = code & 0xf0;
      const x = (code & BPF_X) !== 0;
      if (op === BPF_JA) {
        if (x || src !== 0 || dst !== 0) return 'BPF_JA uses reserved fields';
        if (cls === BPF_JMP) {
          if (imm !== 0) return 'BPF_JA uses reserved fields';
          p.target[i] = i + 1 + off;
        } else {
          if (off !== 0) return 'BPF_JA (gotol) uses reserved fields';
          p.target[i] = i + 1 + imm;
        }
        return undefined;
      }
      if (op === BPF_CALL) {
        if (cls === BPF_JMP32 || x || off !== 0 || dst !== 0) return 'BPF_CALL uses reserved fields';
        if (src === BPF_PSEUDO_CALL) { p.target[i] = i + 1 + imm; return undefined; }
        return src === 0 ? undefined : `unsupported call kind (src ${src})`;
      }
      if (op === BPF_EXIT) {
        return cls === BPF_JMP32 || x || imm !== 0 || src !== 0 || dst !== 0 ? 'BPF_EXIT uses reserved fields' : undefined;
      }
      if (op > BPF_JSLE) return 'invalid jump operation';
      if (x ? imm !== 0 || src > 10 : src !== 0) return 'BPF_JMP/JMP32 uses reserved fields';
      p.target[i] = i + 1 + off;
      return undefined;
    }
    case BPF_LD: {
      if (code !== (BPF_LD | BPF_IMM | BPF_DW)) return 'unsupported BPF_LD mode (only lddw; LD_ABS/LD_IND are packet-only)';
      if (dst === 10) return 'r10 is read-only';
      if (off !== 0) return 'lddw uses reserved fields';
      const next = insns[i + 1];
      if (next === undefined) return 'lddw is missing its second slot';
      if (next.code !== 0 || next.dst !== 0 || next.src !== 0 || next.off !== 0) return 'invalid second slot of lddw';
      switch (src) {
        case 0:
          p.kind[i] = LD_CONST;
          p.k64[i] = (BigInt(next.imm >>> 0) << 32n) | BigInt(imm >>> 0);
          return undefined;
        case BPF_PSEUDO_MAP_FD:
        case BPF_PSEUDO_MAP_IDX:
          if (next.imm !== 0) return 'lddw map handle with non-zero second immediate';
          p.kind[i] = LD_MAP_HANDLE;
          return undefined;
        case BPF_PSEUDO_MAP_VALUE:
        case BPF_PSEUDO_MAP_IDX_VALUE:
          p.kind[i] = LD_MAP_VALUE;
          p.k64[i] = BigInt(next.imm >>> 0);
          return undefined;
        default:
          return `unsupported lddw pseudo source ${src}`;
      }
    }
    case BPF_LDX: {
      const mode = code & 0xe0;
      if (mode !== BPF_MEM && !(mode === BPF_MEMSX && (code & 0x18) !== BPF_DW)) return 'invalid BPF_LDX mode/size';
      if (dst === 10) return 'r10 is read-only';
      if (src > 10) return `invalid src register r${src}`;
      return imm !== 0 ? 'BPF_LDX uses reserved fields' : undefined;
    }
    case BPF_ST:
      if ((code & 0xe0) !== BPF_MEM) return 'invalid BPF_ST mode';
      return src !== 0 ? 'BPF_ST uses reserved fields' : undefined;
    case BPF_STX: {
      const mode = code & 0xe0;
      if (src > 10) return `invalid src register r${src}`;
      if (mode === BPF_MEM) return imm !== 0 ? 'BPF_STX uses reserved fields' : undefined;
      if (mode !== BPF_ATOMIC) return 'invalid BPF_STX mode';
      const size = code & 0x18;
      if (size !== BPF_W && size !== BPF_DW) return 'atomic access must be 4 or 8 bytes';
      if (!ATOMIC_OPS.has(imm)) return `invalid atomic operation 0x${(imm >>> 0).toString(16)}`;
      if ((imm & BPF_FETCH) !== 0 && imm !== BPF_CMPXCHG && src === 10) return 'r10 is read-only';
      p.kind[i] = imm;
      return undefined;
    }
  }
  return 'unreachable';
}
