/**
 * @module test/helpers/kernel-verdict
 * The real kernel's verdict on a seccomp program, for the comparison of our verifier with the
 * kernel's (test/verifier-kernel.test.ts). The kernel has no seccomp program type, so the
 * program is loaded as a root BPF_PROG_TYPE_SOCKET_FILTER after a rewrite that makes the kernel
 * check what the seccomp program type would check:
 *
 *   - r1 stays the kernel's context pointer (a __sk_buff), so every generic rule about context
 *     pointers — no arithmetic before a dereference ("modified ctx ptr"), spills and fills,
 *     passing it around, pointer leaks — is checked by the kernel itself;
 *   - every load through a register that holds the context on every path to it is replaced by
 *
 *         rD = *(u32 *)(rS + 0)             the kernel checks rS is an unmodified ctx pointer
 *         rD = map_value(ctxmap) + 0        lddw src=2: a 64-byte array map value
 *         rD = *(uN *)(rD + off)            an unknown scalar of the field's width
 *
 *     when (off, size) is a whole-field read of struct seccomp_data (spec.md 2.2), and by a load
 *     the kernel always refuses (`rD = *(u64 *)(r10 + 0)`, out of the stack) when it is not;
 *     stores and atomics into the context (read-only for seccomp) get the same refused load.
 *     The kernel refuses the replacement exactly when it reaches it, as the seccomp kernel would
 *     refuse the original access when it reaches it;
 *   - map references (lddw src=1 / src=2) point at real kernel maps of the same specs;
 *   - jump and call offsets are adjusted for the longer replacements.
 *
 * Which registers hold the context is found by a small, independent data-flow analysis (not
 * our verifier): per register and 8-byte stack slot of the current frame, one of
 * uninitialised / context / not the context (stack pointers tracked with their offset) /
 * mixed, across bpf-to-bpf calls with per-subprogram summaries. A program is not comparable
 * (`skip`, with the reason) when a memory access goes through a register that is the context
 * on some paths and not on others, when the context may be stored where the analysis does not
 * follow it, when it uses a helper that one side has and the other has not, a map the kernel
 * cannot create here (task storage needs BTF), kfunc calls or lddw forms other than imm, map
 * fd and map value.
 */
import type { Insn } from '../../src/ebpf/insn.js';
import type { MapSpec } from '../../src/ebpf/maps/types.js';
import {
  BPF_F_RDONLY_PROG, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_TASK_STORAGE, BPF_PROG_TYPE_SOCKET_FILTER,
} from '../../src/abi/bpf.js';
import { createMap, loadProgram, ProgLoadError, type KernelMap } from '../../src/sys/bpf.js';

/** A seccomp program as the ELF loader gives it. */
export interface SeccompProgram {
  insns: readonly Insn[];
  maps: readonly MapSpec[];
  license: string;
}

export type KernelVerdict =
  | { kind: 'accept' }
  | { kind: 'reject'; errno: number; log: string }
  | { kind: 'skip'; reason: string };

// ---------------------------------------------------------------------------------------------
// Opcode fields (raw, so that invalid encodings pass through unchanged)
// ---------------------------------------------------------------------------------------------

const CLS = (c: number): number => c & 7;
const LD = 0, LDX = 1, ST = 2, STX = 3, ALU = 4, JMP = 5, JMP32 = 6, ALU64 = 7;
const MODE = (c: number): number => c & 0xe0;
const MEM = 0x60, MEMSX = 0x80, ATOMIC = 0xc0;
const SIZE_BYTES: Record<number, number> = { 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 };
const OP = (c: number): number => c & 0xf0;
const LDDW = 0x18;
const JA = 0x00, CALL = 0x80, EXIT = 0x90;
const ADD = 0x00, SUB = 0x10, MOV = 0xb0;
const X = 0x08;
const FETCH = 0x01, XCHG = 0xe0 | FETCH, CMPXCHG = 0xf0 | FETCH;

const isLddw = (i: Insn): boolean => i.code === LDDW;

/** True when (off, size) is a whole-field read of struct seccomp_data (spec.md 2.2). */
export function validSeccompField(off: number, size: number): boolean {
  if (size === 4) return off === 0 || off === 4;
  if (size === 8) return off === 8 || (off >= 16 && off <= 56 && off % 8 === 0);
  return false;
}

// ---------------------------------------------------------------------------------------------
// Context data-flow analysis
// ---------------------------------------------------------------------------------------------

