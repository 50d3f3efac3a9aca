/**
 * @module split/analyze
 * The split's analysis: for each architecture and syscall number, every path of the eBPF
 * program with nr and arch known and the arguments (and instruction_pointer) symbolic. The
 * result per region is a decision tree (split/tree) of argument tests ending in a verdict the
 * kernel can return itself, or in USER_NOTIF where the supervisor must run the program:
 *
 *   - a path that calls a helper or reads or writes map memory (other than a frozen .rodata
 *     value, which is a constant) needs state: USER_NOTIF for exactly the arguments that reach
 *     it. No path decided in the kernel touches a map, so a syscall's side effects happen once,
 *     when the supervisor runs the whole program;
 *   - a test or a verdict on a value the analysis cannot express (see split/values), a program
 *     fault, a LOG or USER_NOTIF verdict, or an exploration over budget: USER_NOTIF too.
 *
 * Regions: each x86_64 number 0..maxNr with arch AUDIT_ARCH_X86_64 (see analyze() for how nr
 * becomes known); "other": arch x86_64 and nr > maxNr (x32 numbers, -1, unassigned numbers: nr
 * symbolic, known to be above maxNr); "foreign": any other arch (arch and nr symbolic).
 * Register, stack and memory semantics follow the VM (src/ebpf/vm/interpreter.ts):
 * uninitialised registers hold VM_POISON, stacks start zeroed, verdicts are the low 32 bits of
 * r0. ALU: split/alu; loads: split/memory; path facts: split/facts.
 */
import * as abi from '../abi/bpf.js';
import { AUDIT_ARCH_X86_64, SECCOMP_RET_ACTION_FULL, SECCOMP_RET_LOG, SECCOMP_RET_USER_NOTIF } from '../abi/seccomp.js';
import { syscallName } from '../abi/syscalls-x86_64.js';
import type { Insn } from '../ebpf/insn.js';
import type { MapSpec } from '../ebpf/maps/types.js';
import { helperName } from '../ebpf/helpers/index.js';
import { decodeProgram, LD_CONST, LD_MAP_HANDLE, type DecodedProgram } from '../ebpf/vm/decode.js';
import { VM_POISON } from '../ebpf/vm/interpreter.js';
import { SeccompEbpfError } from '../errors.js';
import { comparePointers, evalAlu, evalEndian } from './alu.js';
import { bin, C, W, type Expr } from './expr.js';
import { complement, Facts } from './facts.js';
import { ctxLoad, stackLoad, type Cell } from './memory.js';
import { leaves, normTest, reasonsOf, TreeFactory, type NormTest, type NotifyReason, type Tree } from './tree.js';
import {
  add64, and64, asConst, constant, fits, or64, sext64, u32, unknown, xor64, type Scalar, type Value,
} from './values.js';
import { cond32, cond64 } from '../ebpf/vm/alu.js';

/** The program to analyse: linked instructions and its maps. */
export interface SplitInput {
  insns: readonly Insn[];
  maps: readonly MapSpec[];
  /**
   * The current value of a frozen map (MapSpec.readOnly, i.e. .rodata: `const volatile`
   * globals, set before start). Its bytes are constants for the analysis, as for the kernel's
   * verifier. Default: the map's initialValue.
   */
  readOnlyValue?: (mapIndex: number) => Uint8Array | undefined;
}

export interface AnalyzeOptions {
  /** Highest syscall number analysed one by one (default: the highest x86_64 number). */
  maxNr?: number;
  /** Instructions explored per region before giving it to the supervisor (default 200000). */
  budget?: number;
  /** Instructions explored in all (default 2000000): regions after that go to the supervisor. */
  totalBudget?: number;
}

/** The analysis of one region: the tree the kernel filter follows, and why it notifies. */
export interface Region {
  tree: Tree;
  reasons: NotifyReason[];
}

