/**
 * @module ebpf/verifier/scalar
 * The scalar part of the verifier's register state, as Linux's verifier tracks it in
 * struct bpf_reg_state (own code, following kernel/bpf/verifier.c of Linux 6.18): a tnum of
 * known bits plus signed and unsigned bounds of the 64-bit value and of its low 32 bits.
 * Every operation returns a new, fully synchronised Scalar (the kernel's reg_bounds_sync:
 * bounds from known bits, signed <-> unsigned, 32 <-> 64 bits, known bits from bounds).
 *
 * The transfer functions mirror the kernel's precision on purpose, neither better nor
 * worse: a verifier that is more precise than the kernel would accept programs the kernel
 * rejects. test/verifier-scalar.test.ts checks this against the kernel's own verifier log,
 * state by state. Every function is sound: each concrete result of an operation on concrete
 * members of the inputs is a member of the abstract result.
 *
 * What the verifier around this module must do itself, as the kernel does: scalar ids
 * (registers linked by moves and `+= const`, sync_linked_regs), precision marks, the path
 * split at AND/OR on [-1, 0] (scalarAluFork), BPF_K operands as sign-extended constants.
 * Known difference: an edge whose refinement is contradictory is null here (pruned); the
 * kernel resets that register's bounds and explores the edge (see scalarBranch).
 */
import {
  BPF_ADD, BPF_AND, BPF_ARSH, BPF_DIV, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JNE, BPF_JSET, BPF_JSGE,
  BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_LSH, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR, BPF_RSH, BPF_SUB, BPF_XOR,
} from '../../abi/bpf.js';
import type { AluOp, JmpOp } from '../opcodes.js';
import {
  type Tnum, U64_MAX, tnumAdd, tnumAnd, tnumArshift, tnumBswap, tnumCast, tnumClearSubreg, tnumConst, tnumConstSubreg,
  tnumContains, tnumFormat, tnumIn, tnumIntersect, tnumIsConst, tnumIsUnknown, tnumLshift, tnumMul, tnumOr, tnumOverlap,
  tnumRange, tnumRshift, tnumStep, tnumSub, tnumSubreg, tnumSubregIsConst, tnumUnknown, tnumWithSubreg, tnumXor,
} from './tnum.js';

/** A set of u64 values: known bits and bounds in four views (kernel struct bpf_reg_state). */
export interface Scalar {
  readonly var: Tnum;
  /** 64-bit signed bounds, in [-2^63, 2^63). */
  readonly smin: bigint;
  readonly smax: bigint;
  /** 64-bit unsigned bounds, in [0, 2^64). */
  readonly umin: bigint;
  readonly umax: bigint;
  /** Bounds of the low 32 bits as s32 and as u32. */
  readonly s32min: number;
  readonly s32max: number;
  readonly u32min: number;
  readonly u32max: number;
}

/** Mutable working copy used inside the transfer functions. */
export type MutScalar = { -readonly [K in keyof Scalar]: Scalar[K] };

export const S64_MIN = -(1n << 63n);
export const S64_MAX = (1n << 63n) - 1n;
export const S32_MIN = -0x8000_0000;
export const S32_MAX = 0x7fff_ffff;
export const U32_MAX = 0xffff_ffff;
const SIGN64 = 1n << 63n;
const S32_MIN_N = BigInt(S32_MIN), S32_MAX_N = BigInt(S32_MAX);

const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const lo32 = (x: bigint): number => Number(x & 0xffff_ffffn);
const bmax = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const bmin = (a: bigint, b: bigint): bigint => (a < b ? a : b);

// ---------------------------------------------------------------------------------------------
// Construction
// ---------------------------------------------------------------------------------------------

/** Fully unbounded bounds with the given known bits (kernel __mark_reg_unbounded). */
function unbounded(t: Tnum): MutScalar {
  return { var: t, smin: S64_MIN, smax: S64_MAX, umin: 0n, umax: U64_MAX, s32min: S32_MIN, s32max: S32_MAX, u32min: 0, u32max: U32_MAX };
}

function markKnown(r: MutScalar, v: bigint): void {
  const x = u64(v);
  r.var = tnumConst(x);
  r.smin = r.smax = s64(x);
  r.umin = r.umax = x;
  r.u32min = r.u32max = lo32(x);
  r.s32min = r.s32max = lo32(x) | 0;
}

function markKnown32(r: MutScalar, v: number): void {
  r.var = tnumConstSubreg(r.var, BigInt(v >>> 0));
  r.s32min = r.s32max = v | 0;
  r.u32min = r.u32max = v >>> 0;
}

function mark64Unbounded(r: MutScalar): void {
  r.smin = S64_MIN; r.smax = S64_MAX; r.umin = 0n; r.umax = U64_MAX;
}

function mark32Unbounded(r: MutScalar): void {
  r.s32min = S32_MIN; r.s32max = S32_MAX; r.u32min = 0; r.u32max = U32_MAX;
}

/** The scalar holding exactly `v` (taken mod 2^64). */
export function scalarConst(v: bigint): Scalar {
  const r = unbounded(tnumUnknown);
  markKnown(r, v);
  return r;
}

/** Any u64 (kernel mark_reg_unknown). */
export function scalarUnknown(): Scalar {
  return unbounded(tnumUnknown);
}

/** Any value in the unsigned range [umin, umax] (arguments taken mod 2^64, umin <= umax). */
export function scalarRange(umin: bigint, umax: bigint): Scalar {
  const r = unbounded(tnumUnknown);
  r.umin = u64(umin);
  r.umax = u64(umax);
  return sync(r);
}

/** Any value in the signed range [smin, smax] (s64 arguments, smin <= smax). */
export function scalarSignedRange(smin: bigint, smax: bigint): Scalar {
  const r = unbounded(tnumUnknown);
  r.smin = s64(smin);
  r.smax = s64(smax);
  return sync(r);
}

/** Any value matching the known bits of `t`. */
export function scalarFromTnum(t: Tnum): Scalar {
  return sync(unbounded(t));
}

/** The value as u64 when the scalar is a constant, else undefined. */
export function scalarConstValue(s: Scalar): bigint | undefined {
  return tnumIsConst(s.var) ? s.var.value : undefined;
}

/** The low 32 bits when they are a constant (kernel tnum_subreg_is_const), else undefined. */
export function scalarConstValue32(s: Scalar): number | undefined {
  return tnumSubregIsConst(s.var) ? lo32(s.var.value) : undefined;
}

