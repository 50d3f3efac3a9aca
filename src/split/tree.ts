/**
 * @module split/tree
 * The split's result for one region of syscalls (one nr, or "every other nr", or "foreign
 * arch"): a decision tree whose inner nodes are 32-bit tests on seccomp_data expressions
 * (exactly classic BPF's conditional jumps: jeq, jgt, jge, jset against a constant or another
 * expression) and whose leaves are what the kernel filter returns:
 *
 *   ret     a constant verdict (SECCOMP_RET_*), decided in the kernel
 *   retExpr a verdict computed from the arguments (`ret A`), decided in the kernel
 *   notify  SECCOMP_RET_USER_NOTIF: the supervisor runs the whole eBPF program
 *
 * Trees are hash-consed by a TreeFactory: equal subtrees are the same object (same `id`), and a
 * test whose two branches are equal is dropped, so a syscall whose every path ends in the same
 * constant verdict is a single `ret` leaf (dispatched without loading any argument).
 */
import { bin, C, evalExpr, formatExpr, substitute, type Expr } from './expr.js';

/** A classic-BPF condition: eq a == b, gt a > b, ge a >= b (unsigned), set (a & b) != 0. */
export type TestOp = 'eq' | 'gt' | 'ge' | 'set';

export interface Test {
  readonly op: TestOp;
  readonly a: Expr;
  readonly b: Expr;
  readonly key: string;
}

export interface RetLeaf { readonly kind: 'ret'; readonly id: number; readonly value: number }
export interface RetExprLeaf { readonly kind: 'retExpr'; readonly id: number; readonly expr: Expr }
/** Why (part of) a region goes to the supervisor. */
export interface NotifyReason {
  readonly kind: 'map' | 'helper' | 'unsupported' | 'fault' | 'verdict' | 'budget' | 'size';
  /** Instruction index, when one is to blame. */
  readonly insn?: number;
  readonly message: string;
}
/** SECCOMP_RET_USER_NOTIF, with why (reasons are not part of a tree's identity for lowering: see plain()). */
export interface NotifyLeaf { readonly kind: 'notify'; readonly id: number; readonly reasons: readonly NotifyReason[] }
export interface TestNode {
  readonly kind: 'test';
  readonly id: number;
  readonly test: Test;
  readonly then: Tree;
  readonly else: Tree;
}
export type Tree = RetLeaf | RetExprLeaf | NotifyLeaf | TestNode;

/** A test normalised to classic BPF's conditions; `neg` when the original condition is its negation. */
export interface NormTest { test: Test; neg: boolean }

const mk = (op: TestOp, a: Expr, b: Expr): Test => ({ op, a, b, key: `${op} ${a.key} ${b.key}` });

/**
 * The condition `a OP b` on u32 values as a classic-BPF test (or a constant when it is decided
 * by the operands alone). `ne`, `lt`, `le` become negated `eq`, `ge`, `gt`; a constant left
 * operand moves right; (x & m) == 0 becomes !set(x, m).
 */
export function normTest(op: TestOp | 'ne' | 'lt' | 'le', a: Expr, b: Expr): NormTest | boolean {
  let neg = false;
  if (op === 'ne') { op = 'eq'; neg = true; }
  else if (op === 'lt') { op = 'ge'; neg = true; }
  else if (op === 'le') { op = 'gt'; neg = true; }
  if (a.k === 'c' && b.k === 'c') return evalTest(mk(op, a, b), []) !== neg;
  if (a.k === 'c') {
    if (op === 'eq' || op === 'set') [a, b] = [b, a];
    else { // k > b <=> !(b >= k); k >= b <=> !(b > k)
      [a, b] = [b, a];
      op = op === 'gt' ? 'ge' : 'gt';
      neg = !neg;
    }
  }
  if (b.k === 'c') {
    const k = b.v;
    if (op === 'gt' && k === 0xffff_ffff) return neg;
    if (op === 'ge' && k === 0) return !neg;
    if (op === 'ge') { op = 'gt'; b = C(k - 1); }
    if (op === 'set' && k === 0) return neg;
    if (op === 'eq' && k === 0 && a.k === 'b' && a.op === 'and' && a.b.k === 'c') {
      return { test: mk('set', a.a, a.b), neg: !neg };
    }
  }
  return { test: mk(op, a, b), neg };
}

/** Outcome of a test for the given seccomp_data words. */
export function evalTest(t: Test, words: ArrayLike<number>): boolean {
  const a = evalExpr(t.a, words), b = evalExpr(t.b, words);
  switch (t.op) {
    case 'eq': return a === b;
    case 'gt': return a > b;
    case 'ge': return a >= b;
    case 'set': return (a & b) !== 0;
  }
}

const reasonKey = (r: NotifyReason): string => `${r.kind}@${r.insn ?? ''}:${r.message}`;

/** Builds hash-consed trees (one factory per analysis). */
export class TreeFactory {
  private readonly table = new Map<string, Tree>();
  private readonly plainOf = new Map<number, Tree>();
  private nextId = 0;
  /** The notify leaf without reasons (what plain trees use). */
  readonly notifyPlain: NotifyLeaf = this.notify([]);

