/**
 * @module ebpf/verifier/cfg
 * The checks the kernel makes before walking any path (resolve_pseudo_ldimm64, check_subprogs,
 * check_cfg), and the static facts the walk uses:
 *
 *  - every slot decodes (checkInsn), lddw map references name an existing map, LD_ABS/LD_IND and
 *    the lddw sources this runtime has no object for are refused;
 *  - subprograms start at instruction 0 and at every bpf-to-bpf call target (calls need
 *    CAP_BPF); jumps stay inside their subprogram, never land on the second slot of an lddw, and
 *    every subprogram ends with exit or an unconditional jump;
 *  - a depth-first walk from instruction 0 (into callees too) finds back-edges (loops: refused
 *    without CAP_BPF, "back-edge from insn X to Y", and, stricter than the kernel, without
 *    CAP_PERFMON) and unreachable instructions;
 *  - prune points (the kernel's: conditional jumps, jump targets, after calls) where states are
 *    remembered;
 *  - static register liveness, so that pruning ignores registers that are dead.
 */
import type { Insn } from '../insn.js';
import { checkInsn, type Instruction } from '../opcodes.js';
import { SeccompEbpfError } from '../../errors.js';
import { BPF_MAP_TYPE_ARRAY } from '../../abi/bpf.js';
import type { MapSpec } from '../maps/types.js';
import { reject } from './errors.js';
import type { HelperProto } from './types.js';

export const MAX_INSNS_UNPRIV = 4096;
export const MAX_INSNS = 1_000_000;

export interface Program {
  readonly insns: readonly Insn[];
  /** Decoded instruction per slot (undefined on the second slot of an lddw). */
  readonly code: (Instruction | undefined)[];
  /** First instruction of each subprogram, ascending (subprogram 0 starts at 0). */
  readonly subprogs: number[];
  /** Subprogram index of each slot. */
  readonly subprogOf: Int32Array;
  /** 1 where states are remembered for pruning. */
  readonly prune: Uint8Array;
  /** Registers (bit i = Ri) that may be read before being written, from each instruction on. */
  readonly live: Uint16Array;
  /** Callee subprograms called from each subprogram (static call graph). */
  readonly callees: number[][];
}

export interface CfgOptions {
  maps: readonly MapSpec[];
  bpfCapable: boolean;
  /** perfmon_capable(): the kernel skips its Spectre v1 checks for such loaders. */
  allowPtrLeaks: boolean;
  helpers: ReadonlyMap<number, HelperProto>;
}