export interface Analysis {
  factory: TreeFactory;
  /** Regions for nr 0..maxNr, arch x86_64 (index = nr). */
  maxNr: number;
  syscalls: Region[];
  /** Arch x86_64, nr > maxNr as u32 (x32 numbers, -1, unassigned numbers). */
  other: Region;
  /** arch != AUDIT_ARCH_X86_64. */
  foreign: Region;
}

/** Highest number in the x86_64 syscall table. */
export const MAX_X86_64_NR = ((): number => {
  let max = 0;
  for (let nr = 0; nr < 1024; nr++) if (syscallName(nr) !== undefined) max = nr;
  return max;
})();

// Module-local copies: some loaders turn imported bindings into getter calls (see ebpf/vm/alu).
const {
  BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ATOMIC, BPF_CALL, BPF_CMPXCHG, BPF_END, BPF_EXIT, BPF_F_RDONLY_PROG,
  BPF_FETCH, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JMP, BPF_JMP32, BPF_JNE, BPF_JSET, BPF_JSGE,
  BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_LD, BPF_LDX, BPF_MAP_TYPE_ARRAY, BPF_MAX_STACK, BPF_MEMSX, BPF_OR,
  BPF_PSEUDO_CALL, BPF_ST, BPF_STX, BPF_X, BPF_XCHG, BPF_XOR, MAX_CALL_FRAMES,
} = abi;

const SIZES = [4, 2, 1, 8];
const CTX_SIZE = 64;
const SIGN = 0x8000_0000;
const POISON = constant(VM_POISON);
/** Forks on one path before the region is given up (bounds recursion too). */
const MAX_FORKS = 600;
/** Tests per region. */
const MAX_NODES = 20_000;

interface Frame { readonly retPc: number; readonly saved: readonly Value[] }
interface State {
  pc: number;
  regs: Value[];
  frames: Frame[];
  /** Stack bytes per call depth: region offset (0..511) -> byte `b` of value `v`. Absent = 0. */
  stacks: Map<number, Cell>[];
  facts: Facts;
  forks: number;
}

type Plan = { k: 'test'; t: NormTest | boolean } | { k: 'and' | 'or'; a: Plan; b: Plan } | { k: 'not'; a: Plan };

const T = (op: Parameters<typeof normTest>[0], a: Expr, b: Expr): Plan => ({ k: 'test', t: normTest(op, a, b) });
const and = (a: Plan, b: Plan): Plan => ({ k: 'and', a, b });
const or = (a: Plan, b: Plan): Plan => ({ k: 'or', a, b });
const not = (a: Plan): Plan => ({ k: 'not', a });
const bias = (x: Expr): Expr => bin('add', x, C(SIGN));

class OverBudget extends Error {}

const clone = (s: State): State => ({
  pc: s.pc, regs: s.regs.slice(), frames: s.frames.slice(), stacks: s.stacks.map((m) => new Map(m)), facts: s.facts.clone(), forks: s.forks,
});

/** A 32-bit comparison (JMP32, or 64-bit values that are known to fit) as a plan. */
function plan32(op: number, a: Expr, b: Expr): Plan {
  switch (op) {
    case BPF_JEQ: return T('eq', a, b);
    case BPF_JNE: return T('ne', a, b);
    case BPF_JGT: return T('gt', a, b);
    case BPF_JGE: return T('ge', a, b);
    case BPF_JLT: return T('lt', a, b);
    case BPF_JLE: return T('le', a, b);
    case BPF_JSET: return T('set', a, b);
    case BPF_JSGT: return T('gt', bias(a), bias(b));
    case BPF_JSGE: return T('ge', bias(a), bias(b));
    case BPF_JSLT: return T('lt', bias(a), bias(b));
    case BPF_JSLE: return T('le', bias(a), bias(b));
  }
  throw new RangeError(`bad jump op ${op}`);
}