/** Abstract values: uninitialised, context, other (not the context), mixed, stack pointer of
 *  the current frame with unknown offset, or (>= FP_BASE - 2^20) with a known offset. */
const U = 0, C = 1, O = 2, M = 3, FPX = 4;
const FP_BASE = 1 << 28; // far above every other value; offsets stay within ±2^24
const fp = (off: number): number => FP_BASE + off;
const isFp = (v: number): boolean => v === FPX || v >= FP_BASE - (1 << 24);
const fpOff = (v: number): number | undefined => (v >= FP_BASE - (1 << 24) ? v - FP_BASE : undefined);

function join(a: number, b: number): number {
  if (a === b) return a;
  if (a === U) return b;
  if (b === U) return a;
  if (a === M || b === M || a === C || b === C) return M;
  if (isFp(a) && isFp(b)) return FPX;
  return O;
}

interface State {
  regs: number[];
  /** 8-byte slots of the current frame by (negative) offset. */
  slots: Map<number, number>;
}

const cloneState = (s: State): State => ({ regs: s.regs.slice(), slots: new Map(s.slots) });

/** Joins `b` into `a`; true if `a` changed. */
function joinInto(a: State, b: State): boolean {
  let changed = false;
  for (let r = 0; r < 11; r++) {
    const j = join(a.regs[r]!, b.regs[r]!);
    if (j !== a.regs[r]) { a.regs[r] = j; changed = true; }
  }
  for (const [k, v] of b.slots) {
    const old = a.slots.get(k) ?? U;
    const j = join(old, v);
    if (j !== old) { a.slots.set(k, j); changed = true; }
  }
  return changed;
}

export type CtxAnalysis =
  | { ok: true; ctxLoads: Set<number>; ctxStores: Set<number> }
  | { ok: false; reason: string };

/** Finds the loads and stores that go through the context pointer on every path (see the
 *  module comment). Robust to invalid programs: whatever the kernel refuses anyway is analysed
 *  as best it can be, never thrown on. */
