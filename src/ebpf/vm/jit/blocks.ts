/**
 * @module ebpf/vm/jit/blocks
 * Splits a decoded program into basic blocks for the JIT. A block starts at slot 0, at every
 * jump or call target, and right after every jump, call and exit; so a block, once entered,
 * runs to its end unless it faults. That is what lets the JIT charge the instruction budget
 * once per block instead of once per instruction.
 */
import { BPF_CALL, BPF_IMM, BPF_DW, BPF_JMP, BPF_JMP32, BPF_LD } from '../../../abi/bpf.js';
import { NO_TARGET, type DecodedProgram } from '../decode.js';

const LDDW = BPF_LD | BPF_IMM | BPF_DW;

export interface Block {
  /** First slot. */
  readonly start: number;
  /** Slots of the instructions in the block, in order (an lddw is one instruction, two slots). */
  readonly insns: readonly number[];
}

/** True when slot `i` (an instruction start) ends a block: a jump, a call or an exit. */
export function endsBlock(p: DecodedProgram, i: number): boolean {
  const cls = p.code[i]! & 7;
  return cls === BPF_JMP || cls === BPF_JMP32;
}

/** The instruction starts of `p` (every slot except the second slot of each lddw). */
export function insnStarts(p: DecodedProgram): number[] {
  const out: number[] = [];
  for (let i = 0; i < p.length; i += p.code[i] === LDDW ? 2 : 1) out.push(i);
  return out;
}

/**
 * The basic blocks of `p`, in slot order. A straight run longer than `maxInsns` instructions is
 * cut into several blocks (each charges the budget for itself), so no block is too big for the
 * JIT's per-function size budget.
 */
export function basicBlocks(p: DecodedProgram, maxInsns = Infinity): Block[] {
  const n = p.length;
  const starts = insnStarts(p);
  const leader = new Uint8Array(n + 1);
  leader[0] = 1;
  for (const i of starts) {
    if (p.target[i] !== NO_TARGET) leader[p.target[i]!] = 1;
    if (endsBlock(p, i)) leader[i + 1] = 1; // i + 1 <= n; slot n is "fell off the end"
  }
  const blocks: Block[] = [];
  let cur: number[] = [];
  for (const i of starts) {
    if ((leader[i] || cur.length >= maxInsns) && cur.length > 0) {
      blocks.push({ start: cur[0]!, insns: cur });
      cur = [];
    }
    cur.push(i);
  }
  if (cur.length > 0) blocks.push({ start: cur[0]!, insns: cur });
  return blocks;
}

/** True when `p` has a bpf-to-bpf call (then exits must handle frames). */
export function hasLocalCalls(p: DecodedProgram): boolean {
  for (let i = 0; i < p.length; i++) {
    if (p.code[i] === (BPF_JMP | BPF_CALL) && p.target[i] !== NO_TARGET) return true;
  }
  return false;
}