/** A 64-bit comparison as tests on the high words, then the low words (unsigned). */
function plan64(op: number, a: Scalar, b: Scalar): Plan {
  if (op === BPF_JEQ) return and(T('eq', a.hi, b.hi), T('eq', a.lo, b.lo));
  if (op === BPF_JNE) return not(plan64(BPF_JEQ, a, b));
  if (op === BPF_JSET) return or(T('set', a.hi, b.hi), T('set', a.lo, b.lo));
  const signed = op === BPF_JSGT || op === BPF_JSGE || op === BPF_JSLT || op === BPF_JSLE;
  const ah = signed ? bias(a.hi) : a.hi, bh = signed ? bias(b.hi) : b.hi;
  const gt = (strict: boolean): Plan => or(T('gt', ah, bh), and(T('eq', ah, bh), T(strict ? 'gt' : 'ge', a.lo, b.lo)));
  switch (op) {
    case BPF_JGT: case BPF_JSGT: return gt(true);
    case BPF_JGE: case BPF_JSGE: return gt(false);
    case BPF_JLT: case BPF_JSLT: return not(gt(false));
    case BPF_JLE: case BPF_JSLE: return not(gt(true));
  }
  throw new RangeError(`bad jump op ${op}`);
}

/** Root of one region: the fixed words (nr, arch) and the initial facts. */
interface Root {
  fixed: ReadonlyMap<number, number>;
  facts: Facts;
}

/** Explores one region. */
class Explorer {
  steps = 0;
  nodes = 0;

  constructor(
    private readonly p: DecodedProgram,
    private readonly input: SplitInput,
    private readonly f: TreeFactory,
    private readonly root: Root,
    private readonly maxSteps: number,
  ) {}

  run(): Tree {
    const regs: Value[] = new Array<Value>(11).fill(POISON);
    regs[1] = { t: 'ctx', off: 0 };
    regs[10] = { t: 'stack', frame: 0, off: 0 };
    return this.explore({ pc: 0, regs, frames: [], stacks: [new Map()], facts: this.root.facts.clone(), forks: 0 });
  }

  // --- leaves -------------------------------------------------------------------------------

  private notify(kind: NotifyReason['kind'], insn: number | undefined, message: string): Tree {
    return this.f.notify([insn === undefined ? { kind, message } : { kind, insn, message }]);
  }

  private fault(insn: number, message: string): Tree {
    return this.notify('fault', insn, `the program faults: ${message}`);
  }

  private unsupported(insn: number, v: Value, what: string): Tree {
    if (v.t === 'u') return this.notify('unsupported', v.insn, `${what} depends on ${v.why}`);
    return this.notify('unsupported', insn, `${what} involves a pointer`);
  }

  private verdict(v: number, insn: number): Tree {
    const action = (v & SECCOMP_RET_ACTION_FULL) >>> 0;
    if (action === SECCOMP_RET_LOG) return this.notify('verdict', insn, 'returns SECCOMP_RET_LOG (the supervisor logs it)');
    if (action === SECCOMP_RET_USER_NOTIF) return this.notify('verdict', insn, 'returns SECCOMP_RET_USER_NOTIF');
    return this.f.ret(v);
  }

  private word(off: number): Expr {
    const v = this.root.fixed.get(off);
    return v === undefined ? W(off) : C(v);
  }

  // --- the path loop ------------------------------------------------------------------------

