/**
 * @module ebpf/verifier/tnum
 * Tristate numbers ("tnums"): the known-bits half of the verifier's scalar domain, with the
 * semantics of Linux's kernel/bpf/tnum.c (own code). A tnum over u64 is a pair (value, mask):
 * every bit set in `mask` is unknown, every other bit is known and equals the bit of `value`
 * (so `value & mask === 0`). The set it stands for is { x : (x & ~mask) === value }.
 *
 *     value 0b0100, mask 0b0011  ->  { 0b0100, 0b0101, 0b0110, 0b0111 }
 *
 * All operations are over-approximations: if x ∈ a and y ∈ b then (x op y) ∈ tnumOp(a, b).
 * Values are u64 bigints; 32-bit views ("subregisters") are the low 32 bits.
 */

/** A tristate number; invariant: value & mask === 0n, both in [0, 2^64). */
export interface Tnum {
  readonly value: bigint;
  readonly mask: bigint;
}

/** 2^64 - 1. */
export const U64_MAX = 0xffff_ffff_ffff_ffffn;
/** 2^32 - 1. */
export const U32_MASK = 0xffff_ffffn;
const HIGH32 = U64_MAX ^ U32_MASK;

const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const mk = (value: bigint, mask: bigint): Tnum => ({ value, mask });

/** Number of significant bits of a u64 (0 for 0): the kernel's fls64. */
function bitLength(x: bigint): number {
  const hi = Number(x >> 32n);
  return hi !== 0 ? 64 - Math.clz32(hi) : 32 - Math.clz32(Number(x & U32_MASK));
}

/** The tnum of exactly one value (taken mod 2^64). */
export function tnumConst(v: bigint): Tnum {
  return mk(u64(v), 0n);
}

/** Nothing known. */
export const tnumUnknown: Tnum = Object.freeze(mk(0n, U64_MAX));

/** The smallest tnum containing every value of [min, max] (unsigned; min <= max). */
export function tnumRange(min: bigint, max: bigint): Tnum {
  const chi = min ^ max;
  // Bits at and below the highest differing bit are unknown.
  const bits = bitLength(chi);
  if (bits > 63) return tnumUnknown;
  const delta = (1n << BigInt(bits)) - 1n;
  return mk(min & ~delta, delta);
}

/** Left shift by a known amount (bits shifted out are lost). */
export function tnumLshift(a: Tnum, shift: number): Tnum {
  const s = BigInt(shift);
  return mk(u64(a.value << s), u64(a.mask << s));
}

/** Logical right shift by a known amount. */
export function tnumRshift(a: Tnum, shift: number): Tnum {
  const s = BigInt(shift);
  return mk(a.value >> s, a.mask >> s);
}

/**
 * Arithmetic right shift by a known amount. With `bitness` 32 the operand is taken as its low
 * 32 bits (a signed 32-bit value) and the result is the zero-extended u32; with 64 it is the
 * whole register. An unknown sign bit makes every shifted-in bit unknown.
 */
export function tnumArshift(a: Tnum, shift: number, bitness: 32 | 64): Tnum {
  const s = BigInt(shift);
  if (bitness === 32) {
    const v = BigInt.asIntN(32, a.value) >> s;
    const m = BigInt.asIntN(32, a.mask) >> s;
    return mk(BigInt.asUintN(32, v), BigInt.asUintN(32, m));
  }
  return mk(u64(BigInt.asIntN(64, a.value) >> s), u64(BigInt.asIntN(64, a.mask) >> s));
}

/** Addition mod 2^64: carries out of unknown bits make the bits they reach unknown. */
export function tnumAdd(a: Tnum, b: Tnum): Tnum {
  const sm = u64(a.mask + b.mask);
  const sv = u64(a.value + b.value);
  const sigma = u64(sm + sv);
  const chi = sigma ^ sv; // bits where some carry pattern differs
  const mu = chi | a.mask | b.mask;
  return mk(sv & ~mu, mu);
}

/** Subtraction mod 2^64. */
export function tnumSub(a: Tnum, b: Tnum): Tnum {
  const dv = u64(a.value - b.value);
  const alpha = u64(dv + a.mask); // largest minuend, smallest subtrahend
  const beta = u64(dv - b.mask); // smallest minuend, largest subtrahend
  const chi = alpha ^ beta;
  const mu = chi | a.mask | b.mask;
  return mk(dv & ~mu, mu);
}

/** Two's complement negation. */
export function tnumNeg(a: Tnum): Tnum {
  return tnumSub(tnumConst(0n), a);
}

export function tnumAnd(a: Tnum, b: Tnum): Tnum {
  const alpha = a.value | a.mask; // bits that may be 1
  const beta = b.value | b.mask;
  const v = a.value & b.value;
  return mk(v, alpha & beta & ~v);
}

export function tnumOr(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask | b.mask;
  return mk(v, mu & ~v);
}

export function tnumXor(a: Tnum, b: Tnum): Tnum {
  const v = a.value ^ b.value;
  const mu = a.mask | b.mask;
  return mk(v & ~mu, mu);
}