/** Decodes and checks the program structure. Throws Reject (ERR_VERIFY_*). */
export function analyzeProgram(insns: readonly Insn[], opts: CfgOptions): Program {
  const n = insns.length;
  if (n === 0) reject('ERR_VERIFY_CFG', 'empty program', 0);
  const limit = opts.bpfCapable ? MAX_INSNS : MAX_INSNS_UNPRIV;
  if (n > limit) reject('ERR_VERIFY_TOO_LARGE', `program of ${n} instructions is too large, the limit is ${limit} for this loader`, 0);

  const code = new Array<Instruction | undefined>(n);
  const second = new Uint8Array(n);
  for (let i = 0; i < n;) {
    let d: { insn: Instruction; slots: 1 | 2 };
    try {
      d = checkInsn(insns, i);
    } catch (e) {
      if (e instanceof SeccompEbpfError) reject('ERR_VERIFY_INSN', e.message.replace(/ \(insn \d+\)$/, ''), i);
      throw e;
    }
    code[i] = d.insn;
    checkPseudo(d.insn, i, opts);
    if (d.slots === 2) second[i + 1] = 1;
    i += d.slots;
  }

  // Subprograms.
  const starts = new Set<number>([0]);
  for (let i = 0; i < n; i++) {
    const ins = code[i];
    if (ins?.kind !== 'call' || ins.target !== 'local') continue;
    const t = i + 1 + ins.imm;
    if (t < 0 || t >= n) reject('ERR_VERIFY_CFG', `function call to insn ${t} out of range (insn ${i})`, i);
    if (second[t]) reject('ERR_VERIFY_CFG', `function call into the middle of ldimm64 insn ${t - 1}`, i);
    starts.add(t);
  }
  const subprogs = [...starts].sort((a, b) => a - b);
  const subprogOf = new Int32Array(n);
  for (let s = 0; s < subprogs.length; s++) {
    const end = s + 1 < subprogs.length ? subprogs[s + 1]! : n;
    subprogOf.fill(s, subprogs[s]!, end);
  }
  const endOf = (s: number): number => (s + 1 < subprogs.length ? subprogs[s + 1]! : n);

  // Jumps and subprogram ends.
  for (let i = 0; i < n; i++) {
    const ins = code[i];
    if (!ins || (ins.kind !== 'ja' && ins.kind !== 'jcond')) continue;
    const t = i + 1 + ins.off;
    const s = subprogOf[i]!;
    if (t < subprogs[s]! || t >= endOf(s)) reject('ERR_VERIFY_CFG', `jump out of range from insn ${i} to ${t}`, i);
    if (second[t]) reject('ERR_VERIFY_CFG', `jump from insn ${i} into the middle of ldimm64 insn ${t - 1}`, i);
  }
  for (let s = 0; s < subprogs.length; s++) {
    const last = endOf(s) - 1;
    const ins = code[last] ?? code[last - 1];
    const ok = code[last] !== undefined && (ins?.kind === 'exit' || ins?.kind === 'ja');
    if (!ok) reject('ERR_VERIFY_CFG', `last insn is not an exit or jmp (insn ${last})`, last);
  }

  const succ = (i: number): number[] => successors(code[i]!, i, insns, second);
  const callees = subprogs.map(() => [] as number[]);
  for (let i = 0; i < n; i++) {
    const ins = code[i];
    if (ins?.kind === 'call' && ins.target === 'local') {
      const c = subprogOf[i + 1 + ins.imm]!;
      const list = callees[subprogOf[i]!]!;
      if (!list.includes(c)) list.push(c);
    }
  }

  // Depth-first walk: back-edges and reachability (kernel check_cfg).
  const state = new Uint8Array(n); // 0 new, 1 on the stack, 2 done
  const stack: number[] = [0];
  const nextEdge = new Int32Array(n);
  state[0] = 1;
  while (stack.length) {
    const t = stack[stack.length - 1]!;
    const edges = succ(t);
    const k = nextEdge[t]!;
    if (k >= edges.length) {
      state[t] = 2;
      stack.pop();
      continue;
    }
    nextEdge[t] = k + 1;
    const w = edges[k]!;
    if (state[w] === 0) {
      state[w] = 1;
      stack.push(w);
    } else if (state[w] === 1 && !opts.bpfCapable) {
      reject('ERR_VERIFY_CFG', `back-edge from insn ${t} to ${w}`, t);
    } else if (state[w] === 1 && !opts.allowPtrLeaks) {
      // The kernel accepts some loops from CAP_BPF-only loaders but explores mispredicted
      // branches for them (Spectre v1), which we do not model: refusing is the safe side.
      reject('ERR_VERIFY_CFG', `back-edge from insn ${t} to ${w}: loops need CAP_BPF and CAP_PERFMON (branch speculation is not modelled)`, t);
    }
  }
  for (let i = 0; i < n; i++) {
    if (!second[i] && state[i] === 0) reject('ERR_VERIFY_UNREACHABLE', `unreachable insn ${i}`, i);
  }

  // The kernel's prune points: conditional jumps, targets of unconditional jumps, the
  // instruction after a call and bpf-to-bpf call instructions.
  const prune = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const ins = code[i];
    if (!ins) continue;
    if (ins.kind === 'jcond') {
      prune[i] = 1;
    } else if (ins.kind === 'ja') {
      prune[i + 1 + ins.off] = 1;
    } else if (ins.kind === 'call') {
      if (i + 1 < n) prune[i + 1] = 1;
      if (ins.target === 'local') prune[i] = 1;
    }
  }
  return { insns, code, subprogs, subprogOf, prune, live: liveness(code, n, second, opts.helpers), callees };
}

/** Successors in the control-flow graph (a local call leads to the callee and to the next insn). */
function successors(ins: Instruction, i: number, insns: readonly Insn[], second: Uint8Array): number[] {
  switch (ins.kind) {
    case 'exit': return [];
    case 'ja': return [i + 1 + ins.off];
    case 'jcond': return [i + 1, i + 1 + ins.off];
    case 'call': return ins.target === 'local' ? [i + 1, i + 1 + ins.imm] : [i + 1];
    default: return [second[i + 1] ? i + 2 : i + 1].filter((t) => t < insns.length);
  }
}

/** lddw sources and instructions the seccomp program type cannot use. */
function checkPseudo(ins: Instruction, i: number, opts: CfgOptions): void {
  // The kernel checks writes to r10 only on paths it walks; the VM refuses any (also in dead code).
  if (writesFp(ins)) reject('ERR_VERIFY_INSN', 'frame pointer is read only', i);
  if (ins.kind === 'ldpkt') reject('ERR_VERIFY_INSN', 'BPF_LD_[ABS|IND] instructions not allowed for this program type', i);
  if (ins.kind === 'call') {
    if (ins.target === 'kfunc') reject('ERR_VERIFY_HELPER_UNKNOWN', `calling kernel function btf_id ${ins.imm} is not allowed`, i);
    if (ins.target === 'local' && !opts.bpfCapable) {
      reject('ERR_VERIFY_CFG', 'loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN', i);
    }
  }
  if (ins.kind !== 'lddw') return;
  switch (ins.source) {
    case 'imm': return;
    case 'btf_id': reject('ERR_VERIFY_INSN', 'kernel variables (ldimm64 BPF_PSEUDO_BTF_ID) are not supported for this program type', i);
    // falls through (reject throws)
    case 'func': reject('ERR_VERIFY_INSN', 'callbacks (ldimm64 BPF_PSEUDO_FUNC) are not supported for this program type', i);
    // falls through
    default: break;
  }
  const map = opts.maps[ins.imm];
  if (!map) reject('ERR_VERIFY_INSN', `fd ${ins.imm} is not pointing to valid bpf_map`, i);
  if (ins.source === 'map_value' || ins.source === 'map_idx_value') {
    const off = ins.next >>> 0;
    if (map.type !== BPF_MAP_TYPE_ARRAY || map.maxEntries !== 1) {
      reject('ERR_VERIFY_INSN', `no direct value access support for this map type (map ${map.name})`, i);
    }
    if (off >= map.valueSize) reject('ERR_VERIFY_INSN', `invalid access to map value pointer, value_size=${map.valueSize} off=${off}`, i);
  }
}

