/**
 * @module ebpf/verifier/verifier
 * The verifier: proves a seccomp eBPF program safe before it runs, in the manner of the kernel's
 * (kernel/bpf/verifier.c, own code). After the static checks of ./cfg.ts it walks every path
 * from the first instruction with abstract register and stack states (./state.ts): ALU
 * (./alu.ts), memory (./memory.ts), jumps (./jumps.ts), calls and exit (./calls.ts). A branch
 * whose both successors are possible is explored depth first (fall-through first, the other
 * successor later from a stack of pending states); states remembered at prune points cut paths
 * already covered (./prune.ts). The walk is bounded by the kernel's budget of 1,000,000
 * processed instructions and 8192 pending branches.
 *
 * `verify` throws a VerifierError (./errors.ts) for the first unsafe instruction found, with
 * the register state there and the verifier log (./log.ts).
 */
import type { Insn } from '../insn.js';
import { SeccompEbpfError } from '../../errors.js';
import { checkAlu } from './alu.js';
import { enterSubprog, checkExit, checkHelperCall } from './calls.js';
import { analyzeProgram, type Program } from './cfg.js';
import { scalarConst } from './domain.js';
import { checkDst, leaksPointer, readReg, setReg, type Env } from './env.js';
import { Reject, VerifierError, type VerifyCode } from './errors.js';
import { condJump } from './jumps.js';
import {
  LogBuffer, formatPath, formatStep, insnLine, traceResume, traceStep, type TraceNode,
} from './log.js';
import { memAccess, type StoreValue } from './memory.js';
import { pathDone, statesCover, type Checkpoint } from './prune.js';
import { UNKNOWN, ctxReg, mapPtrReg, mapValueReg, regTypeName, scalarReg } from './regs.js';
import { lddwValue, type Instruction } from '../opcodes.js';
import { curFrame, formatState, newFrame, type State } from './state.js';
import type { VerifierOptions, VerifierStats } from './types.js';

/** The kernel's BPF_COMPLEXITY_LIMIT_INSNS and BPF_COMPLEXITY_LIMIT_JMP_SEQ. */
export const COMPLEXITY_LIMIT_INSNS = 1_000_000;
export const COMPLEXITY_LIMIT_JMP_SEQ = 8192;
/** MAX_BPF_STACK: the combined stack of a call chain. */
const MAX_COMBINED_STACK = 512;

export interface VerifyResult {
  stats: VerifierStats;
  log: string;
}

/**
 * Verifies `insns` (linked: maps referenced by index into `opts.maps`, subprograms appended).
 * Returns statistics and the log (level 1: the statistics line; level 2: every instruction).
 * Throws VerifierError (code ERR_VERIFY_*) when the program is unsafe for this loader, and
 * SeccompEbpfError ERR_VERIFY_OPTIONS for malformed options.
 */
export function verify(insns: readonly Insn[], opts: VerifierOptions): VerifyResult {
  checkOptions(insns, opts);
  let prog: Program;
  try {
    prog = analyzeProgram(insns, opts);
  } catch (e) {
    if (!(e instanceof Reject)) throw e;
    const insn = e.insn ?? 0;
    const line = insn < insns.length ? `${insnLine(insns, insn)}\n` : '';
    throw new VerifierError(e.code, { insn, rule: e.rule, state: '', log: `${line}${e.rule}\n`, ...fileOf(opts) });
  }
  return new Walker(prog, opts).run();
}

const fileOf = (opts: VerifierOptions): { file?: string } => (opts.file !== undefined ? { file: opts.file } : {});

function checkOptions(insns: readonly Insn[], opts: VerifierOptions): void {
  const bad = (m: string): never => { throw new SeccompEbpfError('ERR_VERIFY_OPTIONS', `verify: ${m}`); };
  if (!Array.isArray(insns)) bad('instructions must be an array');
  if (typeof opts !== 'object' || opts === null) bad('options must be an object');
  if (!Array.isArray(opts.maps)) bad('maps must be an array of MapSpecs');
  if (!(opts.helpers instanceof Map)) bad('helpers must be a Map of helper id to prototype');
  if (typeof opts.license !== 'string') bad('license must be a string');
  for (const m of opts.maps) {
    if (typeof m !== 'object' || m === null || !Number.isInteger(m.valueSize) || !Number.isInteger(m.keySize) || !Number.isInteger(m.type)) {
      bad('every map needs integer type, keySize and valueSize');
    }
  }
}