  private explore(s: State): Tree {
    const p = this.p;
    for (;;) {
      if (++this.steps > this.maxSteps) throw new OverBudget();
      const pc = s.pc;
      if (pc >= p.length) return this.fault(pc - 1, 'execution falls off the end of the program');
      const code = p.code[pc]!;
      switch (code & 7) {
        case BPF_ALU64:
        case BPF_ALU:
          s.regs[p.dst[pc]!] = this.alu(s, pc, code);
          s.pc++;
          break;
        case BPF_JMP:
        case BPF_JMP32: {
          const op = code & 0xf0;
          if (op === BPF_JA) {
            s.pc = p.target[pc]!;
            break;
          }
          if (op === BPF_CALL) {
            if (p.src[pc] !== BPF_PSEUDO_CALL) return this.notify('helper', pc, `calls ${helperName(p.imm[pc]!)}`);
            if (s.frames.length + 1 >= MAX_CALL_FRAMES) return this.fault(pc, `call depth exceeds ${MAX_CALL_FRAMES} frames`);
            s.frames.push({ retPc: pc + 1, saved: s.regs.slice(6, 10) });
            const depth = s.frames.length;
            s.stacks[depth] = new Map();
            s.regs[0] = s.regs[6] = s.regs[7] = s.regs[8] = s.regs[9] = POISON;
            s.regs[10] = { t: 'stack', frame: depth, off: 0 };
            s.pc = p.target[pc]!;
            break;
          }
          if (op === BPF_EXIT) {
            const frame = s.frames.pop();
            if (frame === undefined) return this.exit(s, pc);
            for (let i = 0; i < 4; i++) s.regs[6 + i] = frame.saved[i]!;
            s.regs[1] = s.regs[2] = s.regs[3] = s.regs[4] = s.regs[5] = POISON;
            s.regs[10] = { t: 'stack', frame: s.frames.length, off: 0 };
            s.pc = frame.retPc;
            break;
          }
          const t = this.jump(s, pc, code);
          if (t !== undefined) return t;
          break;
        }
        case BPF_LDX: {
          const t = this.load(s, pc, code);
          if (t !== undefined) return t;
          s.pc++;
          break;
        }
        case BPF_ST:
        case BPF_STX: {
          const t = (code & 0xe0) === BPF_ATOMIC ? this.atomic(s, pc, code) : this.store(s, pc, code);
          if (t !== undefined) return t;
          s.pc++;
          break;
        }
        case BPF_LD: {
          const t = this.lddw(s, pc);
          if (t !== undefined) return t;
          s.pc += 2;
          break;
        }
        default:
          return this.fault(pc, `invalid opcode 0x${code.toString(16)}`);
      }
    }
  }

  private exit(s: State, pc: number): Tree {
    const r0 = s.regs[0]!;
    if (r0.t !== 's') return this.unsupported(pc, r0, 'the verdict');
    const lo = s.facts.resolve(r0.lo);
    if (lo.k === 'c') return this.verdict(lo.v, pc);
    // A verdict computed from the arguments: `ret A`, except LOG, which the supervisor logs.
    return this.runPlan(s, T('eq', bin('and', lo, C(SECCOMP_RET_ACTION_FULL)), C(SECCOMP_RET_LOG)),
      () => this.verdict(SECCOMP_RET_LOG, pc), () => this.f.retExpr(lo));
  }

  // --- conditions and forks -----------------------------------------------------------------

  private decidePlan(facts: Facts, plan: Plan): boolean | undefined {
    switch (plan.k) {
      case 'test': {
        if (typeof plan.t === 'boolean') return plan.t;
        const d = facts.decide(plan.t.test);
        return d === undefined ? undefined : d !== plan.t.neg;
      }
      case 'not': {
        const d = this.decidePlan(facts, plan.a);
        return d === undefined ? undefined : !d;
      }
      case 'and':
      case 'or': {
        const stop = plan.k === 'or'; // the value that decides alone
        const a = this.decidePlan(facts, plan.a);
        if (a === stop) return stop;
        const b = this.decidePlan(facts, plan.b);
        if (b === stop) return stop;
        return a !== undefined && b !== undefined ? !stop : undefined;
      }
    }
  }