export function analyzeCtx(insns: readonly Insn[]): CtxAnalysis {
  const n = insns.length;
  // Subprogram starts: 0 and every bpf-to-bpf call target.
  const starts = new Set<number>([0]);
  for (let i = 0; i < n; i++) {
    const x = insns[i]!;
    if (x.code === (JMP | CALL) && x.src === 1) {
      const t = i + 1 + x.imm;
      if (t >= 0 && t < n) starts.add(t);
    }
    if (isLddw(x)) i++;
  }
  const sorted = [...starts].sort((a, b) => a - b);
  const funcOf = (i: number): number => {
    let f = 0;
    for (const s of sorted) if (s <= i) f = s;
    return f;
  };

  const inState: (State | undefined)[] = new Array(n);
  const summary = new Map<number, number>(); // subprogram start -> r0 at exit
  const callSites = new Map<number, number[]>(); // subprogram start -> call insn indices
  const work: number[] = [];
  const queued = new Uint8Array(n);
  let escape: string | undefined;
  let ctxSpilled = false;
  let fpEscapes = false;

  const push = (i: number, s: State): void => {
    if (i < 0 || i >= n) return;
    const cur = inState[i];
    if (!cur) inState[i] = cloneState(s);
    else if (!joinInto(cur, s)) return;
    if (!queued[i]) { queued[i] = 1; work.push(i); }
  };
  const entry = (r1: number[]): State => {
    const regs = new Array<number>(11).fill(U);
    for (let r = 1; r <= 5; r++) regs[r] = r1[r]!;
    regs[10] = fp(0);
    return { regs, slots: new Map() };
  };
  const initial = new Array<number>(11).fill(U);
  initial[1] = C;
  push(0, entry(initial));

  const afterCall = (i: number, pre: State, r0: number): State => {
    const s = cloneState(pre);
    s.regs[0] = r0;
    for (let r = 1; r <= 5; r++) s.regs[r] = U;
    return s;
  };

  /** Marks the slots overlapping [off, off+size) as `v` (8-byte aligned whole slot) or O. */
  const storeStack = (s: State, off: number, size: number, v: number): void => {
    if (size === 8 && off % 8 === 0) { s.slots.set(off, v); return; }
    for (let k = Math.floor(off / 8) * 8; k < off + size; k += 8) if (s.slots.has(k)) s.slots.set(k, O);
  };

  while (work.length > 0) {
    const i = work.pop()!;
    queued[i] = 0;
    const x = insns[i]!;
    const s = cloneState(inState[i]!);
    const R = s.regs;
    const cls = CLS(x.code);
    const dst = x.dst & 15, src = x.src & 15;
    const reg = (r: number): number => (r <= 10 ? R[r]! : O);
    const set = (r: number, v: number): void => { if (r <= 10) R[r] = v; };
    let next: number[] = [i + 1];

    if (isLddw(x)) {
      set(dst, O);
      next = [i + 2];
    } else if (cls === LDX) {
      const base = reg(src);
      if (MODE(x.code) === MEMSX && (base === C || base === M)) return { ok: false, reason: 'sign-extending load from the context' };
      const size = SIZE_BYTES[x.code & 0x18]!;
      const o = fpOff(base);
      let v = O;
      if (o !== undefined && size === 8 && (o + x.off) % 8 === 0) v = s.slots.get(o + x.off) ?? O;
      if (o === undefined && isFp(base) && ctxSpilled) return { ok: false, reason: 'load at a variable stack offset in a program that spills the context' };
      set(dst, v === U ? O : v);
    } else if (cls === ST || cls === STX) {
      const base = reg(dst);
      const v = cls === STX ? reg(src) : O;
      const size = SIZE_BYTES[x.code & 0x18]!;
      const o = fpOff(base);
      const atomic = MODE(x.code) === ATOMIC;
      if (o !== undefined) {
        storeStack(s, o + x.off, size, atomic ? O : v);
        if (v === C || v === M) ctxSpilled = true;
      } else if (v === C || v === M) {
        escape = 'the context is stored through a pointer the analysis does not follow';
      } else if (isFp(v)) {
        fpEscapes = true;
      }
      if (atomic && cls === STX) {
        if (x.imm === CMPXCHG) set(0, O);
        else if (x.imm & FETCH || x.imm === XCHG) set(src, O);
      }
    } else if (cls === ALU64 || cls === ALU) {
      const op = OP(x.code);
      const k = (x.code & X) === 0;
      let v = O;
      if (cls === ALU64) {
        const d = reg(dst), sv = k ? O : reg(src);
        if (op === MOV) v = k ? O : (x.off === 0 ? sv : O);
        else if (op === ADD || op === SUB) {
          if (d === C || (op === ADD && sv === C)) v = C;
          else if (d === M || (op === ADD && sv === M)) v = M;
          else if (isFp(d)) {
            const o = fpOff(d);
            v = k && o !== undefined ? fp(op === ADD ? o + x.imm : o - x.imm) : (op === SUB && isFp(sv) ? O : FPX);
          } else if (op === ADD && isFp(sv)) v = FPX;
        }
      }
      set(dst, v);
    } else if (cls === JMP || cls === JMP32) {
      const op = OP(x.code);
      if (cls === JMP && op === EXIT) {
        const f = funcOf(i);
        let r0 = reg(0);
        if (isFp(r0)) r0 = O;
        const old = summary.get(f) ?? U;
        const j = join(old, r0);
        if (j !== old || !summary.has(f)) {
          summary.set(f, j);
          for (const c of callSites.get(f) ?? []) if (inState[c]) push(c + 1, afterCall(c, inState[c]!, j));
        }
        next = [];
      } else if (cls === JMP && op === CALL) {
        if (x.src === 1) {
          const t = i + 1 + x.imm;
          const args = R.map((v, r) => (r >= 1 && r <= 5 && isFp(v) ? O : v));
          if (R.slice(1, 6).some(isFp)) fpEscapes = true;
          const sites = callSites.get(t) ?? [];
          if (!sites.includes(i)) callSites.set(t, [...sites, i]);
          push(t, entry(args));
          next = [];
          if (summary.has(t)) push(i + 1, afterCall(i, s, summary.get(t)!));
        } else {
          next = [];
          push(i + 1, afterCall(i, s, O));
        }
      } else if (op === JA) {
        next = [i + 1 + (cls === JMP32 ? x.imm : x.off)];
      } else {
        next = [i + 1, i + 1 + x.off];
      }
    } else if (cls === LD) {
      set(0, O); // legacy packet loads (refused for seccomp as for socket filters' rules alike)
    }
    for (const t of next) push(t, s);
    if (escape) return { ok: false, reason: escape };
  }
  if (ctxSpilled && fpEscapes) return { ok: false, reason: 'the context is spilled and stack pointers escape' };

  const ctxLoads = new Set<number>();
  const ctxStores = new Set<number>();
  for (let i = 0; i < n; i++) {
    const s = inState[i];
    if (!s) continue;
    const x = insns[i]!;
    const cls = CLS(x.code);
    if (isLddw(x)) continue;
    let base: number | undefined;
    if (cls === LDX && (MODE(x.code) === MEM || MODE(x.code) === MEMSX)) base = (x.src & 15) <= 10 ? s.regs[x.src & 15] : O;
    else if (cls === ST || cls === STX) base = (x.dst & 15) <= 10 ? s.regs[x.dst & 15] : O;
    if (base === M) return { ok: false, reason: `insn ${i}: memory access through a register that is the context on some paths only` };
    if (base === C) (cls === LDX ? ctxLoads : ctxStores).add(i);
  }
  return { ok: true, ctxLoads, ctxStores };
}