function writesFp(ins: Instruction): boolean {
  switch (ins.kind) {
    case 'alu': case 'neg': case 'endian': case 'movsx': case 'load': case 'lddw': return ins.dst === 10;
    case 'atomic': return ins.fetch && ins.op !== 'cmpxchg' && ins.src === 10;
    default: return false;
  }
}

const R = (...regs: number[]): number => regs.reduce((m, r) => m | (1 << r), 0);
const ARGS = R(1, 2, 3, 4, 5);
const CALLER_SAVED = R(0, 1, 2, 3, 4, 5);

/** Registers read and written by one instruction. */
function useDef(ins: Instruction, helpers: ReadonlyMap<number, HelperProto>): { use: number; def: number } {
  switch (ins.kind) {
    case 'alu':
      if (ins.op === 'mov') return { use: ins.src.type === 'reg' ? R(ins.src.reg) : 0, def: R(ins.dst) };
      return { use: R(ins.dst) | (ins.src.type === 'reg' ? R(ins.src.reg) : 0), def: R(ins.dst) };
    case 'neg': case 'endian': return { use: R(ins.dst), def: R(ins.dst) };
    case 'movsx': return { use: R(ins.src), def: R(ins.dst) };
    case 'load': return { use: R(ins.src), def: R(ins.dst) };
    case 'store': return { use: R(ins.dst) | (ins.src.type === 'reg' ? R(ins.src.reg) : 0), def: 0 };
    case 'atomic': {
      const use = R(ins.dst, ins.src) | (ins.op === 'cmpxchg' ? R(0) : 0);
      return { use, def: ins.op === 'cmpxchg' ? R(0) : ins.fetch ? R(ins.src) : 0 };
    }
    case 'lddw': return { use: 0, def: R(ins.dst) };
    case 'ldpkt': return { use: ARGS | R(6, ins.src), def: CALLER_SAVED };
    case 'jcond': return { use: R(ins.dst) | (ins.src.type === 'reg' ? R(ins.src.reg) : 0), def: 0 };
    case 'ja': return { use: 0, def: 0 };
    case 'call': {
      if (ins.target !== 'helper') return { use: ARGS, def: CALLER_SAVED };
      const p = helpers.get(ins.imm);
      const nargs = p ? Math.min(5, Math.max(p.args.length, p.name === 'bpf_trace_printk' ? 5 : 0)) : 5;
      let use = 0;
      for (let a = 1; a <= nargs; a++) use |= R(a);
      return { use, def: CALLER_SAVED };
    }
    case 'exit': return { use: R(0), def: 0 };
  }
}

/** Backward may-read analysis per instruction (a worklist until nothing changes). */
function liveness(code: (Instruction | undefined)[], n: number, second: Uint8Array,
  helpers: ReadonlyMap<number, HelperProto>): Uint16Array {
  const live = new Uint16Array(n);
  const use = new Uint16Array(n);
  const def = new Uint16Array(n);
  const preds: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < n; i++) {
    const ins = code[i];
    if (!ins) continue;
    const ud = useDef(ins, helpers);
    use[i] = ud.use;
    def[i] = ud.def;
    let out: number[];
    switch (ins.kind) {
      case 'exit': out = []; break;
      case 'ja': out = [i + 1 + ins.off]; break;
      case 'jcond': out = [i + 1, i + 1 + ins.off]; break;
      default: out = [second[i + 1] ? i + 2 : i + 1];
    }
    for (const t of out) if (t < n) preds[t]!.push(i);
  }
  const work: number[] = [];
  const queued = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) if (code[i]) { work.push(i); queued[i] = 1; }
  const succLive = (i: number): number => {
    const ins = code[i]!;
    const get = (t: number): number => (t < n ? live[t]! : 0);
    switch (ins.kind) {
      case 'exit': return 0;
      case 'ja': return get(i + 1 + ins.off);
      case 'jcond': return get(i + 1) | get(i + 1 + ins.off);
      default: return get(second[i + 1] ? i + 2 : i + 1);
    }
  };
  while (work.length) {
    const i = work.pop()!;
    queued[i] = 0;
    const v = use[i]! | (succLive(i) & ~def[i]!);
    if (v === live[i]) continue;
    live[i] = v;
    for (const p of preds[i]!) if (!queued[p]) { queued[p] = 1; work.push(p); }
  }
  return live;
}