  private runPlan(s: State, plan: Plan, onTrue: (s: State) => Tree, onFalse: (s: State) => Tree): Tree {
    switch (plan.k) {
      case 'not': return this.runPlan(s, plan.a, onFalse, onTrue);
      case 'and': return this.runPlan(s, plan.a, (st) => this.runPlan(st, plan.b, onTrue, onFalse), onFalse);
      case 'or': return this.runPlan(s, plan.a, onTrue, (st) => this.runPlan(st, plan.b, onTrue, onFalse));
      case 'test': {
        if (typeof plan.t === 'boolean') return plan.t ? onTrue(s) : onFalse(s);
        const { test, neg } = plan.t;
        const ifTrue = neg ? onFalse : onTrue, ifFalse = neg ? onTrue : onFalse;
        const d = s.facts.decide(test);
        if (d !== undefined) return d ? ifTrue(s) : ifFalse(s);
        // A fork costs about what it copies: count it against the budget like instructions.
        this.steps += 16 + s.facts.size + s.stacks.reduce((n, m) => n + m.size, 0) / 8;
        if (this.steps > this.maxSteps) throw new OverBudget();
        const other = clone(s);
        const okTrue = s.facts.assume(test, true);
        const okFalse = other.facts.assume(test, false);
        if (!okTrue) return ifFalse(other);
        if (!okFalse) return ifTrue(s);
        if (++s.forks > MAX_FORKS || ++this.nodes > MAX_NODES) throw new OverBudget();
        other.forks = s.forks;
        return this.f.test(test, ifTrue(s), ifFalse(other));
      }
    }
  }

  /** A conditional jump: undefined when the path goes on (s.pc set), else the subtree. */
  private jump(s: State, pc: number, code: number): Tree | undefined {
    const p = this.p;
    const op = code & 0xf0;
    const is32 = (code & 7) === BPF_JMP32;
    const a = s.regs[p.dst[pc]!]!;
    const b: Value = code & BPF_X ? s.regs[p.src[pc]!]! : constant(is32 ? BigInt(p.k32[pc]!) : p.k64[pc]!);
    const target = p.target[pc]!, next = pc + 1;
    if (a.t !== 's' || b.t !== 's') {
      const taken = comparePointers(op, a, b, is32);
      if (taken === undefined) return this.unsupported(pc, a.t === 'u' ? a : b, `the jump at insn ${pc}`);
      s.pc = taken ? target : next;
      return undefined;
    }
    const ca = asConst(a), cb = asConst(b);
    if (ca !== undefined && cb !== undefined) {
      const taken = is32 ? cond32(op, Number(ca & 0xffff_ffffn), Number(cb & 0xffff_ffffn)) : cond64(op, ca, cb);
      s.pc = taken ? target : next;
      return undefined;
    }
    const plan = is32 ? plan32(op, a.lo, b.lo) : plan64(op, a, b);
    const d = this.decidePlan(s.facts, plan);
    if (d !== undefined) {
      s.pc = d ? target : next;
      return undefined;
    }
    return this.runPlan(s, plan, (st) => { st.pc = target; return this.explore(st); }, (st) => { st.pc = next; return this.explore(st); });
  }

  // --- ALU ----------------------------------------------------------------------------------

  private alu(s: State, pc: number, code: number): Value {
    const p = this.p;
    const op = code & 0xf0;
    const is64 = (code & 7) === BPF_ALU64;
    const a = s.regs[p.dst[pc]!]!;
    if (op === BPF_END) return evalEndian(a, p.imm[pc]!, is64 || (code & BPF_X) !== 0, pc);
    const b: Value = code & BPF_X ? s.regs[p.src[pc]!]! : constant(p.k64[pc]!);
    return evalAlu(is64, op, a, b, p.off[pc]!, pc);
  }

  private checked(v: Scalar, pc: number): Value {
    return fits(v) ? v : unknown(pc, `an expression too large for a classic-BPF filter (insn ${pc})`);
  }

  // --- memory -------------------------------------------------------------------------------

  private isFrozen(map: number): boolean {
    return this.input.maps[map]?.readOnly === true;
  }

  private frozenValue(map: number): Uint8Array | undefined {
    return this.input.readOnlyValue ? this.input.readOnlyValue(map) : this.input.maps[map]?.initialValue;
  }

  private mapName(map: number): string {
    return this.input.maps[map]?.name ?? `#${map}`;
  }

