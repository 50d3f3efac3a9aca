/**
 * @module split/facts
 * What one path of the analysis knows about seccomp_data: the outcome of every test it took.
 * Used only to prune branches that cannot be taken (so the filter holds no dead code) and to
 * fold words a path pinned to one value; forgetting a fact is always sound.
 *
 * A test `base + c  OP  k` (OP eq / gt / ge against a constant; signed tests arrive as
 * `x + 2^31`) restricts `base` to a set of u32 values, kept as sorted disjoint intervals.
 * Other tests are remembered by their exact key.
 */
import { affine, substitute, type Expr, type Word } from './expr.js';
import { evalTest, type Test } from './tree.js';

/** Sorted, disjoint, inclusive u32 intervals. */
export type Ranges = ReadonlyArray<readonly [number, number]>;

const MAX = 0xffff_ffff;
export const FULL: Ranges = [[0, MAX]];
/** Beyond this many intervals a set is widened (merging the closest ones): still sound. */
const MAX_INTERVALS = 64;

export function intersect(a: Ranges, b: Ranges): Ranges {
  const out: [number, number][] = [];
  let i = 0, j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i]![0], b[j]![0]);
    const hi = Math.min(a[i]![1], b[j]![1]);
    if (lo <= hi) out.push([lo, hi]);
    if (a[i]![1] < b[j]![1]) i++;
    else j++;
  }
  return out;
}

export function complement(a: Ranges): Ranges {
  const out: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of a) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX) out.push([next, MAX]);
  return out;
}

/** { x - c mod 2^32 : x in r } */
function shift(r: Ranges, c: number): Ranges {
  if (c === 0) return r;
  const pieces: [number, number][] = [];
  for (const [lo, hi] of r) {
    const l = (lo - c) >>> 0, h = (hi - c) >>> 0;
    if (l <= h) pieces.push([l, h]);
    else pieces.push([0, h], [l, MAX]);
  }
  pieces.sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (last && p[0] <= last[1] + 1) last[1] = Math.max(last[1], p[1]);
    else out.push([p[0], p[1]]);
  }
  return out;
}

function widen(r: Ranges): Ranges {
  const out = r.map(([lo, hi]) => [lo, hi] as [number, number]);
  while (out.length > MAX_INTERVALS) {
    let best = 0;
    for (let i = 1; i + 1 < out.length; i++) if (out[i + 1]![0] - out[i]![1] < out[best + 1]![0] - out[best]![1]) best = i;
    out.splice(best, 2, [out[best]![0], out[best + 1]![1]]);
  }
  return out;
}

/** Values y with `y op k`. */
function solutions(op: Test['op'], k: number): Ranges {
  switch (op) {
    case 'eq': return [[k, k]];
    case 'gt': return k === MAX ? [] : [[k + 1, MAX]];
    case 'ge': return [[k, MAX]];
    case 'set': return []; // not an interval: callers do not use it
  }
}

interface RangeFact { base: Expr; set: Ranges }

/** The facts of one path. Copy with `clone` before a fork. */
export class Facts {
  private constructor(
    private readonly ranges: Map<string, RangeFact>,
    private readonly exact: Map<string, boolean>,
  ) {}

  static empty(): Facts {
    return new Facts(new Map(), new Map());
  }

  /** Number of facts (what a clone copies). */
  get size(): number {
    return this.ranges.size + this.exact.size;
  }

  clone(): Facts {
    return new Facts(new Map(this.ranges), new Map(this.exact));
  }

  /** Restricts `base` to `set` (returns false when no value is left). */
  restrict(base: Expr, set: Ranges): boolean {
    const cur = this.ranges.get(base.key)?.set ?? FULL;
    const next = widen(intersect(cur, set));
    this.ranges.set(base.key, { base, set: next });
    return next.length > 0;
  }

  /** The value of `w` if this path pinned it. */
  pinned(w: Word): number | undefined {
    const s = this.ranges.get(w.key)?.set;
    return s && s.length === 1 && s[0]![0] === s[0]![1] ? s[0]![0] : undefined;
  }

  /** `e` with pinned words folded in. */
  resolve(e: Expr): Expr {
    return e.k === 'c' ? e : substitute(e, (w) => this.pinned(w));
  }

  /** True / false when the test's outcome follows from the facts, else undefined. */
  decide(t: Test): boolean | undefined {
    const a = this.resolve(t.a), b = this.resolve(t.b);
    if (a.k === 'c' && b.k === 'c') return evalTest({ ...t, a, b }, []);
    const known = this.exact.get(t.key);
    if (known !== undefined) return known;
    if (b.k !== 'c') return undefined;
    const k = b.v;
    switch (t.op) { // what the bits that can be 1 already tell
      case 'set': if ((a.mask & k) === 0) return false; break;
      case 'eq': if ((k & ~a.mask) !== 0) return false; break;
      case 'gt': if (a.mask <= k) return false; break;
      case 'ge': if (a.mask < k) return false; break;
    }
    const { base, c } = affine(a);
    const cur = this.ranges.get(base.key)?.set;
    if (cur === undefined) return undefined;
    if (t.op === 'set') {
      // Only a single value decides a bit test.
      return cur.length === 1 && cur[0]![0] === cur[0]![1] ? (((cur[0]![0] + c) & k) >>> 0) !== 0 : undefined;
    }
    const yes = shift(solutions(t.op, k), c);
    if (intersect(cur, yes).length === 0) return false;
    if (intersect(cur, complement(yes)).length === 0) return true;
    return undefined;
  }

  /** Records the outcome of a test; false when the path became impossible. */
  assume(t: Test, outcome: boolean): boolean {
    this.exact.set(t.key, outcome);
    const a = this.resolve(t.a), b = this.resolve(t.b);
    if (b.k !== 'c' || a.k === 'c' || t.op === 'set') return true;
    const { base, c } = affine(a);
    const yes = shift(solutions(t.op, b.v), c);
    return this.restrict(base, outcome ? yes : complement(yes));
  }
}