// ---------------------------------------------------------------------------------------------
// Rewrite
// ---------------------------------------------------------------------------------------------

const slot = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });
/** A load the kernel refuses wherever it is reached (8 bytes at fp+0: outside the stack). */
const refused = (dst: number): Insn => slot(LDX | MEM | 0x18, dst > 9 ? 0 : dst, 10, 0, 0);

export type Rewrite = { ok: true; insns: Insn[] } | { ok: false; reason: string };

/**
 * Rewrites `insns` into a socket filter for the kernel (see the module comment). `mapFds[i]` is
 * the kernel fd of map index i; `ctxMapFd` the 64-byte array map standing in for the context.
 */
export function rewriteForKernel(
  insns: readonly Insn[], mapFds: readonly number[], ctxMapFd: number, ctx: { ctxLoads: Set<number>; ctxStores: Set<number> },
  probe: { refuseAt?: number; launder?: ReadonlySet<number>; unlinkMovs?: boolean } = {},
): Rewrite {
  const { refuseAt, launder, unlinkMovs } = probe;
  const n = insns.length;
  const out: Insn[] = [];
  const at = new Array<number>(n + 1);
  const fdOf = (idx: number): number => (idx >= 0 && idx < mapFds.length ? mapFds[idx]! : -1);
  const fixups: { from: number; oldTarget: number; kind: 'off' | 'imm' }[] = [];
  for (let i = 0; i < n; i++) {
    const x = insns[i]!;
    at[i] = out.length;
    if (i === refuseAt) {
      // Probe: does the kernel reach this instruction at all? (an lddw keeps its two slots)
      out.push(refused(0));
      if (isLddw(x) && i + 1 < n) { at[i + 1] = out.length; out.push(slot(ALU64 | MOV, 0, 0, 0, 0)); i++; }
      continue;
    }
    if (ctx.ctxLoads.has(i)) {
      const size = SIZE_BYTES[x.code & 0x18]!;
      if (MODE(x.code) === MEM && validSeccompField(x.off, size)) {
        out.push(slot(LDX | MEM | 0x00, x.dst, x.src, 0, 0));
        out.push(slot(LDDW, x.dst, 2, 0, ctxMapFd), slot(0, 0, 0, 0, 0));
        out.push(slot(x.code, x.dst, x.dst, x.off, x.imm)); // reserved fields as they were
      } else {
        out.push(refused(x.dst));
      }
      continue;
    }
    if (ctx.ctxStores.has(i)) { out.push(refused(0)); continue; }
    if (isLddw(x) && i + 1 < n) {
      const hi = insns[i + 1]!;
      const imm = x.src === 1 || x.src === 2 ? fdOf(x.imm) : x.imm;
      out.push({ ...x, imm }, { ...hi });
      at[i + 1] = out.length - 1;
      i++;
      continue;
    }
    const cls = CLS(x.code);
    if (unlinkMovs && (x.code === (ALU64 | MOV | X) || x.code === (ALU | MOV | X)) && x.off === 0 && x.imm === 0
      && x.dst !== x.src && x.dst < 10 && x.src < 10) {
      // Probe: rA = rB as rA = 0; rA += rB (the same value, but the kernel does not link the
      // two registers' bounds, so a comparison of one no longer rewrites the other's).
      out.push(slot(cls | MOV, x.dst, 0, 0, 0), slot(cls | ADD | X, x.dst, x.src, 0, 0));
      continue;
    }
    if (cls === JMP || cls === JMP32) {
      const op = OP(x.code);
      if (cls === JMP && op === CALL) {
        if (x.src === 1) fixups.push({ from: out.length, oldTarget: i + 1 + x.imm, kind: 'imm' });
      } else if (cls === JMP32 && op === JA) {
        fixups.push({ from: out.length, oldTarget: i + 1 + x.imm, kind: 'imm' });
      } else if (op !== EXIT) {
        fixups.push({ from: out.length, oldTarget: i + 1 + x.off, kind: 'off' });
      }
    }
    out.push({ ...x });
    if (launder && x.code === (JMP | CALL) && x.src === 0 && launder.has(x.imm)) {
      // Probe: r0 becomes an unknown 64-bit scalar, whatever the kernel knows of the helper.
      out.push(slot(LDDW, 0, 2, 0, ctxMapFd), slot(0), slot(LDX | MEM | 0x18, 0, 0, 0, 0));
    }
  }
  at[n] = out.length;
  for (const f of fixups) {
    // Out-of-range targets stay out of range by the same distance.
    const t = f.oldTarget < 0 ? f.oldTarget : f.oldTarget > n ? out.length + (f.oldTarget - n) : at[f.oldTarget]!;
    const rel = t - (f.from + 1);
    if (f.kind === 'off') {
      if (rel < -32768 || rel > 32767) return { ok: false, reason: 'a jump offset overflows after the rewrite' };
      out[f.from]!.off = rel;
    } else {
      out[f.from]!.imm = rel;
    }
  }
  return { ok: true, insns: out };
}