  private load(s: State, pc: number, code: number): Tree | undefined {
    const p = this.p;
    const size = SIZES[(code >> 3) & 3]!;
    const ptr = s.regs[p.src[pc]!]!;
    const off = p.off[pc]!;
    let v: Value;
    switch (ptr.t) {
      case 'ctx': {
        const o = ptr.off + off;
        if (o < 0 || o + size > CTX_SIZE) return this.fault(pc, `reads ${size} bytes at offset ${o} of the ${CTX_SIZE}-byte context`);
        v = ctxLoad((w) => this.word(w), o, size);
        break;
      }
      case 'stack': {
        const i = BPF_MAX_STACK + ptr.off + off;
        if (i < 0 || i + size > BPF_MAX_STACK) return this.fault(pc, `reads outside the stack (offset ${ptr.off + off})`);
        v = stackLoad(s.stacks[ptr.frame] ?? new Map(), i, size, pc);
        break;
      }
      case 'mapval': {
        if (!this.isFrozen(ptr.map)) return this.notify('map', pc, `reads map ${this.mapName(ptr.map)}`);
        const bytes = this.frozenValue(ptr.map);
        if (bytes === undefined) return this.notify('map', pc, `reads map ${this.mapName(ptr.map)} (value unknown)`);
        const o = ptr.off + off;
        if (o < 0 || o + size > bytes.length) return this.fault(pc, `reads outside the value of map ${this.mapName(ptr.map)}`);
        let c = 0n;
        for (let i = size - 1; i >= 0; i--) c = (c << 8n) | BigInt(bytes[o + i]!);
        v = constant(c);
        break;
      }
      case 'maph':
        return this.fault(pc, 'reads through a map handle');
      default:
        return asConst(ptr) !== undefined ? this.fault(pc, 'reads through a non-pointer') : this.unsupported(pc, ptr, `the address read at insn ${pc}`);
    }
    if ((code & 0xe0) === BPF_MEMSX && v.t === 's') v = this.checked(sext64(v, size * 8), pc);
    s.regs[p.dst[pc]!] = v;
    return undefined;
  }

  private store(s: State, pc: number, code: number): Tree | undefined {
    const p = this.p;
    const size = SIZES[(code >> 3) & 3]!;
    const ptr = s.regs[p.dst[pc]!]!;
    const off = p.off[pc]!;
    const v: Value = (code & 7) === BPF_ST ? constant(p.k64[pc]!) : s.regs[p.src[pc]!]!;
    switch (ptr.t) {
      case 'stack': {
        const i = BPF_MAX_STACK + ptr.off + off;
        if (i < 0 || i + size > BPF_MAX_STACK) return this.fault(pc, `writes outside the stack (offset ${ptr.off + off})`);
        const cells = (s.stacks[ptr.frame] ??= new Map());
        for (let b = 0; b < size; b++) cells.set(i + b, { v, b });
        return undefined;
      }
      case 'ctx':
        return this.fault(pc, 'writes the read-only context');
      case 'mapval':
        if (this.isFrozen(ptr.map) || ((this.input.maps[ptr.map]?.flags ?? 0) & BPF_F_RDONLY_PROG) !== 0) {
          return this.fault(pc, `writes the read-only map ${this.mapName(ptr.map)}`);
        }
        return this.notify('map', pc, `writes map ${this.mapName(ptr.map)}`);
      case 'maph':
        return this.fault(pc, 'writes through a map handle');
      default:
        return asConst(ptr) !== undefined ? this.fault(pc, 'writes through a non-pointer') : this.unsupported(pc, ptr, `the address written at insn ${pc}`);
    }
  }