interface Pending {
  st: State;
  pc: number;
  from: number;
  parent: Checkpoint | null;
  trace: TraceNode | null;
}

class Walker implements Env {
  readonly maps;
  readonly allowUninitStack: boolean;
  readonly stackDepth: number[];
  st: State;
  pc = 0;
  private ids = 0;
  private readonly logLevel: number;
  private readonly log = new LogBuffer();
  private readonly explored: (Checkpoint[] | undefined)[];
  private readonly pending: Pending[] = [];
  private parent: Checkpoint | null = null;
  private trace: TraceNode | null = null;
  private lastLogged: TraceNode | null = null;
  private processed = 0;
  private jumps = 0;
  private totalStates = 0;
  private liveStates = 0;
  private peakStates = 0;
  private maxPerInsn = 0;
  private lastCpProcessed = 0;
  private lastCpJumps = 0;

  constructor(readonly prog: Program, readonly opts: VerifierOptions) {
    this.maps = opts.maps;
    this.allowUninitStack = opts.allowPtrLeaks;
    this.stackDepth = prog.subprogs.map(() => 0);
    this.logLevel = opts.logLevel ?? 0;
    this.explored = new Array(prog.insns.length);
    const main = newFrame(0, -1, 0);
    main.regs[1] = ctxReg();
    this.st = { frames: [main], refs: [] };
  }

  newId(): number {
    return ++this.ids;
  }

  fork(st: State, pc: number): void {
    this.push(st, pc, pc);
  }

  run(): VerifyResult {
    if (this.logLevel >= 1) {
      this.trace = traceResume(null, -1, 0, this.st);
      if (this.logLevel >= 2) {
        this.log.push(formatStep(this.trace, null, this.prog.insns, this.maps));
        this.lastLogged = this.trace;
      }
    }
    try {
      while (this.step());
      this.checkStackDepth();
    } catch (e) {
      if (e instanceof Reject) throw this.toError(e);
      throw e;
    }
    const stats: VerifierStats = {
      insnsProcessed: this.processed,
      states: this.totalStates,
      peakStates: this.peakStates,
      maxStackDepth: this.maxStack,
    };
    if (this.logLevel >= 1) this.log.push(this.statsLine());
    return { stats, log: this.log.text() };
  }

  private statsLine(): string {
    return `processed ${this.processed} insns (limit ${COMPLEXITY_LIMIT_INSNS}) max_states_per_insn ${this.maxPerInsn} `
      + `total_states ${this.totalStates} peak_states ${this.peakStates} mark_read 0`;
  }

  private toError(e: Reject): VerifierError {
    const insn = e.insn ?? this.pc;
    const state = formatState(this.st, this.maps);
    if (this.logLevel === 1) for (const l of formatPath(this.trace, this.prog.insns, this.maps)) this.log.push(l);
    if (this.logLevel >= 1) {
      this.log.push(insnLine(this.prog.insns, insn));
      this.log.push(e.rule);
      this.log.push(this.statsLine());
    } else {
      this.log.push(insnLine(this.prog.insns, insn));
      this.log.push(e.rule);
    }
    return new VerifierError(e.code as VerifyCode, { insn, rule: e.rule, state, log: this.log.text(), ...fileOf(this.opts) });
  }

  /** Processes one instruction; false when every path has been explored. */
  private step(): boolean {
    if (this.pc < 0) return this.nextPath();
    const pc = this.pc;
    if (++this.processed > COMPLEXITY_LIMIT_INSNS) {
      throw new Reject('ERR_VERIFY_TOO_COMPLEX', `BPF program is too large. Processed ${this.processed} insn`);
    }
    if (this.prog.prune[pc] && this.isStateVisited(pc)) {
      if (this.logLevel >= 2) this.log.push(`${pc}: safe`);
      this.pc = -1;
      return true;
    }
    const ins = this.prog.code[pc]!;
    const pendingBefore = this.pending.length;
    this.pc = this.exec(ins, pc);
    if (this.logLevel >= 1) {
      const f = curFrame(this.st);
      this.trace = traceStep(this.trace, pc, f);
      // Branches pushed by this instruction resume after it.
      for (let k = pendingBefore; k < this.pending.length; k++) this.pending[k]!.trace = this.trace;
      if (this.logLevel >= 2) {
        this.log.push(formatStep(this.trace, this.lastLogged, this.prog.insns, this.maps));
        this.lastLogged = this.trace;
      }
    }
    return true;
  }