/** True when nothing is known (kernel: unknown tnum and unbounded). */
export function scalarIsUnknown(s: Scalar): boolean {
  return tnumIsUnknown(s.var) && s.smin === S64_MIN && s.smax === S64_MAX && s.umin === 0n && s.umax === U64_MAX &&
    s.s32min === S32_MIN && s.s32max === S32_MAX && s.u32min === 0 && s.u32max === U32_MAX;
}

/** True when the concrete value `v` (mod 2^64) is allowed by every component of `s`. */
export function scalarContains(s: Scalar, v: bigint): boolean {
  const x = u64(v);
  if (!tnumContains(s.var, x)) return false;
  if (x < s.umin || x > s.umax) return false;
  const sx = s64(x);
  if (sx < s.smin || sx > s.smax) return false;
  const w = lo32(x);
  if (w < s.u32min || w > s.u32max) return false;
  return (w | 0) >= s.s32min && (w | 0) <= s.s32max;
}

/** True when no value satisfies all components (a contradiction, e.g. after refinement). */
export function scalarIsEmpty(s: Scalar): boolean {
  if (s.umin > s.umax || s.smin > s.smax || s.u32min > s.u32max || s.s32min > s.s32max) return true;
  // Bounds outside what the known bits allow.
  if (s.var.value > s.umax || (s.var.value | s.var.mask) < s.umin) return true;
  const v32 = lo32(s.var.value), m32 = lo32(s.var.mask);
  return v32 > s.u32max || ((v32 | m32) >>> 0) < s.u32min;
}

/** Structural equality. */
export function scalarEquals(a: Scalar, b: Scalar): boolean {
  return a.var.value === b.var.value && a.var.mask === b.var.mask && a.smin === b.smin && a.smax === b.smax &&
    a.umin === b.umin && a.umax === b.umax && a.s32min === b.s32min && a.s32max === b.s32max &&
    a.u32min === b.u32min && a.u32max === b.u32max;
}

/**
 * For state pruning: every value of `cur` is a value of `old` (kernel range_within +
 * tnum_in, the non-exact scalar case of regsafe).
 */
export function scalarSubsumes(old: Scalar, cur: Scalar): boolean {
  return old.umin <= cur.umin && old.umax >= cur.umax && old.smin <= cur.smin && old.smax >= cur.smax &&
    old.u32min <= cur.u32min && old.u32max >= cur.u32max && old.s32min <= cur.s32min && old.s32max >= cur.s32max &&
    tnumIn(old.var, cur.var);
}

// ---------------------------------------------------------------------------------------------
// reg_bounds_sync
// ---------------------------------------------------------------------------------------------

/** Bounds implied by the known bits (kernel __update_reg32_bounds / __update_reg64_bounds). */
function updateBounds(r: MutScalar): void {
  const v32 = lo32(r.var.value), m32 = lo32(r.var.mask);
  r.s32min = Math.max(r.s32min, (v32 | (m32 & 0x8000_0000)) | 0);
  r.s32max = Math.min(r.s32max, (v32 | (m32 & 0x7fff_ffff)) | 0);
  r.u32min = Math.max(r.u32min, v32);
  r.u32max = Math.min(r.u32max, (v32 | m32) >>> 0);
  const { value, mask } = r.var;
  r.smin = bmax(r.smin, s64(value | (mask & SIGN64)));
  r.smax = bmin(r.smax, s64(value | (mask & S64_MAX)));
  r.umin = bmax(r.umin, value);
  r.umax = bmin(r.umax, value | mask);
  // The u64 range and the known bits may have a single value in common: then it is a constant
  // (the kernel looks only when umin is below the largest value of the tnum).
  const tmax = value | mask;
  if (mask === 0n || r.umin >= tmax || r.umin > r.umax || (r.umin === value && r.umax === tmax)) return;
  const uminIn = tnumContains(r.var, r.umin);
  const next = tnumStep(r.var, r.umin);
  if (uminIn && (next === undefined || next > r.umax)) markKnown(r, r.umin);
  else if (!uminIn && next === tmax) markKnown(r, tmax);
  else if (!uminIn && next !== undefined && next <= r.umax) {
    const after = tnumStep(r.var, next);
    if (after === undefined || after > r.umax) markKnown(r, next);
  }
}

/** 32-bit bounds from the 64-bit ones and between s32/u32 (kernel __reg32_deduce_bounds). */
function deduce32(r: MutScalar): void {
  // Upper halves as u32 (signed ones as s32) and low halves as u32, computed once.
  const uminHi = Number(r.umin >> 32n), umaxHi = Number(r.umax >> 32n);
  const sminHi = Number(r.smin >> 32n), smaxHi = Number(r.smax >> 32n);
  const uminLo = lo32(r.umin), umaxLo = lo32(r.umax), sminLo = lo32(r.smin), smaxLo = lo32(r.smax);
  // All values share their upper 32 bits: the low halves form the range [lo(min), lo(max)].
  if (uminHi === umaxHi) narrow32(r, uminLo, umaxLo);
  if (sminHi === smaxHi) narrow32(r, sminLo, smaxLo);
  // Upper halves h and h+1: the low halves run from lo(min) up through -1, 0 to lo(max).
  if (((uminHi + 1) >>> 0) === umaxHi && (uminLo | 0) < 0 && (umaxLo | 0) >= 0) {
    r.s32min = Math.max(r.s32min, uminLo | 0);
    r.s32max = Math.min(r.s32max, umaxLo | 0);
  }
  if (((sminHi + 1) >>> 0) === (smaxHi >>> 0) && (sminLo | 0) < 0 && (smaxLo | 0) >= 0) {
    r.s32min = Math.max(r.s32min, sminLo | 0);
    r.s32max = Math.min(r.s32max, smaxLo | 0);
  }
  // A u32 range that does not cross the s32 sign boundary is also an s32 range, and back.
  if ((r.u32min | 0) <= (r.u32max | 0)) {
    r.s32min = Math.max(r.s32min, r.u32min | 0);
    r.s32max = Math.min(r.s32max, r.u32max | 0);
  }
  if ((r.s32min >>> 0) <= (r.s32max >>> 0)) {
    r.u32min = Math.max(r.u32min, r.s32min >>> 0);
    r.u32max = Math.min(r.u32max, r.s32max >>> 0);
  } else if (r.u32max < (r.s32min >>> 0)) {
    // The s32 range is [s32min, -1] ∪ [0, s32max]; the u32 bounds rule out the negative part.
    r.s32min = r.u32min | 0;
    r.u32max = Math.min(r.u32max, r.s32max >>> 0);
  } else if ((r.s32max >>> 0) < r.u32min) {
    // ... or the non-negative part.
    r.s32max = r.u32max | 0;
    r.u32min = Math.max(r.u32min, r.s32min >>> 0);
  }
}

