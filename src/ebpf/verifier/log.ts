/**
 * @module ebpf/verifier/log
 * The verifier log, in the kernel's format:
 *
 *   0: R1=ctx() R10=fp0
 *   0: (61) r0 = *(u32 *)(r1 + 0)         ; R0=scalar(smin=0,smax=umax=0xffffffff,...)
 *   1: (95) exit
 *   processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
 *
 * Each line shows the instruction (formatInsn, llvm-objdump syntax) and the registers and stack
 * slots it changed. Level 1 keeps, per path, a persistent list of steps shared by the branches
 * that grew from it (register arrays are copied per step, never the values, which are immutable)
 * and prints the failing path only; level 2 prints every processed instruction as it goes.
 * The log is bounded: beyond LOG_LIMIT bytes the oldest lines are dropped.
 */
import { formatInsn } from '../disasm.js';
import type { Insn } from '../insn.js';
import type { MapSpec } from '../maps/types.js';
import { formatReg, type Reg } from './regs.js';
import { formatFrame, type Frame, type Slot, type State } from './state.js';

export const LOG_LIMIT = 1 << 20;

/** One step of a path: the instruction and the current frame's registers and stack after it. */
export interface TraceNode {
  readonly prev: TraceNode | null;
  readonly pc: number;
  readonly frameno: number;
  readonly regs: readonly Reg[];
  readonly stack: readonly (Slot | undefined)[];
  /** A path resumed here from a jump at `from` (prints "from X to Y: <state>"); -1: the entry state. */
  readonly from?: number;
  readonly refsText?: string;
}

export function traceStep(prev: TraceNode | null, pc: number, f: Frame): TraceNode {
  return { prev, pc, frameno: f.frameno, regs: f.regs.slice(), stack: f.stack.slice() };
}

export function traceResume(prev: TraceNode | null, from: number, to: number, st: State): TraceNode {
  const f = st.frames[st.frames.length - 1]!;
  return { prev, pc: to, frameno: f.frameno, regs: f.regs.slice(), stack: f.stack.slice(), from, refsText: st.refs.map((r) => r.id).join(',') };
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** "3: (bf) r2 = r10" */
export function insnLine(insns: readonly Insn[], pc: number): string {
  const slot: unknown = insns[pc];
  if (typeof slot !== 'object' || slot === null || !Number.isInteger((slot as Insn).code)) return `${pc}: (invalid slot)`;
  try {
    return `${pc}: (${hex2((slot as Insn).code & 0xff)}) ${formatInsn(insns, pc)}`;
  } catch {
    return `${pc}: (${hex2((slot as Insn).code & 0xff)}) (invalid)`;
  }
}

/** Formats one step, showing what differs from the step before it. */
export function formatStep(n: TraceNode, before: TraceNode | null, insns: readonly Insn[], maps: readonly MapSpec[]): string {
  if (n.from !== undefined) {
    const f = { regs: n.regs as Reg[], stack: n.stack as (Slot | undefined)[], callsite: 0, subprog: 0, frameno: n.frameno };
    const refs = n.refsText ? n.refsText.split(',').map((id) => ({ id: Number(id), insn: 0 })) : [];
    const head = n.from < 0 ? `${n.pc}:` : `from ${n.from} to ${n.pc}:`;
    return `${head} ${n.frameno ? `frame${n.frameno}: ` : ''}${formatFrame(f, maps, refs)}`;
  }
  const changed: string[] = [];
  const same = before !== null && before.frameno === n.frameno;
  for (let r = 0; r < 11; r++) {
    const reg = n.regs[r]!;
    if (same && before.regs[r] === reg) continue;
    if (!same && reg.kind === 'not_init') continue;
    changed.push(`R${r}=${formatReg(reg, maps, n.frameno)}`);
  }
  for (let spi = 0; spi < n.stack.length; spi++) {
    const s = n.stack[spi];
    if (!s || (same && before.stack[spi] === s)) continue;
    const name = `fp${-(spi + 1) * 8}`;
    changed.push(s.types[7] === 'r' && s.spill ? `${name}=${formatReg(s.spill, maps, n.frameno)}` : `${name}=${s.types}`);
  }
  const line = insnLine(insns, n.pc);
  return changed.length ? `${line.padEnd(40)}; ${n.frameno ? `frame${n.frameno}: ` : ''}${changed.join(' ')}` : line;
}

/** Lines of a path, oldest first. */
export function formatPath(last: TraceNode | null, insns: readonly Insn[], maps: readonly MapSpec[]): string[] {
  const nodes: TraceNode[] = [];
  for (let n = last; n; n = n.prev) nodes.push(n);
  nodes.reverse();
  const out: string[] = [];
  let before: TraceNode | null = null;
  for (const n of nodes) {
    out.push(formatStep(n, before, insns, maps));
    before = n;
  }
  return out;
}

/** A bounded list of lines that keeps the most recent ones. */
export class LogBuffer {
  private lines: string[] = [];
  private size = 0;
  private dropped = false;

  push(line: string): void {
    this.lines.push(line);
    this.size += line.length + 1;
    if (this.size > 2 * LOG_LIMIT) this.trim();
  }

  private trim(): void {
    let drop = 0;
    while (this.size > LOG_LIMIT && drop < this.lines.length) this.size -= this.lines[drop++]!.length + 1;
    this.lines = this.lines.slice(drop);
    this.dropped = true;
  }

  text(): string {
    if (this.size > LOG_LIMIT) this.trim();
    if (!this.lines.length) return '';
    return `${this.dropped ? '... (log truncated: earlier lines dropped)\n' : ''}${this.lines.join('\n')}\n`;
  }
}
