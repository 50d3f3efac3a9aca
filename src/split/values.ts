/**
 * @module split/values
 * What a register (or a stack slot) holds during the split's analysis, and eBPF's 64-bit ALU
 * on symbolic scalars. A scalar is a pair of 32-bit expressions (split/expr):
 *
 *   63          32 31           0
 *   +-------------+-------------+
 *   |   hi expr   |   lo expr   |
 *   +-------------+-------------+
 *
 * 64-bit operations are spelled with 32-bit ones: add carries with the branch-free carry
 * ((a & b) | ((a | b) & ~s)) >> 31, shifts by constants move bits between the halves. An
 * operation the pair cannot express (multiplying two arguments, a 64-bit shift by an argument,
 * a result too large for a classic-BPF filter) gives `unknown`: a test or a verdict that depends
 * on it sends the path to the supervisor.
 *
 * Pointers (context, stack, map value, map handle) keep their region and a constant offset.
 */
import { arsh, bin, bswap16, bswap32, C, neg, sext, ZERO, type Expr } from './expr.js';

export interface Scalar { readonly t: 's'; readonly hi: Expr; readonly lo: Expr }
/** The struct seccomp_data pointer plus `off`. */
export interface CtxPtr { readonly t: 'ctx'; readonly off: number }
/** The frame pointer of call frame `frame` (r10 of that frame) plus `off` (negative inside the stack). */
export interface StackPtr { readonly t: 'stack'; readonly frame: number; readonly off: number }
/** The single value of array map `map` (lddw map_value) plus `off`. */
export interface MapValuePtr { readonly t: 'mapval'; readonly map: number; readonly off: number }
/** A map handle (lddw map fd): only helpers take it. */
export interface MapHandle { readonly t: 'maph'; readonly map: number }
/** A value the analysis does not track; `insn` and `why` say where it came from. */
export interface Unknown { readonly t: 'u'; readonly insn: number; readonly why: string }
export type Value = Scalar | CtxPtr | StackPtr | MapValuePtr | MapHandle | Unknown;
export type Pointer = CtxPtr | StackPtr | MapValuePtr;

/** Largest expression kept (nodes) and scratch words used: larger values become unknown. */
const MAX_SIZE = 96;
const MAX_DEPTH = 12;

export const scalar = (hi: Expr, lo: Expr): Scalar => ({ t: 's', hi, lo });
export const u32 = (lo: Expr): Scalar => scalar(ZERO, lo);
export const unknown = (insn: number, why: string): Unknown => ({ t: 'u', insn, why });

export function constant(v: bigint): Scalar {
  const u = BigInt.asUintN(64, v);
  return scalar(C(Number(u >> 32n)), C(Number(u & 0xffff_ffffn)));
}

/** The value of a scalar when both halves are constants. */
export function asConst(v: Value): bigint | undefined {
  if (v.t !== 's' || v.hi.k !== 'c' || v.lo.k !== 'c') return undefined;
  return (BigInt(v.hi.v) << 32n) | BigInt(v.lo.v);
}

/** True when a classic-BPF filter can evaluate both halves within its limits. */
export function fits(s: Scalar): boolean {
  return s.hi.size <= MAX_SIZE && s.lo.size <= MAX_SIZE && s.hi.depth <= MAX_DEPTH && s.lo.depth <= MAX_DEPTH;
}

const not = (x: Expr): Expr => bin('xor', x, C(0xffff_ffff));

/** Carry out of x + y whose low word is s. */
function carry(x: Expr, y: Expr, s: Expr): Expr {
  if (x.mask + y.mask <= 0xffff_ffff) return ZERO;
  return bin('rsh', bin('or', bin('and', x, y), bin('and', bin('or', x, y), not(s))), C(31));
}

