/**
 * @module split/alu
 * eBPF's ALU and pointer comparisons on the split's analysis values (split/values): exactly the
 * VM's results on constants (src/ebpf/vm/alu.ts), 32-bit expressions (split/expr) on arguments,
 * and `unknown` for what a classic-BPF filter cannot compute: a 64-bit product or quotient of
 * arguments, a shift by an argument (64-bit, or arithmetic), a division by a variable (a classic
 * filter dividing by X = 0 stops with verdict 0 where eBPF gives 0), arithmetic on pointers
 * other than +/- a constant, or an expression too large.
 */
import * as abi from '../abi/bpf.js';
import { alu32 as vmAlu32, alu64 as vmAlu64, cond32, cond64, endian as vmEndian } from '../ebpf/vm/alu.js';
import { arsh, bin, C, neg, sext, type Expr } from './expr.js';
import {
  add64, and64, arsh64, asConst, constant, endian, fits, lsh64, neg64, or64, rsh64, sext64, sub64, u32, unknown,
  xor64, type Scalar, type Value,
} from './values.js';

// Module-local copies: some loaders turn imported bindings into getter calls (see ebpf/vm/alu).
const {
  BPF_ADD, BPF_AND, BPF_ARSH, BPF_DIV, BPF_LSH, BPF_MAX_STACK, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR, BPF_RSH,
  BPF_SUB, BPF_XOR,
} = abi;

/**
 * dst op src for an ALU (32-bit) or ALU64 instruction: `a` is dst, `b` src (a register, or the
 * immediate as a 64-bit constant), `off` the instruction's offset (signed div/mod, movsx).
 */
export function evalAlu(is64: boolean, op: number, a: Value, b: Value, off: number, pc: number): Value {
  return is64 ? alu64(op, a, b, off, pc) : alu32(op, a, b, off, pc);
}

/** BPF_END on a value: swap (to big endian, bswap) or truncate (to little endian) the low `bits`. */
export function evalEndian(a: Value, bits: number, swap: boolean, pc: number): Value {
  if (a.t !== 's') return a.t === 'u' ? a : unknown(pc, 'a byte swap of a pointer');
  const c = asConst(a);
  return c !== undefined ? constant(vmEndian(c, bits, swap)) : checked(endian(a, bits, swap), pc);
}

function checked(v: Scalar, pc: number): Value {
  return fits(v) ? v : unknown(pc, `an expression too large for a classic-BPF filter (insn ${pc})`);
}

function alu64(op: number, a: Value, b: Value, off: number, pc: number): Value {
  if (op === BPF_MOV) {
    if (off === 0) return b;
    if (b.t !== 's') return b.t === 'u' ? b : unknown(pc, `a sign extension of a pointer (insn ${pc})`);
    const c = asConst(b);
    return c !== undefined ? constant(vmAlu64(op, 0n, c, off)) : checked(sext64(b, off), pc);
  }
  if (op === BPF_NEG) {
    if (a.t !== 's') return a.t === 'u' ? a : unknown(pc, `a negated pointer (insn ${pc})`);
    const c = asConst(a);
    return c !== undefined ? constant(vmAlu64(op, c, 0n, 0)) : checked(neg64(a), pc);
  }
  if (a.t === 'u') return a;
  if (b.t === 'u') return b;
  if (a.t !== 's' || b.t !== 's') return pointerArith(op, a, b, pc);
  const ca = asConst(a), cb = asConst(b);
  if (ca !== undefined && cb !== undefined) return constant(vmAlu64(op, ca, cb, off));
  const why = (what: string): Value => unknown(pc, `${what} (insn ${pc})`);
  let r: Scalar;
  switch (op) {
    case BPF_ADD: r = add64(a, b); break;
    case BPF_SUB: r = sub64(a, b); break;
    case BPF_AND: r = and64(a, b); break;
    case BPF_OR: r = or64(a, b); break;
    case BPF_XOR: r = xor64(a, b); break;
    case BPF_MUL: {
      const k = cb ?? ca;
      const x = cb !== undefined ? a : b;
      if (k === undefined) return why('a 64-bit product of two arguments');
      if (k === 0n) return constant(0n);
      if ((k & (k - 1n)) !== 0n) return why('a 64-bit product');
      r = lsh64(x, k.toString(2).length - 1);
      break;
    }
    case BPF_DIV:
    case BPF_MOD: {
      if (cb === undefined || off !== 0) return why(`a 64-bit ${off !== 0 ? 'signed ' : ''}${op === BPF_DIV ? 'quotient' : 'remainder'}`);
      if (cb === 0n) return op === BPF_DIV ? constant(0n) : a;
      if ((cb & (cb - 1n)) !== 0n) return why(`a 64-bit ${op === BPF_DIV ? 'quotient' : 'remainder'}`);
      r = op === BPF_DIV ? rsh64(a, cb.toString(2).length - 1) : and64(a, constant(cb - 1n));
      break;
    }
    case BPF_LSH:
    case BPF_RSH:
    case BPF_ARSH: {
      if (cb === undefined) return why('a 64-bit shift by an argument');
      const c = Number(cb & 63n);
      r = op === BPF_LSH ? lsh64(a, c) : op === BPF_RSH ? rsh64(a, c) : arsh64(a, c);
      break;
    }
    default:
      return why(`ALU64 op 0x${op.toString(16)}`);
  }
  return checked(r, pc);
}

