/**
 * @module split/lower
 * Lowers the split's analysis (split/analyze) to one seccomp classic-BPF filter:
 *
 *         ld [4]                          ; arch
 *         jeq #AUDIT_ARCH_X86_64, native, foreign
 *   foreign: <the program's tree for a foreign arch>
 *   native:  ld [0]                       ; nr
 *         <binary search on nr: jge/jeq #k over ranges of numbers with the same tree; a tree
 *          used by one range sits right where the search finds it>
 *         <trees used by several ranges>
 *         ret #k ...                      ; shared verdicts
 *
 * A tree is a block per test node (compute the expression, jeq/jgt/jge/jset), each placed right
 * after the only block that jumps to it, or after all of them when several do.
 * Numbers above the x86_64 table (x32 numbers, -1...) share the "other" tree, which tests nr
 * itself as the program does. A syscall whose tree is a constant verdict jumps straight from
 * the search to a `ret #k`: on its path the filter loads only arch and nr and uses only
 * jeq/jge/jgt/ret, which is what the kernel's seccomp action cache needs to learn that a
 * syscall is always allowed. Expressions are computed in A (X and M[] as temporaries); a test
 * reuses A when it already holds the expression. Long jumps go through the builder's
 * trampolines (cbpf/builder).
 *
 * Over BPF_MAXINSNS instructions, the largest trees are sent whole to the supervisor (their
 * syscalls are listed in `warnings`) until the filter fits.
 */
import { BPF_ADD, BPF_ALU, BPF_AND, BPF_DIV, BPF_K, BPF_LSH, BPF_MUL, BPF_OR, BPF_RSH, BPF_SUB, BPF_X, BPF_XOR } from '../abi/cbpf.js';
import { AUDIT_ARCH_X86_64, SECCOMP_RET_USER_NOTIF } from '../abi/seccomp.js';
import { syscallName } from '../abi/syscalls-x86_64.js';
import { ClassicBuilder, type Target } from '../cbpf/builder.js';
import { checkClassic } from '../cbpf/check.js';
import { BPF_MAXINSNS, cinsn, type CInsn } from '../cbpf/insn.js';
import { OP } from '../cbpf/opcodes.js';
import { SeccompEbpfError } from '../errors.js';
import type { Analysis, Region } from './analyze.js';
import type { BinOp, Expr } from './expr.js';
import { reasonsOf, type NotifyReason, type Tree } from './tree.js';

export interface LowerOptions {
  /** Largest filter (default BPF_MAXINSNS, 4096). */
  maxInsns?: number;
}

export interface Lowered {
  filter: CInsn[];
  /** What had to go to the supervisor so that the filter fits. */
  warnings: string[];
  /** The regions as lowered (trees sent to the supervisor for size replaced by notify). */
  syscalls: Region[];
  other: Region;
  foreign: Region;
}

const ALU: Record<BinOp, number> = {
  add: BPF_ADD, sub: BPF_SUB, mul: BPF_MUL, div: BPF_DIV, and: BPF_AND, or: BPF_OR, xor: BPF_XOR, lsh: BPF_LSH, rsh: BPF_RSH,
};
const JUMP_K = { eq: OP.JEQ_K, gt: OP.JGT_K, ge: OP.JGE_K, set: OP.JSET_K } as const;
const JUMP_X = { eq: OP.JEQ_X, gt: OP.JGT_X, ge: OP.JGE_X, set: OP.JSET_X } as const;
/** Key of "A holds an unknown value". */
const NONE = '';

interface Run { lo: number; hi: number; tree: Tree }

/** A block of code: a tree entered with A holding `a`. */
interface Block { key: string; tree: Tree; a: string; label: string; refs: number; placed: boolean }

/** Emits one filter for fixed regions. */
class Emitter {
  private readonly b = new ClassicBuilder();
  private labels = 0;
  private readonly blocks = new Map<string, Block>();
  private readonly rets = new Map<number, string>();
  /** What A holds at the current position (an expression key, or NONE). */
  private a = NONE;

  private fresh(): string {
    return `L${this.labels++}`;
  }

  private retLabel(v: number): string {
    let l = this.rets.get(v);
    if (l === undefined) this.rets.set(v, (l = this.fresh()));
    return l;
  }

  /** Counts a reference to the code of `tree` entered with A holding `a` (and, the first time, its children's). */
  private ref(tree: Tree, a: string): void {
    if (tree.kind === 'ret' || tree.kind === 'notify') return;
    const key = `${tree.id}|${a}`;
    const blk = this.blocks.get(key);
    if (blk !== undefined) {
      blk.refs++;
      return;
    }
    this.blocks.set(key, { key, tree, a, label: this.fresh(), refs: 1, placed: false });
    if (tree.kind === 'test') {
      this.ref(tree.then, tree.test.a.key);
      this.ref(tree.else, tree.test.a.key);
    }
  }

  private block(tree: Tree, a: string): Block | undefined {
    return tree.kind === 'ret' || tree.kind === 'notify' ? undefined : this.blocks.get(`${tree.id}|${a}`);
  }

