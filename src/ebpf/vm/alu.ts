/**
 * @module ebpf/vm/alu
 * The arithmetic and comparison semantics of eBPF, exactly as Linux executes them
 * (kernel/bpf/core.c ___bpf_prog_run plus the verifier's rewrites of division and modulo, see
 * prior-art-ebpf.md §3.2):
 *
 *   - DIV by 0 gives 0; MOD by 0 leaves dst unchanged (32-bit: its low half, zero-extended).
 *   - Signed (off = 1) INT_MIN / -1 = INT_MIN, INT_MIN % -1 = 0; signed modulo truncates.
 *   - Shift counts are masked to 63 (ALU64) or 31 (ALU); ARSH sign-extends.
 *   - Every 32-bit result is zero-extended to 64 bits.
 *
 * 64-bit values are u64 bigints; 32-bit operations work on u32 numbers.
 */
import * as abi from '../../abi/bpf.js';

// Module-local copies: some loaders (tsx's CJS interop) turn imported bindings into getter
// calls, which would sit in the dispatch loop.
const {
  BPF_ADD, BPF_AND, BPF_ARSH, BPF_DIV, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JNE, BPF_JSET,
  BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_LSH, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR, BPF_RSH,
  BPF_SUB, BPF_XOR,
} = abi;

const S64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const U64 = (x: bigint): bigint => BigInt.asUintN(64, x);

/** dst = dst op src for ALU64 (op = code & 0xf0; off selects signed div/mod or movsx width). */
export function alu64(op: number, a: bigint, b: bigint, off: number): bigint {
  switch (op) {
    case BPF_ADD: return U64(a + b);
    case BPF_SUB: return U64(a - b);
    case BPF_MUL: return U64(a * b);
    case BPF_DIV:
      if (b === 0n) return 0n;
      // Signed: BigInt division truncates and cannot overflow; INT_MIN / -1 = 2^63 wraps to INT_MIN.
      return off === 1 ? U64(S64(a) / S64(b)) : a / b;
    case BPF_MOD:
      if (b === 0n) return a;
      return off === 1 ? U64(S64(a) % S64(b)) : a % b;
    case BPF_OR: return a | b;
    case BPF_AND: return a & b;
    case BPF_XOR: return a ^ b;
    case BPF_LSH: return U64(a << (b & 63n));
    case BPF_RSH: return a >> (b & 63n);
    case BPF_ARSH: return U64(S64(a) >> (b & 63n));
    case BPF_NEG: return U64(-a);
    case BPF_MOV: return off === 0 ? b : U64(BigInt.asIntN(off, b));
  }
  throw new RangeError(`alu64: bad op 0x${op.toString(16)}`);
}

/** dst = dst op src for ALU (32-bit); a and b are u32, the result is u32. */
export function alu32(op: number, a: number, b: number, off: number): number {
  switch (op) {
    case BPF_ADD: return (a + b) >>> 0;
    case BPF_SUB: return (a - b) >>> 0;
    case BPF_MUL: return Math.imul(a, b) >>> 0;
    case BPF_DIV:
      if (b === 0) return 0;
      if (off === 1) {
        const sa = a | 0, sb = b | 0;
        return (sb === -1 ? -sa : Math.trunc(sa / sb)) >>> 0;
      }
      return Math.floor(a / b); // exact: both operands are below 2^32
    case BPF_MOD:
      if (b === 0) return a;
      if (off === 1) {
        const sb = b | 0;
        return sb === -1 ? 0 : ((a | 0) % sb) >>> 0;
      }
      return a % b;
    case BPF_OR: return (a | b) >>> 0;
    case BPF_AND: return (a & b) >>> 0;
    case BPF_XOR: return (a ^ b) >>> 0;
    case BPF_LSH: return (a << (b & 31)) >>> 0;
    case BPF_RSH: return a >>> (b & 31);
    case BPF_ARSH: return (a >> (b & 31)) >>> 0;
    case BPF_NEG: return (-a) >>> 0;
    case BPF_MOV:
      if (off === 8) return ((b << 24) >> 24) >>> 0;
      if (off === 16) return ((b << 16) >> 16) >>> 0;
      return b;
  }
  throw new RangeError(`alu32: bad op 0x${op.toString(16)}`);
}

const bswap16 = (x: number): number => ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
const bswap32 = (x: number): number => (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;

/**
 * BPF_END: `swap` is true for to-big-endian (ALU|END|X) and for BSWAP (ALU64|END); otherwise
 * (to-little-endian on a little-endian machine) the value is only truncated to `bits`.
 */
export function endian(a: bigint, bits: number, swap: boolean): bigint {
  if (bits === 64) {
    if (!swap) return a;
    const lo = Number(a & 0xffff_ffffn), hi = Number(a >> 32n);
    return (BigInt(bswap32(lo)) << 32n) | BigInt(bswap32(hi));
  }
  const lo = Number(a & 0xffff_ffffn);
  if (bits === 32) return BigInt(swap ? bswap32(lo) : lo);
  return BigInt(swap ? bswap16(lo) : lo & 0xffff);
}

/** Outcome of a 64-bit conditional jump (op = code & 0xf0). */
export function cond64(op: number, a: bigint, b: bigint): boolean {
  switch (op) {
    case BPF_JEQ: return a === b;
    case BPF_JNE: return a !== b;
    case BPF_JGT: return a > b;
    case BPF_JGE: return a >= b;
    case BPF_JLT: return a < b;
    case BPF_JLE: return a <= b;
    case BPF_JSET: return (a & b) !== 0n;
    case BPF_JSGT: return S64(a) > S64(b);
    case BPF_JSGE: return S64(a) >= S64(b);
    case BPF_JSLT: return S64(a) < S64(b);
    case BPF_JSLE: return S64(a) <= S64(b);
  }
  throw new RangeError(`cond64: bad op 0x${op.toString(16)}`);
}

/** Outcome of a 32-bit conditional jump on u32 operands. */
export function cond32(op: number, a: number, b: number): boolean {
  switch (op) {
    case BPF_JEQ: return a === b;
    case BPF_JNE: return a !== b;
    case BPF_JGT: return a > b;
    case BPF_JGE: return a >= b;
    case BPF_JLT: return a < b;
    case BPF_JLE: return a <= b;
    case BPF_JSET: return (a & b) !== 0;
    case BPF_JSGT: return (a | 0) > (b | 0);
    case BPF_JSGE: return (a | 0) >= (b | 0);
    case BPF_JSLT: return (a | 0) < (b | 0);
    case BPF_JSLE: return (a | 0) <= (b | 0);
  }
  throw new RangeError(`cond32: bad op 0x${op.toString(16)}`);
}