/** The low halves lie in the u32 range [a, b]; also an s32 range unless it crosses the sign. */
function narrow32(r: MutScalar, a: number, b: number): void {
  r.u32min = Math.max(r.u32min, a);
  r.u32max = Math.min(r.u32max, b);
  if ((a | 0) <= (b | 0)) {
    r.s32min = Math.max(r.s32min, a | 0);
    r.s32max = Math.min(r.s32max, b | 0);
  }
}

/** Signed <-> unsigned 64-bit bounds (kernel __reg64_deduce_bounds). */
function deduce64(r: MutScalar): void {
  if (s64(r.umin) <= s64(r.umax)) {
    r.smin = bmax(r.smin, s64(r.umin));
    r.smax = bmin(r.smax, s64(r.umax));
  }
  if (u64(r.smin) <= u64(r.smax)) {
    r.umin = bmax(r.umin, u64(r.smin));
    r.umax = bmin(r.umax, u64(r.smax));
  } else if (r.umax < u64(r.smin)) {
    // The signed range is [smin, -1] ∪ [0, smax]; the unsigned bounds rule out the negative part.
    r.smin = s64(r.umin);
    r.umax = bmin(r.umax, u64(r.smax));
  } else if (u64(r.smax) < r.umin) {
    // ... or the non-negative part.
    r.smax = s64(r.umax);
    r.umin = bmax(r.umin, u64(r.smin));
  }
}

/** 64-bit bounds from the 32-bit ones (kernel __reg_deduce_mixed_bounds). */
function deduceMixed(r: MutScalar): void {
  // A bound keeps its upper half and takes the u32 bound as its low half when that is tighter
  // (same upper half, so comparing the low halves decides).
  const hi = ~0xffff_ffffn;
  if (r.u32min > lo32(r.umin)) r.umin = (r.umin & hi) | BigInt(r.u32min);
  if (r.u32max < lo32(r.umax)) r.umax = (r.umax & hi) | BigInt(r.u32max);
  if (r.u32min > lo32(r.smin)) r.smin = (r.smin & hi) | BigInt(r.u32min);
  if (r.u32max < lo32(r.smax)) r.smax = (r.smax & hi) | BigInt(r.u32max);
  // Within [S32_MIN, S32_MAX] a value is its sign-extended low half: a non-negative s32 range
  // is then the whole 64-bit range (the pattern after sign-extending loads).
  if (r.s32min >= 0 && r.smin >= S32_MIN_N && r.smax <= S32_MAX_N) {
    r.smin = r.umin = BigInt(r.s32min);
    r.smax = r.umax = BigInt(r.s32max);
    r.var = tnumIntersect(r.var, tnumRange(r.smin, r.smax));
  }
}

function deduceBounds(r: MutScalar): void {
  deduce32(r);
  deduce64(r);
  deduceMixed(r);
}

/** Known bits from the bounds (kernel __reg_bound_offset). */
function boundOffset(r: MutScalar): void {
  const v64 = tnumIntersect(r.var, tnumRange(r.umin, r.umax));
  const v32 = tnumIntersect(tnumSubreg(v64), tnumRange(BigInt(r.u32min), BigInt(r.u32max)));
  r.var = tnumOr(tnumClearSubreg(v64), v32);
}

/** Kernel reg_bounds_sync. Returns its argument. */
function sync(r: MutScalar): MutScalar {
  updateBounds(r);
  // Three rounds, as Linux 6.18: facts found late in one round feed the earlier steps.
  deduceBounds(r);
  deduceBounds(r);
  deduceBounds(r);
  boundOffset(r);
  updateBounds(r);
  return r;
}

/** A 32-bit result becomes the zero-extended 64-bit value (kernel zext_32_to_64). */
function zext32(r: MutScalar): void {
  r.var = tnumSubreg(r.var);
  r.umin = BigInt(r.u32min);
  r.umax = BigInt(r.u32max);
  if (r.s32min >= 0 && r.s32max >= 0) {
    r.smin = BigInt(r.s32min);
    r.smax = BigInt(r.s32max);
  } else {
    r.smin = 0n;
    r.smax = BigInt(U32_MAX);
  }
}

// ---------------------------------------------------------------------------------------------
// ALU transfer functions (kernel adjust_scalar_min_max_vals and its scalar*_min_max_* helpers)
// ---------------------------------------------------------------------------------------------

function add32(d: MutScalar, s: Scalar): void {
  const smin = d.s32min + s.s32min, smax = d.s32max + s.s32max;
  if (smin < S32_MIN || smin > S32_MAX || smax < S32_MIN || smax > S32_MAX) {
    d.s32min = S32_MIN; d.s32max = S32_MAX;
  } else {
    d.s32min = smin; d.s32max = smax;
  }
  // All additions wrap or none does: the bounds wrap consistently; otherwise unknown.
  const umin = d.u32min + s.u32min, umax = d.u32max + s.u32max;
  if (umin <= U32_MAX && umax > U32_MAX) {
    d.u32min = 0; d.u32max = U32_MAX;
  } else {
    d.u32min = umin >>> 0; d.u32max = umax >>> 0;
  }
}

function add64(d: MutScalar, s: Scalar): void {
  const smin = d.smin + s.smin, smax = d.smax + s.smax;
  if (smin < S64_MIN || smin > S64_MAX || smax < S64_MIN || smax > S64_MAX) {
    d.smin = S64_MIN; d.smax = S64_MAX;
  } else {
    d.smin = smin; d.smax = smax;
  }
  const umin = d.umin + s.umin, umax = d.umax + s.umax;
  if (umin <= U64_MAX && umax > U64_MAX) {
    d.umin = 0n; d.umax = U64_MAX;
  } else {
    d.umin = u64(umin); d.umax = u64(umax);
  }
}

function sub32(d: MutScalar, s: Scalar): void {
  const smin = d.s32min - s.s32max, smax = d.s32max - s.s32min;
  if (smin < S32_MIN || smin > S32_MAX || smax < S32_MIN || smax > S32_MAX) {
    d.s32min = S32_MIN; d.s32max = S32_MAX;
  } else {
    d.s32min = smin; d.s32max = smax;
  }
  const umin = d.u32min - s.u32max, umax = d.u32max - s.u32min;
  if (umin < 0 && umax >= 0) {
    d.u32min = 0; d.u32max = U32_MAX;
  } else {
    d.u32min = umin >>> 0; d.u32max = umax >>> 0;
  }
}

