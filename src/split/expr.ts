/**
 * @module split/expr
 * 32-bit expressions over the words of struct seccomp_data: what the split's analysis keeps in a
 * register when a value depends on the syscall's arguments, and exactly what a classic-BPF
 * filter can compute (ld [k], ALU on A with K or X, scratch memory). A 64-bit eBPF value is a
 * pair of such expressions (high word, low word).
 *
 *   word(off):  the little-endian u32 at byte `off` of seccomp_data
 *               (0 nr, 4 arch, 8/12 instruction_pointer lo/hi, 16+8i / 20+8i args[i] lo/hi)
 *
 * Operators are those of classic BPF (add, sub, mul, div, and, or, xor, lsh, rsh, neg), all
 * wrapping at 32 bits; an arithmetic shift is written with them:
 * x s>> c = ((x + 2^31) >> c) - (2^31 >> c). Constructors fold constants and simplify, so equal
 * values tend to get equal keys (`key` is a canonical string; equal keys = equal functions).
 * `mask` over-approximates the bits that can be 1.
 */

export type BinOp = 'add' | 'sub' | 'mul' | 'div' | 'and' | 'or' | 'xor' | 'lsh' | 'rsh';

interface Node {
  readonly key: string;
  /** Number of nodes. */
  readonly size: number;
  /** Scratch-memory words a classic-BPF evaluation needs (see split/lower). */
  readonly depth: number;
  /** The classic-BPF evaluation uses X. */
  readonly usesX: boolean;
  /** Bits that may be 1. */
  readonly mask: number;
}
export interface Const extends Node { readonly k: 'c'; readonly v: number }
export interface Word extends Node { readonly k: 'w'; readonly off: number }
export interface Bin extends Node { readonly k: 'b'; readonly op: BinOp; readonly a: Expr; readonly b: Expr }
export interface Neg extends Node { readonly k: 'n'; readonly a: Expr }
export type Expr = Const | Word | Bin | Neg;

const ALL = 0xffff_ffff;
const SIGN = 0x8000_0000;

const CONSTS = new Map<number, Const>();
/** The constant v (taken modulo 2^32). */
export function C(v: number): Const {
  const u = v >>> 0;
  let c = CONSTS.get(u);
  if (c === undefined) {
    c = { k: 'c', v: u, key: `#${u.toString(16)}`, size: 1, depth: 0, usesX: false, mask: u };
    if (CONSTS.size < 4096) CONSTS.set(u, c);
  }
  return c;
}
export const ZERO = C(0);

/** The seccomp_data word at byte `off` (a multiple of 4 below 64). */
export function W(off: number): Word {
  return { k: 'w', off, key: `w${off}`, size: 1, depth: 0, usesX: false, mask: ALL };
}

const isC = (e: Expr): e is Const => e.k === 'c';
const smear = (x: number): number => (x === 0 ? 0 : x >= SIGN ? ALL : ((2 ** (32 - Math.clz32(x))) - 1));
const log2 = (v: number): number => (v !== 0 && (v & (v - 1)) === 0 ? 31 - Math.clz32(v) : -1);

/** The operator on two u32 numbers, with classic BPF / eBPF ALU32 semantics (div by 0 = 0). */
export function apply(op: BinOp, a: number, b: number): number {
  switch (op) {
    case 'add': return (a + b) >>> 0;
    case 'sub': return (a - b) >>> 0;
    case 'mul': return Math.imul(a, b) >>> 0;
    case 'div': return b === 0 ? 0 : Math.floor(a / b);
    case 'and': return (a & b) >>> 0;
    case 'or': return (a | b) >>> 0;
    case 'xor': return (a ^ b) >>> 0;
    case 'lsh': return (a << (b & 31)) >>> 0;
    case 'rsh': return a >>> (b & 31);
  }
}

