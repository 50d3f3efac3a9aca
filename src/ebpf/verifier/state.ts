/**
 * @module ebpf/verifier/state
 * The abstract machine state of one path: call frames (registers and a 512-byte stack each) and
 * the acquired references (ring buffer records not yet submitted or discarded).
 *
 * The stack is tracked in 8-byte slots as the kernel does (struct bpf_stack_state): one type per
 * byte — '?' never written, 'm' initialised data, '0' known zero, 'r' part of a spilled register —
 * and the spilled register itself. In a slot's `types`, index j is the byte at
 * fp - 8*spi - 1 - j (so index 7 is the lowest address), which is also the order the kernel's
 * log prints them in ("fp-8=????mmmm" after a 4-byte store at fp-8).
 *
 * Slots and registers are immutable; a state copy copies arrays of references only.
 */
import type { MapSpec } from '../maps/types.js';
import { NOT_INIT, formatReg, fpReg, type Reg } from './regs.js';

export const STACK_SLOTS = 64;
export const SLOT_INVALID = '????????';
export const SLOT_MISC = 'mmmmmmmm';

export interface Slot {
  /** Per-byte type: '?' invalid, 'm' misc, '0' zero, 'r' spilled register. */
  readonly types: string;
  /** The spilled register when types[7] === 'r' (else null). */
  readonly spill: Reg | null;
}

export interface Frame {
  readonly regs: Reg[];
  /** stack[spi] covers [fp - 8*(spi+1), fp - 8*spi); undefined = never written. */
  readonly stack: (Slot | undefined)[];
  /** Index of the call instruction that created this frame (-1 for the main program). */
  readonly callsite: number;
  readonly subprog: number;
  readonly frameno: number;
}

export interface RefState {
  readonly id: number;
  /** Instruction that acquired it (for "Unreleased reference id=1 alloc_insn=7"). */
  readonly insn: number;
}

export interface State {
  frames: Frame[];
  refs: RefState[];
}

export function newFrame(frameno: number, callsite: number, subprog: number): Frame {
  const regs = new Array<Reg>(11).fill(NOT_INIT);
  regs[10] = fpReg(frameno);
  return { regs, stack: [], callsite, subprog, frameno };
}

export const copyFrame = (f: Frame): Frame => ({ ...f, regs: f.regs.slice(), stack: f.stack.slice() });
export const copyState = (s: State): State => ({ frames: s.frames.map(copyFrame), refs: s.refs.slice() });
export const curFrame = (s: State): Frame => s.frames[s.frames.length - 1]!;

/** Slot index and byte index inside the slot of the stack byte at frame offset `off` (< 0). */
export function slotOf(off: number): { spi: number; j: number } {
  const k = -off - 1;
  return { spi: k >> 3, j: k & 7 };
}

export const isSpilled = (s: Slot | undefined): boolean => s !== undefined && s.types[7] === 'r';

/** Every register of every frame and every spilled register, for id-based updates. */
export function forEachReg(st: State, fn: (r: Reg) => Reg | undefined): void {
  for (const f of st.frames) {
    for (let i = 0; i < 10; i++) {
      const n = fn(f.regs[i]!);
      if (n) f.regs[i] = n;
    }
    for (let spi = 0; spi < f.stack.length; spi++) {
      const s = f.stack[spi];
      if (!s || !s.spill || s.types[7] !== 'r') continue;
      const n = fn(s.spill);
      if (n) f.stack[spi] = { types: s.types, spill: n };
    }
  }
}

/** The kernel's print_verifier_state for one frame: "R1=ctx() R10=fp0 fp-8=mmmmmmmm". */
export function formatFrame(f: Frame, maps: readonly MapSpec[], refs: readonly RefState[] = []): string {
  const out: string[] = [];
  for (let i = 0; i < 11; i++) {
    const r = f.regs[i]!;
    if (r.kind === 'not_init') continue;
    out.push(`R${i}=${formatReg(r, maps, f.frameno)}`);
  }
  for (let spi = 0; spi < f.stack.length; spi++) {
    const s = f.stack[spi];
    if (!s || s.types === SLOT_INVALID) continue;
    const name = `fp${-(spi + 1) * 8}`;
    if (s.types[7] === 'r' && s.spill) out.push(`${name}=${formatReg(s.spill, maps, f.frameno)}`);
    else out.push(`${name}=${s.types}`);
  }
  if (refs.length) out.push(`refs=${refs.map((r) => r.id).join(',')}`);
  return out.join(' ');
}

/** The current frame of a state, prefixed "frameN: " inside a subprogram. */
export function formatState(st: State, maps: readonly MapSpec[]): string {
  const f = curFrame(st);
  const body = formatFrame(f, maps, st.refs);
  return f.frameno > 0 ? `frame${f.frameno}: ${body}` : body;
}