function sub64(d: MutScalar, s: Scalar): void {
  const smin = d.smin - s.smax, smax = d.smax - s.smin;
  if (smin < S64_MIN || smin > S64_MAX || smax < S64_MIN || smax > S64_MAX) {
    d.smin = S64_MIN; d.smax = S64_MAX;
  } else {
    d.smin = smin; d.smax = smax;
  }
  const umin = d.umin - s.umax, umax = d.umax - s.umin;
  if (umin < 0n && umax >= 0n) {
    d.umin = 0n; d.umax = U64_MAX;
  } else {
    d.umin = u64(umin); d.umax = u64(umax);
  }
}

function mul32(d: MutScalar, s: Scalar): void {
  // Doubles decide these overflow checks correctly: rounding is monotonic and 2^31, 2^32 exact.
  const umax = d.u32max * s.u32max, umin = d.u32min * s.u32min;
  if (umax > U32_MAX) {
    d.u32min = 0; d.u32max = U32_MAX;
  } else {
    d.u32min = umin; d.u32max = umax;
  }
  const p = [d.s32min * s.s32min, d.s32min * s.s32max, d.s32max * s.s32min, d.s32max * s.s32max];
  if (p.some((x) => x < S32_MIN || x > S32_MAX)) {
    d.s32min = S32_MIN; d.s32max = S32_MAX;
  } else {
    d.s32min = Math.min(...p); d.s32max = Math.max(...p);
  }
}

function mul64(d: MutScalar, s: Scalar): void {
  const umax = d.umax * s.umax;
  if (umax > U64_MAX) {
    d.umin = 0n; d.umax = U64_MAX;
  } else {
    d.umin = d.umin * s.umin; d.umax = umax;
  }
  const p = [d.smin * s.smin, d.smin * s.smax, d.smax * s.smin, d.smax * s.smax];
  if (p.some((x) => x < S64_MIN || x > S64_MAX)) {
    d.smin = S64_MIN; d.smax = S64_MAX;
  } else {
    d.smin = p.reduce(bmin); d.smax = p.reduce(bmax);
  }
}

/** s32 bounds from u32 bounds when they do not cross the sign boundary, else unbounded. */
function s32FromU32(d: MutScalar): void {
  if ((d.u32min | 0) <= (d.u32max | 0)) {
    d.s32min = d.u32min | 0; d.s32max = d.u32max | 0;
  } else {
    d.s32min = S32_MIN; d.s32max = S32_MAX;
  }
}

function s64FromU64(d: MutScalar): void {
  if (s64(d.umin) <= s64(d.umax)) {
    d.smin = s64(d.umin); d.smax = s64(d.umax);
  } else {
    d.smin = S64_MIN; d.smax = S64_MAX;
  }
}

/** AND/OR/XOR; `d.var` already holds the result's known bits. */
function bitwise32(op: number, d: MutScalar, s: Scalar): void {
  const v = lo32(d.var.value), m = lo32(d.var.mask);
  if (tnumSubregIsConst(s.var) && m === 0) {
    markKnown32(d, v);
    return;
  }
  if (op === BPF_AND) {
    d.u32min = v; d.u32max = Math.min(d.u32max, s.u32max);
  } else if (op === BPF_OR) {
    d.u32min = Math.max(d.u32min, s.u32min); d.u32max = (v | m) >>> 0;
  } else {
    d.u32min = v; d.u32max = (v | m) >>> 0;
  }
  s32FromU32(d);
}

function bitwise64(op: number, d: MutScalar, s: Scalar): void {
  const { value, mask } = d.var;
  if (tnumIsConst(s.var) && mask === 0n) {
    markKnown(d, value);
    return;
  }
  if (op === BPF_AND) {
    d.umin = value; d.umax = bmin(d.umax, s.umax);
  } else if (op === BPF_OR) {
    d.umin = bmax(d.umin, s.umin); d.umax = value | mask;
  } else {
    d.umin = value; d.umax = value | mask;
  }
  s64FromU64(d);
  updateBounds(d);
}

function lsh32Bounds(d: MutScalar, k: number): void {
  d.s32min = S32_MIN; d.s32max = S32_MAX;
  if (k > 31 || d.u32max > 2 ** (31 - k)) {
    d.u32min = 0; d.u32max = U32_MAX;
  } else {
    d.u32min = d.u32min * 2 ** k; d.u32max = d.u32max * 2 ** k;
  }
}

function lsh(d: MutScalar, k: number, is64: boolean): void {
  if (!is64) {
    const sub = tnumSubreg(d.var);
    lsh32Bounds(d, k);
    d.var = tnumSubreg(tnumLshift(sub, k));
    mark64Unbounded(d);
    updateBounds(d);
    return;
  }
  // Uses the unshifted 32-bit bounds, so before lsh32Bounds: x << 32 is (s32)x * 2^32, which
  // keeps the s32 bounds (the compiler's sign-extension idiom <<32 s>>32).
  d.smax = k === 32 ? BigInt(d.s32max) << 32n : S64_MAX;
  d.smin = k === 32 ? BigInt(d.s32min) << 32n : S64_MIN;
  if (d.umax > 1n << BigInt(63 - k)) {
    d.umin = 0n; d.umax = U64_MAX;
  } else {
    d.umin <<= BigInt(k); d.umax <<= BigInt(k);
  }
  lsh32Bounds(d, k);
  d.var = tnumLshift(d.var, k);
  updateBounds(d);
}

function rsh(d: MutScalar, k: number, is64: boolean): void {
  if (!is64) {
    d.s32min = S32_MIN; d.s32max = S32_MAX;
    d.var = tnumRshift(tnumSubreg(d.var), k);
    d.u32min = Math.floor(d.u32min / 2 ** k);
    d.u32max = Math.floor(d.u32max / 2 ** k);
    mark64Unbounded(d);
    updateBounds(d);
    return;
  }
  d.smin = S64_MIN; d.smax = S64_MAX;
  d.var = tnumRshift(d.var, k);
  d.umin >>= BigInt(k);
  d.umax >>= BigInt(k);
  mark32Unbounded(d);
  updateBounds(d);
}

function arsh(d: MutScalar, k: number, is64: boolean): void {
  if (!is64) {
    d.s32min >>= k;
    d.s32max >>= k;
    d.var = tnumArshift(tnumSubreg(d.var), k, 32);
    d.u32min = 0; d.u32max = U32_MAX;
    mark64Unbounded(d);
    updateBounds(d);
    return;
  }
  d.smin >>= BigInt(k);
  d.smax >>= BigInt(k);
  d.var = tnumArshift(d.var, k, 64);
  d.umin = 0n; d.umax = U64_MAX;
  mark32Unbounded(d);
  updateBounds(d);
}