  private intern<T extends Tree>(key: string, make: (id: number) => T): T {
    let t = this.table.get(key);
    if (t === undefined) this.table.set(key, (t = make(this.nextId++)));
    return t as T;
  }

  ret(value: number): RetLeaf {
    const v = value >>> 0;
    return this.intern(`r${v}`, (id) => ({ kind: 'ret', id, value: v }));
  }

  retExpr(expr: Expr): RetLeaf | RetExprLeaf {
    if (expr.k === 'c') return this.ret(expr.v);
    return this.intern(`R${expr.key}`, (id) => ({ kind: 'retExpr', id, expr }));
  }

  notify(reasons: readonly NotifyReason[]): NotifyLeaf {
    const byKey = new Map(reasons.map((r) => [reasonKey(r), r]));
    const keys = [...byKey.keys()].sort();
    return this.intern(`N${keys.join('\n')}`, (id) => ({ kind: 'notify', id, reasons: keys.map((k) => byKey.get(k)!) }));
  }

  test(test: Test, then: Tree, otherwise: Tree): Tree {
    if (then === otherwise) return then;
    if (then.kind === 'notify' && otherwise.kind === 'notify') return this.notify([...then.reasons, ...otherwise.reasons]);
    return this.intern(`${test.key}?${then.id}:${otherwise.id}`, (id) => ({ kind: 'test', id, test, then, else: otherwise }));
  }

  /** The same function with reasons dropped: equal plain trees lower to the same code. */
  plain(t: Tree): Tree {
    if (t.kind === 'ret' || t.kind === 'retExpr') return t;
    if (t.kind === 'notify') return this.notifyPlain;
    let p = this.plainOf.get(t.id);
    if (p === undefined) this.plainOf.set(t.id, (p = this.test(t.test, this.plain(t.then), this.plain(t.else))));
    return p;
  }

  /**
   * `t` with word `off` replaced by `value` and tests folded (a region of one syscall number
   * cut out of a tree over every number).
   */
  specialize(t: Tree, off: number, value: number, memo: Map<number, Tree> = new Map()): Tree {
    if (t.kind === 'ret' || t.kind === 'notify') return t;
    const pin = (w: { off: number }): number | undefined => (w.off === off ? value : undefined);
    if (t.kind === 'retExpr') return this.retExpr(substitute(t.expr, pin));
    let r = memo.get(t.id);
    if (r !== undefined) return r;
    const a = substitute(t.test.a, pin), b = substitute(t.test.b, pin);
    if (a === t.test.a && b === t.test.b) {
      r = this.test(t.test, this.specialize(t.then, off, value, memo), this.specialize(t.else, off, value, memo));
    } else {
      const n = normTest(t.test.op, a, b);
      if (typeof n === 'boolean') r = this.specialize(n ? t.then : t.else, off, value, memo);
      else {
        const yes = this.specialize(t.then, off, value, memo), no = this.specialize(t.else, off, value, memo);
        r = n.neg ? this.test(n.test, no, yes) : this.test(n.test, yes, no);
      }
    }
    memo.set(t.id, r);
    return r;
  }
}

/** The reasons of every notify leaf of a tree. */
export function reasonsOf(t: Tree): NotifyReason[] {
  const out = new Map<string, NotifyReason>();
  for (const l of leaves(t).values()) if (l.kind === 'notify') for (const r of l.reasons) out.set(reasonKey(r), r);
  return [...out.values()];
}

/** The verdict a tree gives for seccomp_data words: a u32, or 'notify'. */
export function evalTree(t: Tree, words: ArrayLike<number>): number | 'notify' {
  for (;;) {
    switch (t.kind) {
      case 'ret': return t.value;
      case 'retExpr': return evalExpr(t.expr, words);
      case 'notify': return 'notify';
      case 'test': t = evalTest(t.test, words) ? t.then : t.else;
    }
  }
}

/** Number of distinct test nodes (shared subtrees counted once). */
export function treeSize(t: Tree, seen: Set<number> = new Set()): number {
  if (t.kind !== 'test' || seen.has(t.id)) return 0;
  seen.add(t.id);
  return 1 + treeSize(t.then, seen) + treeSize(t.else, seen);
}

/** Every leaf a tree can reach, by id. */
export function leaves(t: Tree, out: Map<number, Tree> = new Map(), seen: Set<number> = new Set()): Map<number, Tree> {
  if (t.kind !== 'test') out.set(t.id, t);
  else if (!seen.has(t.id)) {
    seen.add(t.id);
    leaves(t.then, out, seen);
    leaves(t.else, out, seen);
  }
  return out;
}

const OPS: Record<TestOp, string> = { eq: '==', gt: '>', ge: '>=', set: '&' };
/** C-like text of a test. */
export function formatTest(t: Test): string {
  if (t.op === 'set') return `${formatExpr(bin('and', t.a, t.b))} != 0`;
  return `${formatExpr(t.a)} ${OPS[t.op]} ${formatExpr(t.b)}`;
}