  /** The current path ended: continue with the most recent pending branch. */
  private nextPath(): boolean {
    pathDone(this.parent);
    const next = this.pending.pop();
    if (!next) return false;
    this.st = next.st;
    this.pc = next.pc;
    this.parent = next.parent;
    this.trace = next.trace;
    if (this.logLevel >= 1) {
      this.trace = traceResume(this.trace, next.from, next.pc, this.st);
      if (this.logLevel >= 2) {
        this.log.push(formatStep(this.trace, null, this.prog.insns, this.maps));
        this.lastLogged = this.trace;
      }
    }
    return true;
  }

  private push(st: State, pc: number, from: number): void {
    if (this.pending.length >= COMPLEXITY_LIMIT_JMP_SEQ) {
      throw new Reject('ERR_VERIFY_TOO_COMPLEX', `The sequence of ${COMPLEXITY_LIMIT_JMP_SEQ + 1} jumps is too complex.`);
    }
    if (this.parent) this.parent.branches++;
    this.pending.push({ st, pc, from, parent: this.parent, trace: this.trace });
  }

  /** Executes the instruction at `pc`; returns the next instruction (-1: the path ends). */
  private exec(ins: Instruction, pc: number): number {
    switch (ins.kind) {
      case 'alu': case 'neg': case 'endian': case 'movsx':
        checkAlu(this, ins);
        return pc + 1;
      case 'lddw':
        checkDst(ins.dst);
        switch (ins.source) {
          case 'imm': setReg(this, ins.dst, scalarReg(scalarConst(lddwValue(ins)))); break;
          case 'map_fd': case 'map_idx': setReg(this, ins.dst, mapPtrReg(ins.imm)); break;
          default: setReg(this, ins.dst, mapValueReg(ins.imm, ins.next >>> 0)); break;
        }
        return pc + 2;
      case 'load': {
        readReg(this, ins.src);
        checkDst(ins.dst);
        const v = memAccess(this, ins.src, ins.off, ins.size, undefined, { signed: ins.signed });
        setReg(this, ins.dst, v);
        return pc + 1;
      }
      case 'store': {
        let value: StoreValue;
        if (ins.src.type === 'reg') {
          const src = readReg(this, ins.src.reg);
          readReg(this, ins.dst);
          value = { kind: 'reg', regno: ins.src.reg, reg: src };
        } else {
          const dst = readReg(this, ins.dst);
          if (dst.kind === 'ctx') throw new Reject('ERR_VERIFY_CTX_ACCESS', `BPF_ST stores into R${ins.dst} ctx is not allowed`);
          value = { kind: 'imm', value: BigInt(ins.src.value) };
        }
        memAccess(this, ins.dst, ins.off, ins.size, value);
        return pc + 1;
      }
      case 'atomic':
        this.atomic(ins);
        return pc + 1;
      case 'ja':
        this.jumps++;
        return pc + 1 + ins.off;
      case 'jcond': {
        this.jumps++;
        const target = pc + 1 + ins.off;
        const r = condJump(this, ins);
        switch (r.kind) {
          case 'fall': return pc + 1;
          case 'taken': return target;
          case 'none': return -1;
          case 'both':
            this.push(r.taken, target, pc);
            return pc + 1;
        }
        break;
      }
      case 'call':
        if (ins.target === 'local') {
          enterSubprog(this, pc + 1 + ins.imm);
          return pc + 1 + ins.imm;
        }
        checkHelperCall(this, ins.imm);
        return pc + 1;
      case 'exit':
        return checkExit(this);
      case 'ldpkt':
        break;
    }
    throw new Reject('ERR_VERIFY_INSN', `unsupported instruction ${ins.kind}`);
  }

  /** The kernel's check_atomic (read-modify-write, optionally fetching the old value). */
  private atomic(ins: Extract<Instruction, { kind: 'atomic' }>): void {
    const src = readReg(this, ins.src);
    const dst = readReg(this, ins.dst);
    if (ins.op === 'cmpxchg') {
      const r0 = readReg(this, 0);
      if (leaksPointer(this, r0)) throw new Reject('ERR_VERIFY_PTR_LEAK', 'R0 leaks addr into mem');
    }
    if (leaksPointer(this, src)) throw new Reject('ERR_VERIFY_PTR_LEAK', `R${ins.src} leaks addr into mem`);
    if (dst.kind === 'ctx') throw new Reject('ERR_VERIFY_CTX_ACCESS', `BPF_ATOMIC stores into R${ins.dst} ${regTypeName(dst)} is not allowed`);
    const loadReg = ins.op === 'cmpxchg' ? 0 : ins.fetch ? ins.src : -1;
    if (loadReg >= 0) {
      checkDst(loadReg);
      setReg(this, loadReg, UNKNOWN);
    }
    memAccess(this, ins.dst, ins.off, ins.size, undefined, { atomic: true, noDst: true });
    if (loadReg >= 0) setReg(this, loadReg, memAccess(this, ins.dst, ins.off, ins.size, undefined, { atomic: true }));
    memAccess(this, ins.dst, ins.off, ins.size, { kind: 'unknown' }, { atomic: true });
  }