  private atomic(s: State, pc: number, code: number): Tree | undefined {
    const p = this.p;
    const size = SIZES[(code >> 3) & 3]!;
    const ptr = s.regs[p.dst[pc]!]!;
    const op = p.kind[pc]!;
    if (ptr.t === 'mapval') {
      if (this.isFrozen(ptr.map) || ((this.input.maps[ptr.map]?.flags ?? 0) & BPF_F_RDONLY_PROG) !== 0) {
        return this.fault(pc, `atomic update of the read-only map ${this.mapName(ptr.map)}`);
      }
      return this.notify('map', pc, `updates map ${this.mapName(ptr.map)} atomically`);
    }
    if (ptr.t !== 'stack') {
      if (ptr.t === 'u' || (ptr.t === 's' && asConst(ptr) === undefined)) return this.unsupported(pc, ptr, `the address of the atomic at insn ${pc}`);
      return this.fault(pc, 'atomic operation outside the stack and maps');
    }
    const i = BPF_MAX_STACK + ptr.off + p.off[pc]!;
    if (i < 0 || i + size > BPF_MAX_STACK) return this.fault(pc, `atomic access outside the stack (offset ${i - BPF_MAX_STACK})`);
    if (i % size !== 0) return this.fault(pc, `misaligned atomic access to the stack (offset ${i - BPF_MAX_STACK})`);
    const cells = (s.stacks[ptr.frame] ??= new Map());
    const old = stackLoad(cells, i, size, pc);
    const srcReg = p.src[pc]!;
    const src = s.regs[srcReg]!;
    let next: Value;
    const narrow = (v: Value): Value => (v.t === 's' && size === 4 ? u32(v.lo) : v);
    if (old.t !== 's' || src.t !== 's') next = unknown(pc, `an atomic operation on a pointer (insn ${pc})`);
    else {
      const x = old, y = narrow(src) as Scalar;
      switch (op & ~BPF_FETCH) {
        case BPF_ADD: next = size === 4 ? u32(bin('add', x.lo, y.lo)) : add64(x, y); break;
        case BPF_OR: next = or64(x, y); break;
        case BPF_AND: next = and64(x, y); break;
        case BPF_XOR: next = xor64(x, y); break;
        case BPF_XCHG & ~BPF_FETCH: next = y; break;
        default: { // CMPXCHG: compare with r0 (its low half for 4 bytes)
          const expect = narrow(s.regs[0]!);
          const ce = asConst(expect), co = asConst(x);
          next = ce !== undefined && co !== undefined ? (ce === co ? y : x) : unknown(pc, `a compare-and-exchange (insn ${pc})`);
          s.regs[0] = old;
        }
      }
      if (next.t === 's') next = this.checked(next, pc);
    }
    for (let b = 0; b < size; b++) cells.set(i + b, { v: next, b });
    if ((op & BPF_FETCH) !== 0 && op !== BPF_CMPXCHG) s.regs[srcReg] = old;
    else if (op === BPF_CMPXCHG) s.regs[0] = old;
    return undefined;
  }

  private lddw(s: State, pc: number): Tree | undefined {
    const p = this.p;
    const kind = p.kind[pc]!;
    const d = p.dst[pc]!;
    if (kind === LD_CONST) {
      s.regs[d] = constant(p.k64[pc]!);
      return undefined;
    }
    const map = p.imm[pc]!;
    const spec = this.input.maps[map];
    if (spec === undefined) return this.fault(pc, `map index ${map} out of range`);
    if (kind === LD_MAP_HANDLE) {
      s.regs[d] = { t: 'maph', map };
      return undefined;
    }
    const off = Number(p.k64[pc]!);
    if (spec.type !== BPF_MAP_TYPE_ARRAY || spec.maxEntries !== 1 || off >= spec.valueSize) {
      return this.fault(pc, `bad map value address (map ${spec.name}, offset ${off})`);
    }
    s.regs[d] = { t: 'mapval', map, off };
    return undefined;
  }
}


function exploreRegion(p: DecodedProgram, input: SplitInput, f: TreeFactory, root: Root, budget: number, spent: { steps: number; total: number }): Tree {
  const ex = new Explorer(p, input, f, root, Math.min(budget, Math.max(0, spent.total - spent.steps)));
  let tree: Tree;
  try {
    tree = ex.run();
  } catch (e) {
    if (!(e instanceof OverBudget)) throw e;
    tree = f.notify([{ kind: 'budget', message: spent.steps + ex.steps > spent.total
      ? 'the analysis of the whole program went over budget'
      : `more than ${ex.steps > budget ? `${budget} instructions` : `${MAX_NODES} tests or ${MAX_FORKS} forks on one path`} to explore` }]);
  }
  spent.steps += ex.steps;
  return tree;
}