function alu32(op: number, a: Value, b: Value, off: number, pc: number): Value {
  const why = (what: string): Value => unknown(pc, `${what} (insn ${pc})`);
  if (op === BPF_MOV) {
    if (b.t !== 's') return b.t === 'u' ? b : why('a 32-bit copy of a pointer');
    return checked(u32(off === 0 ? b.lo : sext(b.lo, off)), pc);
  }
  if (a.t === 'u') return a;
  if (a.t !== 's') return why('32-bit arithmetic on a pointer');
  if (op === BPF_NEG) return checked(u32(neg(a.lo)), pc);
  if (b.t === 'u') return b;
  if (b.t !== 's') return why('32-bit arithmetic on a pointer');
  const x = a.lo, y = b.lo;
  if (x.k === 'c' && y.k === 'c') return u32(C(vmAlu32(op, x.v, y.v, off)));
  let r: Expr;
  switch (op) {
    case BPF_ADD: r = bin('add', x, y); break;
    case BPF_SUB: r = bin('sub', x, y); break;
    case BPF_MUL: r = bin('mul', x, y); break;
    case BPF_AND: r = bin('and', x, y); break;
    case BPF_OR: r = bin('or', x, y); break;
    case BPF_XOR: r = bin('xor', x, y); break;
    case BPF_LSH:
    case BPF_RSH:
      r = bin(op === BPF_LSH ? 'lsh' : 'rsh', x, y.k === 'c' ? C(y.v & 31) : bin('and', y, C(31)));
      break;
    case BPF_ARSH:
      if (y.k !== 'c') return why('an arithmetic shift by an argument');
      r = arsh(x, y.v & 31);
      break;
    case BPF_DIV:
    case BPF_MOD: {
      // A classic filter dividing by X = 0 stops with verdict 0; eBPF gives 0 (or x): only constants.
      if (y.k !== 'c' || off !== 0) return why(`a ${off !== 0 ? 'signed ' : ''}${op === BPF_DIV ? 'quotient' : 'remainder'} by a variable`);
      if (op === BPF_DIV) r = bin('div', x, y);
      else if (y.v === 0) r = x;
      else if ((y.v & (y.v - 1)) === 0) r = bin('and', x, C(y.v - 1));
      else r = bin('sub', x, bin('mul', bin('div', x, y), y));
      break;
    }
    default:
      return why(`ALU op 0x${op.toString(16)}`);
  }
  return checked(u32(r), pc);
}

/** Pointer +/- constant, and the difference of two pointers into one region; else unknown. */
function pointerArith(op: number, a: Value, b: Value, pc: number): Value {
  const cb = asConst(b), ca = asConst(a);
  const moved = (ptr: Value, delta: bigint): Value => {
    const d = Number(BigInt.asIntN(64, delta));
    if (!Number.isSafeInteger(d) || Math.abs(d) > 2 ** 31) return unknown(pc, `a pointer moved far out of its region (insn ${pc})`);
    if (ptr.t === 'ctx' || ptr.t === 'stack' || ptr.t === 'mapval') return { ...ptr, off: ptr.off + d };
    return unknown(pc, `arithmetic on a map handle (insn ${pc})`);
  };
  if (op === BPF_ADD && cb !== undefined) return moved(a, cb);
  if (op === BPF_ADD && ca !== undefined) return moved(b, ca);
  if (op === BPF_SUB && cb !== undefined) return moved(a, -cb);
  if (op === BPF_SUB && sameRegion(a, b)) return constant(BigInt((a as { off: number }).off - (b as { off: number }).off));
  return unknown(pc, `pointer arithmetic (insn ${pc})`);
}

export function sameRegion(a: Value, b: Value): boolean {
  if (a.t === 'ctx' && b.t === 'ctx') return true;
  if (a.t === 'stack' && b.t === 'stack') return a.frame === b.frame;
  return a.t === 'mapval' && b.t === 'mapval' && a.map === b.map;
}

/** A jump comparing two pointers into one region follows from their offsets; else undefined. */
export function comparePointers(op: number, a: Value, b: Value, is32: boolean): boolean | undefined {
  if (!sameRegion(a, b)) return undefined;
  const base = a.t === 'stack' ? BPF_MAX_STACK : 0;
  const x = (a as { off: number }).off + base, y = (b as { off: number }).off + base;
  if (x < 0 || y < 0 || x > 0xffff_ffff || y > 0xffff_ffff) return undefined;
  return is32 ? cond32(op, x, y) : cond64(op, BigInt(x), BigInt(y));
}