/** Borrow out of x - y whose low word is d. */
function borrow(x: Expr, y: Expr, d: Expr): Expr {
  if (y.k === 'c' && y.v === 0) return ZERO;
  return bin('rsh', bin('or', bin('and', not(x), y), bin('and', not(bin('xor', x, y)), d)), C(31));
}

export function add64(a: Scalar, b: Scalar): Scalar {
  const lo = bin('add', a.lo, b.lo);
  return scalar(bin('add', bin('add', a.hi, b.hi), carry(a.lo, b.lo, lo)), lo);
}

export function sub64(a: Scalar, b: Scalar): Scalar {
  const lo = bin('sub', a.lo, b.lo);
  return scalar(bin('sub', bin('sub', a.hi, b.hi), borrow(a.lo, b.lo, lo)), lo);
}

export const and64 = (a: Scalar, b: Scalar): Scalar => scalar(bin('and', a.hi, b.hi), bin('and', a.lo, b.lo));
export const or64 = (a: Scalar, b: Scalar): Scalar => scalar(bin('or', a.hi, b.hi), bin('or', a.lo, b.lo));
export const xor64 = (a: Scalar, b: Scalar): Scalar => scalar(bin('xor', a.hi, b.hi), bin('xor', a.lo, b.lo));
export const neg64 = (a: Scalar): Scalar => sub64(constant(0n), a);

/** a << c, c in 0..63. */
export function lsh64(a: Scalar, c: number): Scalar {
  if (c === 0) return a;
  if (c >= 32) return scalar(bin('lsh', a.lo, C(c - 32)), ZERO);
  return scalar(bin('or', bin('lsh', a.hi, C(c)), bin('rsh', a.lo, C(32 - c))), bin('lsh', a.lo, C(c)));
}

/** a >> c (logical), c in 0..63. */
export function rsh64(a: Scalar, c: number): Scalar {
  if (c === 0) return a;
  if (c >= 32) return scalar(ZERO, bin('rsh', a.hi, C(c - 32)));
  return scalar(bin('rsh', a.hi, C(c)), bin('or', bin('rsh', a.lo, C(c)), bin('lsh', a.hi, C(32 - c))));
}

/** a s>> c, c in 0..63. */
export function arsh64(a: Scalar, c: number): Scalar {
  if (c === 0) return a;
  if (c >= 32) return scalar(arsh(a.hi, 31), arsh(a.hi, c - 32));
  return scalar(arsh(a.hi, c), bin('or', bin('rsh', a.lo, C(c)), bin('lsh', a.hi, C(32 - c))));
}

/** The low `bits` (8, 16, 32) bits of a, sign-extended to 64. */
export function sext64(a: Scalar, bits: number): Scalar {
  const lo = bits === 32 ? a.lo : sext(a.lo, bits);
  return scalar(arsh(lo, 31), lo);
}

/** The low `bytes` bytes of a (zero-extended). */
export function truncate(a: Scalar, bytes: number): Scalar {
  if (bytes >= 8) return a;
  if (bytes > 4) return scalar(bin('and', a.hi, C(2 ** (8 * (bytes - 4)) - 1)), a.lo);
  return u32(bytes === 4 ? a.lo : bin('and', a.lo, C(2 ** (8 * bytes) - 1)));
}

/** Bytes [from, from + len) of a, as a zero-extended value. */
export function extract(a: Scalar, from: number, len: number): Scalar {
  return truncate(rsh64(a, 8 * from), len);
}

/** BPF_END: byte swap of the low `bits` bits (to big endian / bswap), or truncation (to little endian). */
export function endian(a: Scalar, bits: number, swap: boolean): Scalar {
  if (!swap) return bits === 64 ? a : truncate(a, bits / 8);
  if (bits === 16) return u32(bswap16(a.lo));
  if (bits === 32) return u32(bswap32(a.lo));
  return scalar(bswap32(a.lo), bswap32(a.hi));
}

/** -x for a 32-bit operand. */
export const neg32 = (a: Expr): Expr => neg(a);
