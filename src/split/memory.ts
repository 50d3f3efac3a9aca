/**
 * @module split/memory
 * Loads during the split's analysis: from struct seccomp_data (any size, any offset inside its
 * 64 bytes, built from its 32-bit words) and from the stack, whose bytes remember which byte of
 * which value was stored there (so a spilled argument reloads as the same expression, a part of
 * it as the matching bytes, and a spilled pointer as that pointer).
 */
import { bin, C, type Expr } from './expr.js';
import { constant, extract, fits, lsh64, or64, u32, unknown, type Scalar, type Value } from './values.js';

/** One stack byte: byte `b` (0 = least significant) of value `v`. */
export interface Cell { readonly v: Value; readonly b: number }

/** `size` bytes of seccomp_data at `o`, assembled from its 32-bit words. */
export function ctxLoad(word: (off: number) => Expr, o: number, size: number): Value {
  let r: Scalar = constant(0n);
  for (let i = 0; i < size;) {
    const w = (o + i) & ~3, start = (o + i) & 3;
    const len = Math.min(4 - start, size - i);
    let chunk = word(w);
    if (start > 0) chunk = bin('rsh', chunk, C(8 * start));
    if (len < 4) chunk = bin('and', chunk, C(2 ** (8 * len) - 1));
    r = or64(r, lsh64(u32(chunk), 8 * i));
    i += len;
  }
  return r;
}


/** Reassembles `size` stack bytes at region offset i. */
export function stackLoad(cells: ReadonlyMap<number, Cell>, i: number, size: number, pc: number): Value {
  const first = cells.get(i);
  if (first !== undefined && first.v.t !== 's') {
    if (first.v.t === 'u') return first.v;
    let whole = size === 8 && first.b === 0;
    for (let b = 1; whole && b < 8; b++) {
      const c = cells.get(i + b);
      whole = c !== undefined && c.v === first.v && c.b === b;
    }
    return whole ? first.v : unknown(pc, `part of a spilled pointer (insn ${pc})`);
  }
  let r: Scalar = constant(0n);
  for (let k = 0; k < size;) {
    const c = cells.get(i + k);
    let len = 1;
    if (c === undefined) {
      while (k + len < size && cells.get(i + k + len) === undefined) len++;
      k += len;
      continue;
    }
    if (c.v.t === 'u') return c.v;
    if (c.v.t !== 's') return unknown(pc, `part of a spilled pointer (insn ${pc})`);
    for (;;) {
      const n = cells.get(i + k + len);
      if (k + len >= size || n === undefined || n.v !== c.v || n.b !== c.b + len) break;
      len++;
    }
    r = or64(r, lsh64(extract(c.v, c.b, len), 8 * k));
    k += len;
  }
  return fits(r) ? r : unknown(pc, `an expression too large for a classic-BPF filter (insn ${pc})`);
}