/** Kernel is_safe_to_compute_dst_reg_range's notion of a constant source. */
function srcIsConst(s: Scalar, is64: boolean): boolean {
  return is64
    ? tnumIsConst(s.var) && s.smin === s.smax && s.umin === s.umax
    : tnumSubregIsConst(s.var) && s.s32min === s.s32max && s.u32min === s.u32max;
}

/**
 * dst = dst op src. `op` is BPF_ADD..BPF_ARSH, BPF_MOV or BPF_NEG (abi/bpf.ts); `is64` is the
 * ALU64 class; `signed` selects sdiv/smod (off = 1). For BPF_K pass scalarConst of the
 * sign-extended immediate as `src` (also for 32-bit ALU, as the kernel does). 32-bit results
 * are zero-extended. Division and modulo give an unknown value (64 bits, even for ALU32),
 * shifts by anything but a constant below the width give an unknown value, as in the kernel.
 */
export function scalarAlu(op: number | AluOp | 'neg', is64: boolean, dst: Scalar, src: Scalar, signed = false): Scalar {
  void signed; // the kernel does not track either kind of division
  const code = typeof op === 'number' ? op : ALU_NAMES[op];
  switch (code) {
    case BPF_MOV: {
      if (is64) return src;
      const r: MutScalar = { ...src };
      zext32(r);
      return sync(r);
    }
    case BPF_DIV: case BPF_MOD:
      return scalarUnknown();
    case BPF_NEG:
      return scalarAlu(BPF_SUB, is64, scalarConst(0n), dst);
    case BPF_LSH: case BPF_RSH: case BPF_ARSH: {
      if (!srcIsConst(src, is64) || src.umax >= (is64 ? 64n : 32n)) return scalarUnknown();
      const k = Number(src.umax);
      const r: MutScalar = { ...dst };
      if (code === BPF_LSH) lsh(r, k, is64);
      else if (code === BPF_RSH) rsh(r, k, is64);
      else arsh(r, k, is64);
      if (!is64) zext32(r);
      return sync(r);
    }
    case BPF_ADD: case BPF_SUB: case BPF_MUL: case BPF_AND: case BPF_OR: case BPF_XOR: {
      const r: MutScalar = { ...dst };
      switch (code) {
        case BPF_ADD:
          add32(r, src);
          if (is64) add64(r, src);
          r.var = tnumAdd(r.var, src.var);
          break;
        case BPF_SUB:
          sub32(r, src);
          if (is64) sub64(r, src);
          r.var = tnumSub(r.var, src.var);
          break;
        case BPF_MUL:
          r.var = tnumMul(r.var, src.var);
          mul32(r, src);
          if (is64) mul64(r, src);
          break;
        default:
          r.var = code === BPF_AND ? tnumAnd(r.var, src.var) : code === BPF_OR ? tnumOr(r.var, src.var) : tnumXor(r.var, src.var);
          bitwise32(code, r, src);
          if (is64) bitwise64(code, r, src);
      }
      if (!is64) zext32(r);
      return sync(r);
    }
  }
  throw new RangeError(`scalarAlu: bad op ${String(op)}`);
}

/** The opcodes.ts names of ALU operations. */
const ALU_NAMES: Record<AluOp | 'neg', number> = {
  add: BPF_ADD, sub: BPF_SUB, mul: BPF_MUL, div: BPF_DIV, sdiv: BPF_DIV, mod: BPF_MOD, smod: BPF_MOD, or: BPF_OR,
  and: BPF_AND, lsh: BPF_LSH, rsh: BPF_RSH, arsh: BPF_ARSH, xor: BPF_XOR, mov: BPF_MOV, neg: BPF_NEG,
};

/**
 * Path split of Linux 6.18 for AND/OR with a constant source when dst is in [-1, 0] (the
 * `x s>> 63` / `w s>> 31` mask idiom), whose result ranges cannot express ({0, C} for AND):
 * the kernel explores dst = -1 now and pushes the same instruction with dst = 0. Returns the
 * two destination values before the operation, [minus one, zero], or undefined when the
 * kernel does not split. The check is on the 64-bit signed range first, else on the s32
 * range (then only the low 32 bits become -1 / 0, as the kernel's __mark_reg32_known).
 */
export function scalarAluFork(op: number | AluOp | 'neg', is64: boolean, dst: Scalar, src: Scalar): [Scalar, Scalar] | undefined {
  const code = typeof op === 'number' ? op : ALU_NAMES[op];
  if ((code !== BPF_AND && code !== BPF_OR) || !isConst(src, !is64)) return undefined;
  const minus: MutScalar = { ...dst }, zero: MutScalar = { ...dst };
  if (dst.smin === -1n && dst.smax === 0n) {
    markKnown(minus, U64_MAX);
    markKnown(zero, 0n);
  } else if (dst.s32min === -1 && dst.s32max === 0) {
    markKnown32(minus, -1);
    markKnown32(zero, 0);
  } else {
    return undefined;
  }
  return [minus, zero];
}

/** Two's complement negation (kernel: 0 - dst). */
export function scalarNeg(dst: Scalar, is64: boolean): Scalar {
  return scalarAlu(BPF_SUB, is64, scalarConst(0n), dst);
}

// ---------------------------------------------------------------------------------------------
// Sign extension, byte swaps, loads
// ---------------------------------------------------------------------------------------------

const sx = (x: bigint, bits: number): bigint => BigInt.asIntN(bits, x);

/** Kernel coerce_reg_to_size_sx: the 64-bit register becomes its low `bytes` sign-extended. */
function coerceSx64(r: MutScalar, bytes: 1 | 2 | 4): void {
  const bits = bytes * 8;
  if (tnumIsConst(r.var)) {
    markKnown(r, sx(r.var.value, bits));
    return;
  }
  const b = BigInt(bits);
  if (u64(r.smax) >> b === u64(r.smin) >> b) {
    const a = sx(r.smin, bits), c = sx(r.smax, bits);
    const lo = bmin(a, c), hi = bmax(a, c);
    if ((lo >= 0n) === (hi >= 0n)) {
      r.smin = lo; r.smax = hi;
      r.umin = u64(lo); r.umax = u64(hi);
      r.s32min = lo32(lo) | 0; r.s32max = lo32(hi) | 0;
      r.u32min = lo32(lo); r.u32max = lo32(hi);
      r.var = tnumRange(u64(lo), u64(hi));
      return;
    }
  }
  const lim = 1n << (b - 1n);
  if (BigInt(r.s32min) >= -lim && BigInt(r.s32max) < lim) {
    // The low 32 bits already hold a sign-extended `bits`-bit value: they stay as they are
    // and the result is their s32 value.
    r.smin = BigInt(r.s32min); r.smax = BigInt(r.s32max);
    r.umin = 0n; r.umax = U64_MAX;
    r.var = tnumUnknown;
    return;
  }
  r.smin = -lim; r.smax = lim - 1n;
  r.s32min = Number(-lim); r.s32max = Number(lim - 1n);
  r.umin = 0n; r.umax = U64_MAX;
  r.u32min = 0; r.u32max = U32_MAX;
  r.var = tnumUnknown;
}