// ---------------------------------------------------------------------------------------------
// Kernel side: maps, helper availability, load
// ---------------------------------------------------------------------------------------------

const helperCache = new Map<number, boolean>();

/** Whether the kernel lets a root socket filter call helper `id` (probed once per id: the
 *  kernel says "unknown func" / "cannot use helper" when it does not). */
export function socketFilterHasHelper(id: number): boolean {
  let v = helperCache.get(id);
  if (v !== undefined) return v;
  const insns: Insn[] = [];
  for (let r = 1; r <= 5; r++) insns.push(slot(ALU64 | MOV, r, 0, 0, 0));
  insns.push(slot(JMP | CALL, 0, 0, 0, id), slot(ALU64 | MOV, 0, 0, 0, 0), slot(JMP | EXIT));
  try {
    loadProgram(insns).close();
    v = true;
  } catch (e) {
    if (!(e instanceof ProgLoadError)) throw e;
    v = !/unknown func|cannot use helper|invalid func/.test(e.log);
  }
  helperCache.set(id, v);
  return v;
}

/** Kernel maps for the comparison, reused across programs by spec. Call close() at the end. */
export class KernelMaps {
  private readonly byKey = new Map<string, KernelMap | Error>();
  private ctx: KernelMap | undefined;

  /** The fd of a kernel map like `spec`, or an Error if the kernel cannot create it here. */
  fdFor(spec: MapSpec): number | Error {
    if (spec.type === BPF_MAP_TYPE_TASK_STORAGE) return new Error('task storage maps need BTF, which bpf(2) map creation here does not pass');
    const flags = spec.flags | (spec.readOnly ? BPF_F_RDONLY_PROG : 0);
    const key = `${spec.type}/${spec.keySize}/${spec.valueSize}/${spec.maxEntries}/${flags}`;
    let m = this.byKey.get(key);
    if (!m) {
      try {
        m = createMap(spec.type, spec.keySize, spec.valueSize, spec.maxEntries, flags);
      } catch (e) {
        m = e instanceof Error ? e : new Error(String(e));
      }
      this.byKey.set(key, m);
    }
    return m instanceof Error ? m : m.fd;
  }

  /** The 64-byte array map standing in for struct seccomp_data. */
  ctxFd(): number {
    this.ctx ??= createMap(BPF_MAP_TYPE_ARRAY, 4, 64, 1, 0);
    return this.ctx.fd;
  }

  close(): void {
    for (const m of this.byKey.values()) if (!(m instanceof Error)) m.close();
    this.byKey.clear();
    this.ctx?.close();
    this.ctx = undefined;
  }
}