const region = (tree: Tree): Region => ({ tree, reasons: reasonsOf(tree) });

/** True when a tree reaches a construct that a run with nr known might follow. */
function needsConcreteNr(t: Tree): boolean {
  for (const l of leaves(t).values()) {
    if (l.kind === 'notify' && l.reasons.some((r) => r.kind === 'unsupported' || r.kind === 'budget')) return true;
  }
  return false;
}

const OPTION_KEYS = new Set(['maxNr', 'budget', 'totalBudget']);

/**
 * Analyses `input` for every region (see the module comment). Throws ERR_VM_BAD_INSN for an
 * invalid program and ERR_SPLIT_OPTIONS for bad options.
 *
 * The numbers of the table are explored together first, nr symbolic and known to be in
 * 0..maxNr, then each number's region is cut out of that tree (TreeFactory.specialize). A number
 * whose region reaches something the symbolic run could not follow (a value it cannot express,
 * the budget) is explored again on its own with nr known: a constant nr may make it expressible.
 */
export function analyze(input: SplitInput, opts: AnalyzeOptions = {}): Analysis {
  if (typeof opts !== 'object' || opts === null) throw new SeccompEbpfError('ERR_SPLIT_OPTIONS', 'split options must be an object');
  for (const k of Object.keys(opts)) if (!OPTION_KEYS.has(k)) throw new SeccompEbpfError('ERR_SPLIT_OPTIONS', `unknown split option "${k}"`);
  const maxNr = opts.maxNr ?? MAX_X86_64_NR;
  const budget = opts.budget ?? 200_000;
  const total = opts.totalBudget ?? 2_000_000;
  if (!Number.isInteger(maxNr) || maxNr < 0 || maxNr > 4095) throw new SeccompEbpfError('ERR_SPLIT_OPTIONS', `maxNr must be an integer in 0..4095, got ${maxNr}`);
  if (!Number.isSafeInteger(budget) || budget <= 0) throw new SeccompEbpfError('ERR_SPLIT_OPTIONS', `budget must be a positive integer, got ${budget}`);
  if (!Number.isSafeInteger(total) || total <= 0) throw new SeccompEbpfError('ERR_SPLIT_OPTIONS', `totalBudget must be a positive integer, got ${total}`);
  const p = decodeProgram(input.insns);
  const f = new TreeFactory();
  const spent = { steps: 0, total };
  // Read each frozen map once.
  const frozen = new Map<number, Uint8Array | undefined>();
  const read = input.readOnlyValue;
  if (read) {
    input = { ...input, readOnlyValue: (i) => {
      if (!frozen.has(i)) frozen.set(i, read(i));
      return frozen.get(i);
    } };
  }
  const arch = new Map([[4, AUDIT_ARCH_X86_64]]);
  const run = (fixed: ReadonlyMap<number, number>, facts: Facts): Tree => exploreRegion(p, input, f, { fixed, facts }, budget, spent);
  const inRange = (base: Expr, lo: number, hi: number): Facts => {
    const facts = Facts.empty();
    facts.restrict(base, [[lo, hi]]);
    return facts;
  };
  const table = run(arch, inRange(W(0), 0, maxNr));
  const syscalls: Region[] = [];
  for (let nr = 0; nr <= maxNr; nr++) {
    let t = f.specialize(table, 0, nr);
    if (needsConcreteNr(t)) t = run(new Map([[0, nr], [4, AUDIT_ARCH_X86_64]]), Facts.empty());
    syscalls.push(region(t));
  }
  const other = region(run(arch, inRange(W(0), maxNr + 1, 0xffff_ffff)));
  const foreignFacts = Facts.empty();
  foreignFacts.restrict(W(4), complement([[AUDIT_ARCH_X86_64, AUDIT_ARCH_X86_64]]));
  const foreign = region(run(new Map(), foreignFacts));
  return { factory: f, maxNr, syscalls, other, foreign };
}