/** Kernel coerce_subreg_to_size_sx: the low 32 bits become their low `bytes` sign-extended. */
function coerceSx32(r: MutScalar, bytes: 1 | 2): void {
  const bits = bytes * 8;
  if (tnumIsConst(r.var)) {
    const v = Number(sx(r.var.value, bits)) >>> 0;
    r.var = tnumConst(sx(r.var.value, bits));
    r.s32min = r.s32max = v | 0;
    r.u32min = r.u32max = v;
    return;
  }
  if ((r.s32max >>> 0) >>> bits === (r.s32min >>> 0) >>> bits) {
    const a = Number(sx(BigInt(r.s32min), bits)), c = Number(sx(BigInt(r.s32max), bits));
    const lo = Math.min(a, c), hi = Math.max(a, c);
    if ((lo >= 0) === (hi >= 0)) {
      r.s32min = lo; r.s32max = hi;
      r.u32min = lo >>> 0; r.u32max = hi >>> 0;
      r.var = tnumSubreg(tnumRange(u64(BigInt(lo)), u64(BigInt(hi))));
      return;
    }
  }
  const lim = 2 ** (bits - 1);
  r.s32min = -lim; r.s32max = lim - 1;
  r.u32min = 0; r.u32max = U32_MAX;
  r.var = tnumSubreg(tnumUnknown);
}

/**
 * Sign-extending move (cpu v4 MOVSX): `r = (s8/s16/s32) src` for ALU64, `w = (s8/s16) w_src`
 * (zero-extended) for ALU. fromBits 32 with ALU is a plain 32-bit move.
 */
export function scalarMovsx(src: Scalar, fromBits: 8 | 16 | 32, is64: boolean): Scalar {
  const r: MutScalar = { ...src };
  if (is64) {
    coerceSx64(r, (fromBits / 8) as 1 | 2 | 4);
    return sync(r);
  }
  if (fromBits !== 32) coerceSx32(r, (fromBits / 8) as 1 | 2);
  zext32(r);
  return sync(r);
}

/**
 * BPF_END: 'le' truncates to `bits` (little-endian host; bounds kept where they survive the
 * truncation), 'be' (to big-endian) and 'bswap' (ALU64) swap the bytes of the low `bits`,
 * zero-extended, with bounds from the swapped known bits only, as in the kernel.
 */
export function scalarEndian(src: Scalar, kind: 'le' | 'be' | 'bswap', bits: 16 | 32 | 64): Scalar {
  if (kind !== 'le') return sync(unbounded(tnumBswap(src.var, bits)));
  if (bits === 64) return src;
  const r: MutScalar = { ...src };
  coerceZx(r, (bits / 8) as 2 | 4);
  return sync(r);
}

/** Kernel coerce_reg_to_size: keep the low `bytes` bytes (zero-extension). */
function coerceZx(r: MutScalar, bytes: 1 | 2 | 4): void {
  r.var = tnumCast(r.var, bytes);
  const mask = (1n << BigInt(bytes * 8)) - 1n;
  if ((r.umin & ~mask) === (r.umax & ~mask)) {
    r.umin &= mask; r.umax &= mask;
  } else {
    r.umin = 0n; r.umax = mask;
  }
  r.smin = r.umin; r.smax = r.umax;
  if (bytes < 4) mark32Unbounded(r);
}

/** A value of `size` bytes loaded from memory with unknown contents, zero- or sign-extended. */
export function scalarFromLoad(size: 1 | 2 | 4 | 8, signExtend: boolean): Scalar {
  const r = unbounded(tnumUnknown);
  if (size === 8) return r;
  if (signExtend) coerceSx64(r, size);
  else coerceZx(r, size);
  return sync(r);
}

/**
 * Truncates a known scalar to its low `size` bytes, zero- or sign-extended (e.g. a narrow load
 * of a spilled register, kernel coerce_reg_to_size / coerce_reg_to_size_sx).
 */
export function scalarTruncate(s: Scalar, size: 1 | 2 | 4 | 8, signExtend: boolean): Scalar {
  if (size === 8) return s;
  const r: MutScalar = { ...s };
  if (signExtend) coerceSx64(r, size);
  else coerceZx(r, size);
  return sync(r);
}

// ---------------------------------------------------------------------------------------------
// Log format
// ---------------------------------------------------------------------------------------------

/** Kernel verbose_snum: decimal within s16, else hex of the u64. */
export function formatSnum(v: bigint): string {
  return v >= -32768n && v <= 32767n ? v.toString() : `0x${u64(v).toString(16)}`;
}

/** Kernel verbose_unum: decimal up to u16 max, else hex. */
export function formatUnum(v: bigint): string {
  return v <= 65535n ? v.toString() : `0x${v.toString(16)}`;
}

/**
 * Kernel verifier log form (print_reg_state / print_scalar_ranges): a constant prints as its
 * value ("42", "-1", "0xffffffff"); otherwise "scalar(...)" lists the bounds that are not
 * trivial, equal values sharing one entry ("smin=umin=1,smax=umax=5,var_off=(0x0; 0x7)").
 */
