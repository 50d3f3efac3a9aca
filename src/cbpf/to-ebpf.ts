/**
 * @module cbpf/to-ebpf
 * Converts a seccomp classic-BPF filter into an eBPF program with the seccomp-eBPF context
 * convention, so classic filters (hand-written, or exported by libseccomp) run in the same VM
 * as eBPF filters. The mapping follows the kernel's bpf_convert_filter in spirit:
 *
 *   r1 = ctx (struct seccomp_data *), copied to r6 at entry
 *   A  = w0, X = w7 (both start at 0; every operation is 32-bit, so r0/r7 stay zero-extended)
 *   M[k] = *(u32 *)(r10 - 64 + 4k)
 *   ld [k]     -> whole-field context reads only, as the seccomp-eBPF verifier allows
 *                 (4@0 nr, 4@4 arch, 8@8 ip, 8@16+8i args):
 *                   k = 0, 4          w0 = *(u32 *)(r6 + k)
 *                   low half of u64   r0 = *(u64 *)(r6 + k); w0 = w0
 *                   high half         r0 = *(u64 *)(r6 + k - 4); r0 >>= 32
 *   ld #len    -> w0 = 64
 *   ALU op     -> the same 32-bit eBPF operation; div by X first checks X != 0 and otherwise
 *                 exits with 0 (the classic "return 0")
 *   jumps      -> JMP32 comparisons (k compared as u32), with a `ja` when neither target
 *                 is the next instruction
 *   ret #k     -> w0 = k; exit          ret a -> exit
 *
 * Instructions no path reaches are left out (the eBPF verifier refuses unreachable code).
 */
import type { Insn } from '../ebpf/insn.js';
import { insn } from '../ebpf/insn.js';
import type { CInsn } from './insn.js';
import { checkClassic } from './check.js';
import { OP, isCondJump } from './opcodes.js';
import * as e from '../abi/bpf.js';
import { BPF_RET } from '../abi/cbpf.js';
import { SECCOMP_DATA_SIZE } from '../abi/seccomp.js';

const R0 = 0, R1 = 1, R6 = 6, R7 = 7, R10 = 10;
const A = R0, X = R7, CTX = R6;
const memOff = (k: number): number => -64 + 4 * k;

/** eBPF jump opposite to a classic comparison (JSET has none). */
const NEGATED = new Map<number, number>([[e.BPF_JEQ, e.BPF_JNE], [e.BPF_JGT, e.BPF_JLE], [e.BPF_JGE, e.BPF_JLT]]);

interface Emitted {
  ins: Insn;
  /** Classic instruction index this jump goes to (resolved once every position is known). */
  to?: number;
}

/**
 * Converts `filter` (checked with seccomp's rules first: ERR_CBPF_INVALID / ERR_CBPF_FIELD)
 * into eBPF instruction slots whose r0 at exit is the filter's verdict (a u32).
 */