  /** Where a jump to `tree` (with A holding `a`) goes. */
  private target(tree: Tree, a: string): Target {
    if (tree.kind === 'ret') return this.retLabel(tree.value);
    if (tree.kind === 'notify') return this.retLabel(SECCOMP_RET_USER_NOTIF);
    return this.block(tree, a)!.label;
  }

  /** A <- e, using M[depth..] and X as temporaries. */
  private compute(e: Expr, depth: number): void {
    if (this.a === e.key) return;
    switch (e.k) {
      case 'c': this.b.ldImm(e.v); break;
      case 'w': this.b.ldAbs(e.off); break;
      case 'n':
        this.compute(e.a, depth);
        this.b.emit(cinsn(OP.NEG));
        break;
      case 'b':
        if (e.b.k === 'c') {
          this.compute(e.a, depth);
          this.b.emit(cinsn(BPF_ALU | ALU[e.op] | BPF_K, e.b.v));
        } else {
          this.loadX(e.a, e.b, depth);
          this.b.emit(cinsn(BPF_ALU | ALU[e.op] | BPF_X));
        }
        break;
    }
    this.a = e.key;
  }

  /** A <- a, X <- b. */
  private loadX(a: Expr, b: Expr, depth: number): void {
    if (depth >= 16) throw new SeccompEbpfError('ERR_SPLIT_INTERNAL', 'expression needs more than 16 scratch words');
    this.compute(b, depth);
    if (!a.usesX) {
      this.b.emit(cinsn(OP.TAX));
      this.compute(a, depth);
    } else {
      this.b.emit(cinsn(OP.ST, depth));
      this.compute(a, depth + 1);
      this.b.emit(cinsn(OP.LDX_MEM, depth));
    }
  }

  /**
   * Emits a block here, then, right after it, its children that nothing else jumps to (so most
   * jumps are short); blocks with several predecessors are placed later by `placeShared`.
   */
  private place(blk: Block): void {
    if (blk.placed) return;
    blk.placed = true;
    const tree = blk.tree;
    this.b.label(blk.label);
    this.a = blk.a;
    if (tree.kind === 'retExpr') {
      this.compute(tree.expr, 0);
      this.b.retA();
      return;
    }
    if (tree.kind !== 'test') return;
    const t = tree.test;
    if (t.b.k === 'c') this.compute(t.a, 0);
    else this.loadX(t.a, t.b, 0);
    this.a = t.a.key;
    const code = t.b.k === 'c' ? JUMP_K[t.op] : JUMP_X[t.op];
    this.b.jump(code, t.b.k === 'c' ? t.b.v : 0, this.target(tree.then, this.a), this.target(tree.else, this.a));
    for (const sub of [tree.then, tree.else]) {
      const child = this.block(sub, t.a.key);
      if (child !== undefined && child.refs === 1) this.place(child);
    }
  }

  /** The blocks jumped to from several places, each after every block that jumps to it. */
  private placeShared(): void {
    const order: Block[] = [];
    const done = new Set<string>();
    const visit = (blk: Block): void => {
      if (done.has(blk.key)) return;
      done.add(blk.key);
      if (blk.tree.kind === 'test') {
        for (const sub of [blk.tree.then, blk.tree.else]) {
          const child = this.block(sub, blk.tree.test.a.key);
          if (child) visit(child);
        }
      }
      order.push(blk);
    };
    for (const blk of this.blocks.values()) visit(blk);
    for (const blk of order.reverse()) this.place(blk);
  }

  build(runs: Run[], foreign: Tree): CInsn[] {
    const b = this.b;
    this.ref(foreign, 'w4');
    for (const r of runs) this.ref(r.tree, 'w0');
    b.ldAbs(4);
    const native = this.fresh();
    b.jump(OP.JEQ_K, AUDIT_ARCH_X86_64, native, this.target(foreign, 'w4'));
    const fb = this.block(foreign, 'w4');
    if (fb !== undefined && fb.refs === 1) this.place(fb);
    b.label(native);
    b.ldAbs(0);
    // Binary search over the runs, depth first (the lower half falls through); A holds nr.
    const leaf = (r: Run): Target => this.target(r.tree, 'w0');
    const inline = (i: number): Block | undefined => {
      const blk = this.block(runs[i]!.tree, 'w0');
      return blk !== undefined && blk.refs === 1 && !blk.placed ? blk : undefined;
    };
    /** A range that is one run placed elsewhere is jumped to directly. */
    const direct = (i: number, j: number): Target | undefined => (i === j && inline(i) === undefined ? leaf(runs[i]!) : undefined);
    const search = (i: number, j: number, label?: string): void => {
      if (label !== undefined) b.label(label);
      this.a = 'w0';
      if (i === j) {
        const blk = inline(i);
        if (blk !== undefined) this.place(blk);
        else b.ja(leaf(runs[i]!));
        return;
      }
      if (j === i + 2 && runs[i]!.tree === runs[j]!.tree && runs[i + 1]!.lo === runs[i + 1]!.hi && direct(i, i) !== undefined) {
        // One number between two ranges of the same tree: jeq.
        const mid = direct(i + 1, i + 1);
        b.jump(OP.JEQ_K, runs[i + 1]!.lo, mid ?? null, leaf(runs[i]!));
        if (mid === undefined) search(i + 1, i + 1);
        return;
      }
      const m = (i + j + 1) >> 1;
      const low = direct(i, m - 1), high = direct(m, j);
      const highLabel = high ?? this.fresh();
      b.jump(OP.JGE_K, runs[m]!.lo, highLabel, low ?? null);
      if (low === undefined) search(i, m - 1);
      if (high === undefined) search(m, j, highLabel as string);
    };
    search(0, runs.length - 1);
    this.placeShared();
    for (const [v, l] of this.rets) {
      b.label(l);
      b.ret(v);
    }
    return b.build();
  }
}