export function scalarFormat(s: Scalar): string {
  if (tnumIsConst(s.var)) return formatSnum(s64(s.var.value));
  const s32v = (x: number): bigint => (x >= -32768 && x <= 32767 ? u64(BigInt(x)) : BigInt(x >>> 0));
  const items: { name: string; val: bigint; omit: boolean }[] = [
    { name: 'smin', val: u64(s.smin), omit: s.smin === S64_MIN },
    { name: 'smax', val: u64(s.smax), omit: s.smax === S64_MAX },
    { name: 'umin', val: s.umin, omit: s.umin === 0n },
    { name: 'umax', val: s.umax, omit: s.umax === U64_MAX },
    { name: 'smin32', val: s32v(s.s32min), omit: s.s32min === S32_MIN },
    { name: 'smax32', val: s32v(s.s32max), omit: s.s32max === S32_MAX },
    { name: 'umin32', val: BigInt(s.u32min), omit: s.u32min === 0 },
    { name: 'umax32', val: BigInt(s.u32max), omit: s.u32max === U32_MAX },
  ];
  const parts: string[] = [];
  for (let i = 0; i < items.length; i++) {
    const m1 = items[i]!;
    if (m1.omit) continue;
    const neg1 = m1.name[0] === 's' && s64(m1.val) < 0n;
    let text = `${m1.name}=`;
    for (let j = i + 2; j < items.length; j += 2) {
      const m2 = items[j]!;
      if (m2.omit || m2.val !== m1.val) continue;
      if ((m2.name[0] === 's' && s64(m2.val) < 0n) !== neg1) continue;
      m2.omit = true;
      text += `${m2.name}=`;
    }
    text += m1.name[0] === 's' ? formatSnum(s64(m1.val)) : formatUnum(m1.val);
    parts.push(text);
  }
  if (!tnumIsUnknown(s.var)) parts.push(`var_off=${tnumFormat(s.var)}`);
  return `scalar(${parts.join(',')})`;
}

// ---------------------------------------------------------------------------------------------
// Conditional jumps (kernel is_scalar_branch_taken, regs_refine_cond_op, reg_set_min_max)
// ---------------------------------------------------------------------------------------------

/** Pseudo opcode for the fall-through of JSET ("no common bit"), as the kernel's rev_opcode. */
const JSET_NOT = BPF_JSET | 0x08;

const REVERSE: Record<number, number> = {
  [BPF_JEQ]: BPF_JNE, [BPF_JNE]: BPF_JEQ, [BPF_JSET]: JSET_NOT, [JSET_NOT]: BPF_JSET,
  [BPF_JGT]: BPF_JLE, [BPF_JLE]: BPF_JGT, [BPF_JGE]: BPF_JLT, [BPF_JLT]: BPF_JGE,
  [BPF_JSGT]: BPF_JSLE, [BPF_JSLE]: BPF_JSGT, [BPF_JSGE]: BPF_JSLT, [BPF_JSLT]: BPF_JSGE,
};
/** a op b  <=>  b flip(op) a. */
const FLIP: Record<number, number> = {
  [BPF_JGT]: BPF_JLT, [BPF_JGE]: BPF_JLE, [BPF_JSGT]: BPF_JSLT, [BPF_JSGE]: BPF_JSLE,
};

function isConst(s: Scalar, is32: boolean): boolean {
  return is32 ? tnumSubregIsConst(s.var) : tnumIsConst(s.var);
}

/**
 * Whether `dst op src` is always (1), never (0) or maybe (-1) true, from the bounds and known
 * bits of both operands (kernel is_scalar_branch_taken). When it is 0 or 1 the kernel
 * explores only one successor.
 */
export function scalarBranchTaken(opIn: number | JmpOp, is32: boolean, dst: Scalar, src: Scalar): 0 | 1 | -1 {
  const op = typeof opIn === 'number' ? opIn : JMP_NAMES[opIn];
  let r1 = dst, r2 = src;
  let t1 = is32 ? tnumSubreg(r1.var) : r1.var;
  let t2 = is32 ? tnumSubreg(r2.var) : r2.var;
  const umin1 = is32 ? BigInt(r1.u32min) : r1.umin, umax1 = is32 ? BigInt(r1.u32max) : r1.umax;
  const umin2 = is32 ? BigInt(r2.u32min) : r2.umin, umax2 = is32 ? BigInt(r2.u32max) : r2.umax;
  const smin1 = is32 ? BigInt(r1.s32min) : r1.smin, smax1 = is32 ? BigInt(r1.s32max) : r1.smax;
  const smin2 = is32 ? BigInt(r2.s32min) : r2.smin, smax2 = is32 ? BigInt(r2.s32max) : r2.smax;
  const disjoint = (): boolean =>
    umin1 > umax2 || umax1 < umin2 || smin1 > smax2 || smax1 < smin2 ||
    (!is32 && (r1.u32min > r2.u32max || r1.u32max < r2.u32min || r1.s32min > r2.s32max || r1.s32max < r2.s32min)) ||
    !tnumOverlap(t1, t2);
  switch (op) {
    case BPF_JEQ:
      if (tnumIsConst(t1) && tnumIsConst(t2)) return t1.value === t2.value ? 1 : 0;
      return disjoint() ? 0 : -1;
    case BPF_JNE:
      if (tnumIsConst(t1) && tnumIsConst(t2)) return t1.value !== t2.value ? 1 : 0;
      return disjoint() ? 1 : -1;
    case BPF_JSET:
      if (!isConst(r2, is32)) { [r1, r2] = [r2, r1]; [t1, t2] = [t2, t1]; }
      if (!isConst(r2, is32)) return -1;
      if (t1.value & t2.value) return 1;
      if (((t1.mask | t1.value) & t2.value) === 0n) return 0;
      return -1;
    case BPF_JGT: return umin1 > umax2 ? 1 : umax1 <= umin2 ? 0 : -1;
    case BPF_JSGT: return smin1 > smax2 ? 1 : smax1 <= smin2 ? 0 : -1;
    case BPF_JLT: return umax1 < umin2 ? 1 : umin1 >= umax2 ? 0 : -1;
    case BPF_JSLT: return smax1 < smin2 ? 1 : smin1 >= smax2 ? 0 : -1;
    case BPF_JGE: return umin1 >= umax2 ? 1 : umax1 < umin2 ? 0 : -1;
    case BPF_JSGE: return smin1 >= smax2 ? 1 : smax1 < smin2 ? 0 : -1;
    case BPF_JLE: return umax1 <= umin2 ? 1 : umin1 > umax2 ? 0 : -1;
    case BPF_JSLE: return smax1 <= smin2 ? 1 : smin1 > smax2 ? 0 : -1;
  }
  throw new RangeError(`scalarBranchTaken: bad op ${String(opIn)}`);
}

/** The opcodes.ts names of conditional jumps. */
const JMP_NAMES: Record<JmpOp, number> = {
  jeq: BPF_JEQ, jgt: BPF_JGT, jge: BPF_JGE, jset: BPF_JSET, jne: BPF_JNE, jsgt: BPF_JSGT, jsge: BPF_JSGE,
  jlt: BPF_JLT, jle: BPF_JLE, jslt: BPF_JSLT, jsle: BPF_JSLE,
};