function maskOf(op: BinOp, a: Expr, b: Expr): number {
  switch (op) {
    case 'and': return (a.mask & b.mask) >>> 0;
    case 'or':
    case 'xor': return (a.mask | b.mask) >>> 0;
    case 'lsh': return isC(b) ? (a.mask << (b.v & 31)) >>> 0 : ALL;
    case 'rsh': return isC(b) ? a.mask >>> (b.v & 31) : smear(a.mask);
    case 'add': return a.mask + b.mask <= ALL ? smear(a.mask + b.mask) : ALL;
    case 'div': return smear(a.mask);
    case 'mul': return a.mask * b.mask <= ALL ? smear(a.mask * b.mask) : ALL;
    case 'sub': return ALL;
  }
}

function node(op: BinOp, a: Expr, b: Expr): Bin {
  // Constant b: `op #k` after a. Otherwise b first, then either `tax` (when a's own code
  // leaves X alone) or a spill to M[] around a.
  const depth = isC(b) ? a.depth : !a.usesX ? b.depth : Math.max(b.depth, a.depth + 1);
  const usesX = isC(b) ? a.usesX : true;
  return { k: 'b', op, a, b, key: `(${op} ${a.key} ${b.key})`, size: a.size + b.size + 1, depth, usesX, mask: maskOf(op, a, b) };
}

const COMMUTATIVE = new Set<BinOp>(['add', 'mul', 'and', 'or', 'xor']);

/**
 * a op b, simplified. Shift counts must already be in 0..31 when constant; a variable count
 * must be masked by the caller (and(b, 31)), as eBPF masks it.
 */
export function bin(op: BinOp, a: Expr, b: Expr): Expr {
  if (isC(a) && isC(b)) return C(apply(op, a.v, b.v));
  if (COMMUTATIVE.has(op) && isC(a)) [a, b] = [b, a];
  if (isC(b)) return withConst(op, a, b.v);
  if (a.key === b.key) {
    if (op === 'sub' || op === 'xor') return ZERO;
    if (op === 'and' || op === 'or') return a;
  }
  return node(op, a, b);
}

function withConst(op: BinOp, a: Expr, v: number): Expr {
  const inner = a.k === 'b' && a.op === op && isC(a.b) ? { a: a.a, b: a.b } : undefined;
  switch (op) {
    case 'add':
      if (v === 0) return a;
      if (inner) return bin('add', inner.a, C(inner.b.v + v));
      break;
    case 'sub':
      return bin('add', a, C(-v));
    case 'mul': {
      if (v === 0) return ZERO;
      if (v === 1) return a;
      const l = log2(v);
      if (l > 0) return bin('lsh', a, C(l));
      break;
    }
    case 'div': {
      if (v === 0) return ZERO;
      if (v === 1) return a;
      const l = log2(v);
      if (l > 0) return bin('rsh', a, C(l));
      break;
    }
    case 'and':
      if (v === 0 || (a.mask & v) === 0) return ZERO;
      if (((a.mask & ~v) >>> 0) === 0) return a;
      if (inner) return bin('and', inner.a, C(inner.b.v & v));
      break;
    case 'or':
      if (v === 0) return a;
      if (v === ALL) return C(ALL);
      if (inner) return bin('or', inner.a, C(inner.b.v | v));
      break;
    case 'xor':
      if (v === 0) return a;
      if (v === SIGN) return bin('add', a, C(SIGN)); // the same function, and affine
      if (inner) return bin('xor', inner.a, C(inner.b.v ^ v));
      break;
    case 'lsh':
      if (v === 0) return a;
      if (((a.mask << v) >>> 0) === 0) return ZERO;
      if (inner) return inner.b.v + v < 32 ? bin('lsh', inner.a, C(inner.b.v + v)) : ZERO;
      break;
    case 'rsh':
      if (v === 0) return a;
      if (a.mask >>> v === 0) return ZERO;
      if (inner) return inner.b.v + v < 32 ? bin('rsh', inner.a, C(inner.b.v + v)) : ZERO;
      break;
  }
  return node(op, a, C(v));
}

/** -a (two's complement). */
export function neg(a: Expr): Expr {
  if (isC(a)) return C(-a.v);
  if (a.k === 'n') return a.a;
  return { k: 'n', a, key: `(neg ${a.key})`, size: a.size + 1, depth: a.depth, usesX: a.usesX, mask: ALL };
}