/** Helper ids called (src 0) and whether kfuncs / unusual lddw forms appear. */
function features(insns: readonly Insn[]): { helpers: Set<number>; other?: string } {
  const helpers = new Set<number>();
  for (let i = 0; i < insns.length; i++) {
    const x = insns[i]!;
    if (x.code === (JMP | CALL)) {
      if (x.src === 0) helpers.add(x.imm);
      else if (x.src === 2) return { helpers, other: 'kfunc call' };
    }
    if (isLddw(x)) {
      if (x.src !== 0 && x.src !== 1 && x.src !== 2) return { helpers, other: `lddw with src=${x.src}` };
      i++;
    } else if (CLS(x.code) === LD) {
      return { helpers, other: 'legacy packet load (LD_ABS/LD_IND: socket filters only)' };
    }
  }
  return { helpers };
}

export interface VerdictOptions {
  /** Helper ids our verifier grants the compared loader. */
  ourHelpers: ReadonlySet<number>;
  /** Probe: replace instruction `refuseAt` by one the kernel refuses wherever it reaches it
   *  (the kernel then accepts only if no path reaches it). */
  refuseAt?: number;
  /** Probe: every register copy `rA = rB` / `wA = wB` becomes `rA = 0; rA += rB` (the same
   *  values; no linked scalar ids in the kernel). */
  unlinkMovs?: boolean;
  /** Probe: after each call of these helpers, make r0 an unknown 64-bit scalar for the kernel
   *  (undoing what it knows of the helper's return range). */
  launderReturnsOf?: ReadonlySet<number>;
  /** Probe: create the array maps the program references only as map pointers (not through
   *  direct value access) as hash maps of the same sizes, whose lookups the kernel always
   *  treats as possibly NULL. */
  arraysAsHashes?: boolean;
  /** Kernel log size (default 256 KiB; 0: no log). */
  logSize?: number;
}

/**
 * The kernel's verdict on `prog` (as a root socket filter after the rewrite), or `skip` with
 * the reason when the program is not comparable. Needs bpf(2) (see bpfUnavailableReason).
 */
export function kernelVerdict(prog: SeccompProgram, maps: KernelMaps, opts: VerdictOptions): KernelVerdict {
  const f = features(prog.insns);
  if (f.other) return { kind: 'skip', reason: f.other };
  for (const id of f.helpers) {
    if (opts.ourHelpers.has(id) !== socketFilterHasHelper(id)) {
      return { kind: 'skip', reason: `helper ${id} is available to only one of the two program types` };
    }
  }
  // Only the maps the program references need to exist; indices outside prog.maps stay invalid.
  const used = new Set<number>();
  const byValue = new Set<number>();
  for (let i = 0; i < prog.insns.length; i++) {
    const x = prog.insns[i]!;
    if (isLddw(x)) { if (x.src === 1 || x.src === 2) used.add(x.imm); if (x.src === 2) byValue.add(x.imm); i++; }
  }
  const fds = prog.maps.map(() => -1);
  for (const idx of used) {
    let spec = prog.maps[idx];
    if (!spec) continue;
    if (opts.arraysAsHashes && !byValue.has(idx) && (spec.type === BPF_MAP_TYPE_ARRAY || spec.type === BPF_MAP_TYPE_PERCPU_ARRAY)) {
      spec = { ...spec, type: spec.type === BPF_MAP_TYPE_ARRAY ? BPF_MAP_TYPE_HASH : BPF_MAP_TYPE_PERCPU_HASH };
    }
    const fd = maps.fdFor(spec);
    if (fd instanceof Error) return { kind: 'skip', reason: `map "${spec.name}": ${fd.message}` };
    fds[idx] = fd;
  }
  const ctx = analyzeCtx(prog.insns);
  if (!ctx.ok) return { kind: 'skip', reason: ctx.reason };
  const probe: { refuseAt?: number; launder?: ReadonlySet<number>; unlinkMovs?: boolean } = {};
  if (opts.refuseAt !== undefined) probe.refuseAt = opts.refuseAt;
  if (opts.unlinkMovs) probe.unlinkMovs = true;
  if (opts.launderReturnsOf) probe.launder = opts.launderReturnsOf;
  const rw = rewriteForKernel(prog.insns, fds, maps.ctxFd(), ctx, probe);
  if (!rw.ok) return { kind: 'skip', reason: rw.reason };
  try {
    loadProgram(rw.insns, { progType: BPF_PROG_TYPE_SOCKET_FILTER, license: prog.license, logSize: opts.logSize ?? 1 << 18 }).close();
    return { kind: 'accept' };
  } catch (e) {
    if (e instanceof ProgLoadError) return { kind: 'reject', errno: e.errno, log: e.log };
    throw e;
  }
}