  /** is_state_visited(): true when an explored state covers the current one. */
  private isStateVisited(pc: number): boolean {
    let list = this.explored[pc];
    if (!list) list = this.explored[pc] = [];
    // The kernel remembers a new state only after 2 jumps and 8 instructions since the last one.
    let addNew = this.jumps - this.lastCpJumps >= 2 && this.processed - this.lastCpProcessed >= 8;
    const cover = {
      exact: false,
      allowUninit: this.allowUninitStack,
      liveTop: this.prog.live[pc]!,
      liveAfterCall: (callsite: number): number => this.prog.live[callsite + 1] ?? 0,
    };
    for (let k = 0; k < list.length; k++) {
      const cp = list[k]!;
      if (cp.branches > 0) {
        if (statesCover(cp.state, this.st, { ...cover, exact: true })) {
          throw new Reject('ERR_VERIFY_INFINITE_LOOP', `infinite loop detected at insn ${pc}`);
        }
        // Inside a loop: consecutive iterations differ anyway, remember a state only now and then.
        if (this.jumps - this.lastCpJumps < 20 && this.processed - this.lastCpProcessed < 100) addNew = false;
      } else if (statesCover(cp.state, this.st, cover)) {
        cp.hit++;
        return true;
      }
      // Drop states that keep failing to cover anything (the kernel's miss_cnt heuristic).
      if (addNew && ++cp.miss > cp.hit * 3 + 3) {
        list.splice(k--, 1);
        this.liveStates--;
      }
    }
    if (!addNew) return false;
    const cp: Checkpoint = {
      insn: pc, state: { frames: this.st.frames.map((f) => ({ ...f, regs: f.regs.slice(), stack: f.stack.slice() })), refs: this.st.refs.slice() },
      branches: 1, parent: this.parent, hit: 0, miss: 0,
    };
    list.push(cp);
    this.parent = cp;
    this.totalStates++;
    this.liveStates++;
    if (this.liveStates > this.peakStates) this.peakStates = this.liveStates;
    if (list.length > this.maxPerInsn) this.maxPerInsn = list.length;
    this.lastCpProcessed = this.processed;
    this.lastCpJumps = this.jumps;
    return false;
  }

  private maxStack = 0;

  /**
   * check_max_stack_depth: along every static call chain, the stack of all frames (each rounded
   * up to 16 bytes, as with the JIT) must fit in 512 bytes, and chains have at most 8 frames.
   */
  private checkStackDepth(): void {
    const { callees } = this.prog;
    const round = (d: number): number => Math.ceil(d / 16) * 16;
    // Longest chain by stack and by frames (a cycle is an unbounded chain).
    const memo = new Map<number, { depth: number; calls: number; frames: number }>();
    const onPath = new Set<number>();
    const walk = (s: number): { depth: number; calls: number; frames: number } => {
      const m = memo.get(s);
      if (m) return m;
      if (onPath.has(s)) return { depth: 0, calls: 0, frames: Infinity };
      onPath.add(s);
      let depth = 0, calls = 0, frames = 0;
      for (const c of callees[s]!) {
        const r = walk(c);
        if (r.depth > depth) { depth = r.depth; calls = r.calls; }
        frames = Math.max(frames, r.frames);
      }
      onPath.delete(s);
      const out = { depth: round(this.stackDepth[s]!) + depth, calls: calls + 1, frames: frames + 1 };
      memo.set(s, out);
      return out;
    };
    const r = walk(0);
    if (r.frames > 8) {
      throw new Reject('ERR_VERIFY_STACK', `the call stack of ${Number.isFinite(r.frames) ? r.frames : 9} frames is too deep !`, 0);
    }
    if (r.depth > MAX_COMBINED_STACK) {
      throw new Reject('ERR_VERIFY_STACK', `combined stack size of ${r.calls} calls is ${r.depth}. Too large`, 0);
    }
    this.maxStack = r.depth;
  }
}