export function classicToEbpf(filter: readonly CInsn[]): Insn[] {
  checkClassic(filter);
  const n = filter.length;
  const reach = reachable(filter);
  const out: Emitted[] = [];
  const start = new Int32Array(n).fill(-1);
  const emit = (ins: Insn, to?: number): void => { out.push(to === undefined ? { ins } : { ins, to }); };
  emit(insn(e.BPF_ALU64 | e.BPF_MOV | e.BPF_X, CTX, R1));
  emit(insn(e.BPF_ALU | e.BPF_MOV | e.BPF_K, A, 0, 0, 0));
  emit(insn(e.BPF_ALU | e.BPF_MOV | e.BPF_K, X, 0, 0, 0));
  for (let pc = 0; pc < n; pc++) {
    if (!reach[pc]) continue;
    start[pc] = out.length;
    const { code, jt, jf } = filter[pc]!;
    const k = filter[pc]!.k >>> 0;
    const imm = k | 0;
    switch (code) {
      case OP.LD_ABS:
        if (k < 8) {
          emit(insn(e.BPF_LDX | e.BPF_MEM | e.BPF_W, A, CTX, k));
        } else {
          emit(insn(e.BPF_LDX | e.BPF_MEM | e.BPF_DW, A, CTX, k & ~7));
          if (k % 8 === 4) emit(insn(e.BPF_ALU64 | e.BPF_RSH | e.BPF_K, A, 0, 0, 32));
          else emit(insn(e.BPF_ALU | e.BPF_MOV | e.BPF_X, A, A));
        }
        break;
      case OP.LD_LEN: emit(insn(e.BPF_ALU | e.BPF_MOV | e.BPF_K, A, 0, 0, SECCOMP_DATA_SIZE)); break;
      case OP.LDX_LEN: emit(insn(e.BPF_ALU | e.BPF_MOV | e.BPF_K, X, 0, 0, SECCOMP_DATA_SIZE)); break;
      case OP.LD_IMM: emit(insn(e.BPF_ALU | e.BPF_MOV | e.BPF_K, A, 0, 0, imm)); break;
      case OP.LDX_IMM: emit(insn(e.BPF_ALU | e.BPF_MOV | e.BPF_K, X, 0, 0, imm)); break;
      case OP.LD_MEM: emit(insn(e.BPF_LDX | e.BPF_MEM | e.BPF_W, A, R10, memOff(k))); break;
      case OP.LDX_MEM: emit(insn(e.BPF_LDX | e.BPF_MEM | e.BPF_W, X, R10, memOff(k))); break;
      case OP.ST: emit(insn(e.BPF_STX | e.BPF_MEM | e.BPF_W, R10, A, memOff(k))); break;
      case OP.STX: emit(insn(e.BPF_STX | e.BPF_MEM | e.BPF_W, R10, X, memOff(k))); break;
      case OP.NEG: emit(insn(e.BPF_ALU | e.BPF_NEG, A)); break;
      case OP.TAX: emit(insn(e.BPF_ALU | e.BPF_MOV | e.BPF_X, X, A)); break;
      case OP.TXA: emit(insn(e.BPF_ALU | e.BPF_MOV | e.BPF_X, A, X)); break;
      case OP.RET_K:
        emit(insn(e.BPF_ALU | e.BPF_MOV | e.BPF_K, R0, 0, 0, imm));
        emit(insn(e.BPF_JMP | e.BPF_EXIT));
        break;
      case OP.RET_A: emit(insn(e.BPF_JMP | e.BPF_EXIT)); break;
      case OP.JA:
        if (k !== 0) emit(insn(e.BPF_JMP | e.BPF_JA), pc + 1 + k);
        break;
      default:
        if (isCondJump(code)) condJump(emit, code, imm, pc, pc + 1 + jt, pc + 1 + jf);
        else alu(emit, code, imm);
    }
  }
  // Resolve jump offsets: they count eBPF slots from the slot after the jump.
  return out.map(({ ins, to }, i) => (to === undefined ? ins : { ...ins, off: start[to]! - i - 1 }));
}

function alu(emit: (ins: Insn, to?: number) => void, code: number, imm: number): void {
  const op = code & 0xf0;
  if ((code & e.BPF_X) !== 0) {
    if (op === e.BPF_DIV || op === e.BPF_MOD) {
      // Classic BPF returns 0 on division by zero; eBPF would give 0 / leave A.
      emit(insn(e.BPF_JMP32 | e.BPF_JNE | e.BPF_K, X, 0, 2, 0));
      emit(insn(e.BPF_ALU | e.BPF_MOV | e.BPF_K, R0, 0, 0, 0));
      emit(insn(e.BPF_JMP | e.BPF_EXIT));
    }
    emit(insn(e.BPF_ALU | op | e.BPF_X, A, X));
  } else {
    emit(insn(e.BPF_ALU | op | e.BPF_K, A, 0, 0, imm));
  }
}

function condJump(emit: (ins: Insn, to?: number) => void, code: number, imm: number, pc: number, t: number, f: number): void {
  const op = code & 0xf0;
  const viaX = (code & e.BPF_X) !== 0;
  const j = (jop: number, to?: number): void =>
    emit(viaX ? insn(e.BPF_JMP32 | jop | e.BPF_X, A, X) : insn(e.BPF_JMP32 | jop | e.BPF_K, A, 0, 0, imm), to);
  const next = pc + 1;
  if (t === f) {
    if (t !== next) emit(insn(e.BPF_JMP | e.BPF_JA), t);
  } else if (f === next) {
    j(op, t);
  } else if (t === next && NEGATED.has(op)) {
    j(NEGATED.get(op)!, f);
  } else {
    j(op, t);
    emit(insn(e.BPF_JMP | e.BPF_JA), f);
  }
}

/** Instructions some path from the first one reaches (jumps are forward only). */
function reachable(filter: readonly CInsn[]): Uint8Array {
  const r = new Uint8Array(filter.length);
  r[0] = 1;
  for (let pc = 0; pc < filter.length; pc++) {
    if (!r[pc]) continue;
    const { code, jt, jf } = filter[pc]!;
    const k = filter[pc]!.k >>> 0;
    if ((code & 0x07) === BPF_RET) continue;
    if (code === OP.JA) r[pc + 1 + k] = 1;
    else if (isCondJump(code)) { r[pc + 1 + jt] = 1; r[pc + 1 + jf] = 1; } else r[pc + 1] = 1;
  }
  return r;
}