function runsOf(syscalls: readonly Tree[], other: Tree): Run[] {
  const runs: Run[] = [];
  const add = (lo: number, hi: number, tree: Tree): void => {
    const last = runs[runs.length - 1];
    if (last && last.tree === tree && last.hi + 1 === lo) last.hi = hi;
    else runs.push({ lo, hi, tree });
  };
  syscalls.forEach((t, nr) => add(nr, nr, t));
  add(syscalls.length, 0xffff_ffff, other);
  return runs;
}

/** Rough number of instructions the code of a tree takes. */
function cost(t: Tree, seen: Set<number> = new Set()): number {
  if (seen.has(t.id)) return 0;
  seen.add(t.id);
  switch (t.kind) {
    case 'ret':
    case 'notify': return 0;
    case 'retExpr': return t.expr.size + 1;
    case 'test': return t.test.a.size + t.test.b.size + 1 + cost(t.then, seen) + cost(t.else, seen);
  }
}

const SIZE_REASON: NotifyReason = { kind: 'size', message: 'its argument tests do not fit in the kernel filter' };

/**
 * Emits the filter for `analysis`. Throws ERR_SPLIT_OPTIONS for bad options, and
 * ERR_SPLIT_TOO_LARGE if even the smallest filter (every syscall to the supervisor) does not fit.
 */
export function lower(analysis: Analysis, opts: LowerOptions = {}): Lowered {
  if (typeof opts !== 'object' || opts === null) throw new SeccompEbpfError('ERR_SPLIT_OPTIONS', 'lowering options must be an object');
  for (const k of Object.keys(opts)) if (k !== 'maxInsns') throw new SeccompEbpfError('ERR_SPLIT_OPTIONS', `unknown lowering option "${k}"`);
  const max = opts.maxInsns ?? BPF_MAXINSNS;
  if (!Number.isInteger(max) || max < 1 || max > BPF_MAXINSNS) throw new SeccompEbpfError('ERR_SPLIT_OPTIONS', `maxInsns must be in 1..${BPF_MAXINSNS}, got ${max}`);
  const f = analysis.factory;
  let syscalls = analysis.syscalls.slice();
  let other = analysis.other;
  let foreign = analysis.foreign;
  const warnings: string[] = [];
  for (;;) {
    const filter = new Emitter().build(runsOf(syscalls.map((r) => f.plain(r.tree)), f.plain(other.tree)), f.plain(foreign.tree));
    if (filter.length <= max) {
      checkClassic(filter);
      return { filter, warnings, syscalls, other, foreign };
    }
    // Too large: the costliest trees go to the supervisor, wherever they are used, until the
    // estimated saving covers the excess.
    const trees = new Map<Tree, number>();
    for (const r of [...syscalls, other, foreign]) {
      const p = f.plain(r.tree);
      if (p.kind === 'ret' || p.kind === 'notify') continue;
      // Its code, and about two search instructions per number using it.
      trees.set(p, (trees.get(p) ?? cost(p)) + 2);
    }
    // Costliest first; among equals the highest numbers (usually the rarest syscalls) first.
    const byCost = [...trees].reverse().sort((x, y) => y[1] - x[1]);
    if (byCost.length === 0) {
      throw new SeccompEbpfError('ERR_SPLIT_TOO_LARGE', `the classic-BPF filter needs ${filter.length} instructions, more than ${max}`);
    }
    const chosen = new Set<Tree>();
    let saved = 0;
    for (const [t, c] of byCost) {
      if (saved >= filter.length - max) break;
      chosen.add(t);
      saved += c;
    }
    const names: string[] = [];
    const demote = (r: Region, name: string): Region => {
      if (!chosen.has(f.plain(r.tree))) return r;
      names.push(name);
      const tree = f.notify([...reasonsOf(r.tree), SIZE_REASON]);
      return { tree, reasons: tree.reasons.slice() };
    };
    syscalls = syscalls.map((r, nr) => demote(r, syscallName(nr) ?? `nr ${nr}`));
    other = demote(other, 'other syscall numbers');
    foreign = demote(foreign, 'foreign architectures');
    warnings.push(`${names.length > 12 ? `${names.slice(0, 12).join(', ')} and ${names.length - 12} more` : names.join(', ')}: ` +
      `sent to the supervisor, the kernel filter would exceed ${max} instructions`);
  }
}