/** Arithmetic shift right by a constant c in 0..31. */
export function arsh(a: Expr, c: number): Expr {
  if (c === 0) return a;
  if (isC(a)) return C((a.v | 0) >> c);
  return bin('add', bin('rsh', bin('add', a, C(SIGN)), C(c)), C(-(SIGN >>> c)));
}

/** Sign-extends the low `bits` bits of a (bits 8, 16). */
export function sext(a: Expr, bits: number): Expr {
  return arsh(bin('lsh', a, C(32 - bits)), 32 - bits);
}

/** Byte swap of the low 16 bits (result in 0..0xffff). */
export function bswap16(a: Expr): Expr {
  return bin('or', bin('and', bin('lsh', a, C(8)), C(0xff00)), bin('and', bin('rsh', a, C(8)), C(0xff)));
}

/** Byte swap of a 32-bit word. */
export function bswap32(a: Expr): Expr {
  return bin('or',
    bin('or', bin('lsh', a, C(24)), bin('and', bin('lsh', a, C(8)), C(0xff0000))),
    bin('or', bin('and', bin('rsh', a, C(8)), C(0xff00)), bin('rsh', a, C(24))));
}

/** Value of `e` for the given seccomp_data words (words[i] = u32 at byte 4i). */
export function evalExpr(e: Expr, words: ArrayLike<number>): number {
  switch (e.k) {
    case 'c': return e.v;
    case 'w': return words[e.off >> 2]! >>> 0;
    case 'n': return (-evalExpr(e.a, words)) >>> 0;
    case 'b': return apply(e.op, evalExpr(e.a, words), evalExpr(e.b, words));
  }
}

/** `e` with words replaced by constants where `pinned` knows them (then refolded). */
export function substitute(e: Expr, pinned: (w: Word) => number | undefined): Expr {
  switch (e.k) {
    case 'c': return e;
    case 'w': {
      const v = pinned(e);
      return v === undefined ? e : C(v);
    }
    case 'n': {
      const a = substitute(e.a, pinned);
      return a === e.a ? e : neg(a);
    }
    case 'b': {
      const a = substitute(e.a, pinned);
      const b = substitute(e.b, pinned);
      return a === e.a && b === e.b ? e : bin(e.op, a, b);
    }
  }
}

/** Every word `e` reads. */
export function wordsOf(e: Expr, out: Set<number> = new Set()): Set<number> {
  if (e.k === 'w') out.add(e.off);
  else if (e.k === 'n') wordsOf(e.a, out);
  else if (e.k === 'b') {
    wordsOf(e.a, out);
    wordsOf(e.b, out);
  }
  return out;
}

/** Splits e into base + c (mod 2^32). */
export function affine(e: Expr): { base: Expr; c: number } {
  if (e.k === 'b' && e.op === 'add' && e.b.k === 'c') return { base: e.a, c: e.b.v };
  return { base: e, c: 0 };
}

const FIELD: Record<number, string> = { 0: 'nr', 4: 'arch', 8: 'ip.lo', 12: 'ip.hi' };
/** A readable name for a seccomp_data word: nr, arch, ip.lo, args[2].hi... */
export function wordName(off: number): string {
  if (off < 16) return FIELD[off] ?? `data[${off}]`;
  const i = (off - 16) >> 3;
  return `args[${i}].${off % 8 === 0 ? 'lo' : 'hi'}`;
}

const SYM: Record<BinOp, string> = { add: '+', sub: '-', mul: '*', div: '/', and: '&', or: '|', xor: '^', lsh: '<<', rsh: '>>' };
/** C-like text of an expression (constants in hex above 9). */
export function formatExpr(e: Expr): string {
  switch (e.k) {
    case 'c': return e.v > 9 ? `0x${e.v.toString(16)}` : String(e.v);
    case 'w': return wordName(e.off);
    case 'n': return `-${paren(e.a)}`;
    case 'b': return `${paren(e.a)} ${SYM[e.op]} ${paren(e.b)}`;
  }
}
const paren = (e: Expr): string => (e.k === 'b' ? `(${formatExpr(e)})` : formatExpr(e));