/** The smallest tnum containing both a and b (the bits they agree on stay known). */
export function tnumUnion(a: Tnum, b: Tnum): Tnum {
  const v = a.value & b.value;
  const mu = (a.value ^ b.value) | a.mask | b.mask;
  return mk(v & ~mu, mu);
}

/**
 * Multiplication mod 2^64, by long multiplication over the bits of `a`: a known 1 adds the
 * shifted `b`, an unknown bit joins "added" and "not added" (the algorithm of Linux 6.18).
 */
export function tnumMul(a: Tnum, b: Tnum): Tnum {
  let acc = mk(0n, 0n);
  let av = a.value, am = a.mask, bt = b;
  while (av !== 0n || am !== 0n) {
    if (av & 1n) acc = tnumAdd(acc, bt);
    else if (am & 1n) acc = tnumUnion(acc, tnumAdd(acc, bt));
    av >>= 1n;
    am >>= 1n;
    bt = tnumLshift(bt, 1);
  }
  return acc;
}

/**
 * Values in both a and b (known bits of either). Only meaningful when they overlap
 * (see tnumOverlap); on conflicting known bits the result is arbitrary, as in the kernel.
 */
export function tnumIntersect(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask & b.mask;
  return mk(v & ~mu, mu);
}

/** True when a and b have a value in common (no known bit differs). */
export function tnumOverlap(a: Tnum, b: Tnum): boolean {
  return ((a.value ^ b.value) & ~(a.mask | b.mask)) === 0n;
}

/** Truncates to the low `bytes` bytes (zero-extension of a narrower value). */
export function tnumCast(a: Tnum, bytes: number): Tnum {
  const m = (1n << BigInt(bytes * 8)) - 1n;
  return mk(a.value & m, a.mask & m);
}

export function tnumIsConst(a: Tnum): boolean {
  return a.mask === 0n;
}

export function tnumIsUnknown(a: Tnum): boolean {
  return a.mask === U64_MAX;
}

/** True when every value of `inner` is a value of `outer` (kernel tnum_in). */
export function tnumIn(outer: Tnum, inner: Tnum): boolean {
  if (inner.mask & ~outer.mask) return false;
  return (inner.value & ~outer.mask) === outer.value;
}

/** True when the concrete u64 `x` is a value of `a`. */
export function tnumContains(a: Tnum, x: bigint): boolean {
  return (u64(x) & ~a.mask) === a.value;
}

/** The smallest value of `a` greater than `z`, or undefined if there is none. */
export function tnumStep(a: Tnum, z: bigint): bigint | undefined {
  if (z >= U64_MAX) return undefined;
  const y = z + 1n;
  // Known bits where y disagrees with a; if none, y itself is a member.
  const d = (y ^ a.value) & ~a.mask;
  if (d === 0n) return y;
  const h = BigInt(bitLength(d) - 1);
  const above = ~((1n << (h + 1n)) - 1n) & U64_MAX;
  // y has 0 where a needs 1: keep y's bits above h, the rest minimal.
  if ((a.value >> h) & 1n) return (y & a.mask & above) | a.value;
  // y has 1 where a needs 0: carry into the lowest unknown bit above h that y has clear.
  const free = a.mask & ~y & above;
  if (free === 0n) return undefined;
  const p = free & -free;
  return (y & a.mask & ~((p << 1n) - 1n)) | p | a.value;
}

/** The low 32 bits (zero-extended). */
export function tnumSubreg(a: Tnum): Tnum {
  return tnumCast(a, 4);
}

/** The high 32 bits, with the low 32 bits known zero. */
export function tnumClearSubreg(a: Tnum): Tnum {
  return mk(a.value & HIGH32, a.mask & HIGH32);
}

/** The high 32 bits of `reg` with the low 32 bits of `subreg`. */
export function tnumWithSubreg(reg: Tnum, subreg: Tnum): Tnum {
  return tnumOr(tnumClearSubreg(reg), tnumSubreg(subreg));
}

/** The high 32 bits of `reg` with the low 32 bits equal to `v`. */
export function tnumConstSubreg(reg: Tnum, v: bigint): Tnum {
  return tnumWithSubreg(reg, tnumConst(v));
}

export function tnumSubregIsConst(a: Tnum): boolean {
  return (a.mask & U32_MASK) === 0n;
}

/** Byte swap of the low `bits` bits (zero-extended), as BPF_END to big-endian and BSWAP do. */
export function tnumBswap(a: Tnum, bits: 16 | 32 | 64): Tnum {
  return mk(bswap(a.value, bits), bswap(a.mask, bits));
}

function bswap(x: bigint, bits: number): bigint {
  let out = 0n;
  for (let i = 0; i < bits; i += 8) out = (out << 8n) | ((x >> BigInt(i)) & 0xffn);
  return out;
}

/** Kernel log form: "(0x4; 0x3)". */
export function tnumFormat(a: Tnum): string {
  return `(0x${a.value.toString(16)}; 0x${a.mask.toString(16)})`;
}
