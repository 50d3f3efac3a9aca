/**
 * @module ebpf/vm/jit/emit-jmp
 * JavaScript source for jumps, calls and exit. Inside the generated `for (;;) switch (pc)`
 * (see ./codegen.ts) a jump is `pc = target; continue;`, and an exit of frame 0 leaves the loop
 * with `break out;` (r0 is then in l0/h0). Conditions compare u32 halves: unsigned order is the
 * plain order of the numbers, signed order compares the high halves as int32 (`| 0`).
 */
import {
  BPF_CALL, BPF_EXIT, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JMP32, BPF_JNE, BPF_JSET, BPF_JSGE,
  BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_PSEUDO_CALL, BPF_X, MAX_CALL_FRAMES,
} from '../../../abi/bpf.js';
import type { DecodedProgram } from '../decode.js';
import { VM_POISON } from '../interpreter.js';
import { H, L } from './emit-alu.js';

export const POISON_LO = Number(VM_POISON & 0xffff_ffffn);
export const POISON_HI = Number(VM_POISON >> 32n);

const poison = (regs: readonly number[]): string =>
  `${regs.map(L).join(' = ')} = ${POISON_LO}; ${regs.map(H).join(' = ')} = ${POISON_HI};`;
const CALLEE_SAVED = [6, 7, 8, 9];

/**
 * Source of JMP/JMP32 instruction i. `frames`: the program has bpf-to-bpf calls (exit must then
 * look at the frame); `hasHelper`: the helper table has the helper called at slot i.
 */
export function emitJump(p: DecodedProgram, i: number, frames: boolean, hasHelper: (i: number) => boolean): string {
  const code = p.code[i]!, op = code & 0xf0, target = p.target[i]!;
  if (op === BPF_JA) return `pc = ${target}; continue;`;
  if (op === BPF_EXIT) {
    const ret = 'pc = -1; break out;';
    if (!frames) return ret;
    const restore = CALLEE_SAVED.map((r, k) => `${L(r)} = SV[s + ${2 * k}]; ${H(r)} = SV[s + ${2 * k + 1}];`).join(' ');
    return `if (frame === 0) { ${ret} } frame--; s = frame * 8; ${restore} ${poison([1, 2, 3, 4, 5])} ` +
      'l10 = FPL[frame]; h10 = FPH[frame]; sdv = SDV[frame]; pc = RP[frame]; continue;';
  }
  if (op === BPF_CALL) {
    if (p.src[i] === BPF_PSEUDO_CALL) {
      const save = CALLEE_SAVED.map((r, k) => `SV[s + ${2 * k}] = ${L(r)}; SV[s + ${2 * k + 1}] = ${H(r)};`).join(' ');
      // A frame's stack is zeroed on entry, as in the interpreter, when it may have been written.
      return `if (frame + 1 >= ${MAX_CALL_FRAMES}) throw DEPTH(${i}); s = frame * 8; ${save} RP[frame] = ${i + 1}; frame++; ` +
        `if (D[frame] !== 0) { M.clearStack(frame); D[frame] = 0; } ${poison([0, 6, 7, 8, 9])} ` +
        `l10 = FPL[frame]; h10 = FPH[frame]; sdv = SDV[frame]; pc = ${target}; continue;`;
    }
    if (!hasHelper(i)) return `throw UNKNOWN(${i});`;
    return `CALLH(${i}, l1, h1, l2, h2, l3, h3, l4, h4, l5, h5); l0 = OUT[0]; h0 = OUT[1]; ${poison([1, 2, 3, 4, 5])}`;
  }
  if (target === i + 1) return ''; // a conditional jump to the next instruction does nothing
  return `if (${condition(p, i)}) { pc = ${target}; continue; }`;
}

/** The condition of conditional jump i as a JS boolean expression. */
function condition(p: DecodedProgram, i: number): string {
  const code = p.code[i]!, op = code & 0xf0, d = p.dst[i]!;
  const x = (code & BPF_X) !== 0;
  const imm = p.imm[i]!;
  if ((code & 7) === BPF_JMP32) {
    const a = L(d);
    const b = x ? L(p.src[i]!) : String(imm >>> 0);
    const sb = x ? `(${b} | 0)` : String(imm); // signed view of b
    switch (op) {
      case BPF_JEQ: return `${a} === ${b}`;
      case BPF_JNE: return `${a} !== ${b}`;
      case BPF_JGT: return `${a} > ${b}`;
      case BPF_JGE: return `${a} >= ${b}`;
      case BPF_JLT: return `${a} < ${b}`;
      case BPF_JLE: return `${a} <= ${b}`;
      case BPF_JSET: return `(${a} & ${b}) !== 0`;
      case BPF_JSGT: return `(${a} | 0) > ${sb}`;
      case BPF_JSGE: return `(${a} | 0) >= ${sb}`;
      case BPF_JSLT: return `(${a} | 0) < ${sb}`;
      case BPF_JSLE: return `(${a} | 0) <= ${sb}`;
    }
    throw new RangeError(`jit: JMP32 op 0x${op.toString(16)}`);
  }
  const al = L(d), ah = H(d);
  const bl = x ? L(p.src[i]!) : String(imm >>> 0);
  const bh = x ? H(p.src[i]!) : imm < 0 ? '4294967295' : '0';
  const sbh = x ? `(${bh} | 0)` : imm < 0 ? '-1' : '0'; // signed view of b's high half
  // 64-bit order: the high halves decide unless equal, then the low halves (always unsigned).
  const ord = (rel: string, sa: string, sb: string): string => `(${sa} ${rel[0]} ${sb} || (${ah} === ${bh} && ${al} ${rel} ${bl}))`;
  switch (op) {
    case BPF_JEQ: return `${al} === ${bl} && ${ah} === ${bh}`;
    case BPF_JNE: return `${al} !== ${bl} || ${ah} !== ${bh}`;
    case BPF_JGT: return ord('>', ah, bh);
    case BPF_JGE: return ord('>=', ah, bh);
    case BPF_JLT: return ord('<', ah, bh);
    case BPF_JLE: return ord('<=', ah, bh);
    case BPF_JSET: return `(${al} & ${bl}) !== 0 || (${ah} & ${bh}) !== 0`;
    case BPF_JSGT: return ord('>', `(${ah} | 0)`, sbh);
    case BPF_JSGE: return ord('>=', `(${ah} | 0)`, sbh);
    case BPF_JSLT: return ord('<', `(${ah} | 0)`, sbh);
    case BPF_JSLE: return ord('<=', `(${ah} | 0)`, sbh);
  }
  throw new RangeError(`jit: JMP op 0x${op.toString(16)}`);
}