/** Narrows a and b (working copies) to the pairs satisfying `a op b` (kernel regs_refine_cond_op). */
function refine(op: number, is32: boolean, a: MutScalar, b: MutScalar): void {
  switch (op) {
    case BPF_JEQ:
      if (is32) {
        a.u32min = b.u32min = Math.max(a.u32min, b.u32min);
        a.u32max = b.u32max = Math.min(a.u32max, b.u32max);
        a.s32min = b.s32min = Math.max(a.s32min, b.s32min);
        a.s32max = b.s32max = Math.min(a.s32max, b.s32max);
        const t = tnumIntersect(tnumSubreg(a.var), tnumSubreg(b.var));
        a.var = tnumWithSubreg(a.var, t);
        b.var = tnumWithSubreg(b.var, t);
      } else {
        a.umin = b.umin = bmax(a.umin, b.umin);
        a.umax = b.umax = bmin(a.umax, b.umax);
        a.smin = b.smin = bmax(a.smin, b.smin);
        a.smax = b.smax = bmin(a.smax, b.smax);
        a.var = b.var = tnumIntersect(a.var, b.var);
      }
      return;
    case BPF_JNE: {
      if (!isConst(b, is32)) [a, b] = [b, a];
      if (!isConst(b, is32)) return;
      // A constant at an edge of the other operand's range moves that edge.
      if (is32) {
        const v = lo32(b.var.value);
        if (a.u32min === v) a.u32min++;
        if (a.u32max === v) a.u32max--;
        if (a.s32min === (v | 0)) a.s32min++;
        if (a.s32max === (v | 0)) a.s32max--;
      } else {
        const v = b.var.value;
        if (a.umin === v) a.umin++;
        if (a.umax === v) a.umax--;
        if (a.smin === s64(v)) a.smin++;
        if (a.smax === s64(v)) a.smax--;
      }
      return;
    }
    case BPF_JSET: case JSET_NOT: {
      if (!isConst(b, is32)) [a, b] = [b, a];
      if (!isConst(b, is32)) return;
      const v = is32 ? tnumSubreg(b.var).value : b.var.value;
      if (op === BPF_JSET) {
        // "some bit of v is set" pins a bit only when v has a single bit.
        if (v === 0n || (v & (v - 1n)) !== 0n) return;
        a.var = is32 ? tnumWithSubreg(a.var, tnumOr(tnumSubreg(a.var), tnumConst(v))) : tnumOr(a.var, tnumConst(v));
      } else {
        // The kernel forgets the ranges first (they could contradict the narrowed bits on a
        // dead branch) and rebuilds them from the known bits.
        Object.assign(a, unbounded(a.var));
        a.var = is32 ? tnumWithSubreg(a.var, tnumAnd(tnumSubreg(a.var), tnumConst(~v))) : tnumAnd(a.var, tnumConst(~v));
      }
      return;
    }
    case BPF_JLE: case BPF_JLT: {
      const d = op === BPF_JLT ? 1 : 0;
      if (is32) {
        a.u32max = Math.min(a.u32max, b.u32max - d);
        b.u32min = Math.max(a.u32min + d, b.u32min);
      } else {
        a.umax = bmin(a.umax, b.umax - BigInt(d));
        b.umin = bmax(a.umin + BigInt(d), b.umin);
      }
      return;
    }
    case BPF_JSLE: case BPF_JSLT: {
      const d = op === BPF_JSLT ? 1 : 0;
      if (is32) {
        a.s32max = Math.min(a.s32max, b.s32max - d);
        b.s32min = Math.max(a.s32min + d, b.s32min);
      } else {
        a.smax = bmin(a.smax, b.smax - BigInt(d));
        b.smin = bmax(a.smin + BigInt(d), b.smin);
      }
      return;
    }
    case BPF_JGE: case BPF_JGT: case BPF_JSGE: case BPF_JSGT:
      refine(FLIP[op]!, is32, b, a);
      return;
  }
  throw new RangeError(`scalarBranch: bad op 0x${op.toString(16)}`);
}

/** Out-of-range intermediate bounds (e.g. umax-1 at 0) mean an empty refinement. */
function inRange(r: MutScalar): boolean {
  return r.umin >= 0n && r.umax <= U64_MAX && r.umax >= 0n && r.smin >= S64_MIN && r.smax <= S64_MAX &&
    r.u32min <= U32_MAX && r.u32max >= 0 && r.s32min <= S32_MAX && r.s32max >= S32_MIN;
}

function refined(op: number, is32: boolean, dst: Scalar, src: Scalar, sameReg: boolean): [Scalar, Scalar] | null {
  const a: MutScalar = { ...dst }, b: MutScalar = sameReg ? a : { ...src };
  refine(op, is32, a, b);
  if (!inRange(a) || !inRange(b) || scalarIsEmpty(a) || scalarIsEmpty(b)) return null;
  sync(a);
  sync(b);
  if (scalarIsEmpty(a) || scalarIsEmpty(b)) return null;
  return [a, b];
}

/**
 * Conditional jump `if dst op src` (op = BPF_JEQ..BPF_JSLE or BPF_JSET from abi/bpf.ts,
 * is32 = JMP32; for BPF_K pass scalarConst of the sign-extended immediate, also for JMP32).
 * Returns the refined (dst, src) on the taken and on the fall-through edge, null for an edge
 * no pair of values can take. When the outcome is decided (scalarBranchTaken), the live edge
 * keeps the operands unrefined, as in the kernel. Set `sameReg` for BPF_X with src_reg ==
 * dst_reg (`if r1 s<= r1`): like the kernel, the refinement then updates one register state
 * through both operands (both results are that state).
 *
 * An edge whose refinement is contradictory although scalarBranchTaken said "maybe" is
 * null here (sound: no value takes it); the kernel 6.18 instead resets that register's
 * bounds and explores the edge (reg_bounds_sanity_check), so it may reject a program on a
 * dead path that this domain prunes.
 */
export function scalarBranch(opIn: number | JmpOp, is32: boolean, dst: Scalar, src: Scalar, sameReg = false): { taken: [Scalar, Scalar] | null; fallthrough: [Scalar, Scalar] | null } {
  const op = typeof opIn === 'number' ? opIn : JMP_NAMES[opIn];
  const pred = scalarBranchTaken(op, is32, dst, src);
  if (pred === 1) return { taken: [dst, src], fallthrough: null };
  if (pred === 0) return { taken: null, fallthrough: [dst, src] };
  return { taken: refined(op, is32, dst, src, sameReg), fallthrough: refined(REVERSE[op]!, is32, dst, src, sameReg) };
}
