/**
 * @module cbpf/interpreter
 * Runs a seccomp classic-BPF filter on a `struct seccomp_data` and returns its 32-bit verdict,
 * with the semantics of the kernel's converted program (net/core/filter.c bpf_convert_filter,
 * run by the eBPF interpreter or JIT):
 *
 *   - A and X are 32-bit and start at 0; M[0..15] is never read before written (the checker
 *     guarantees it on every reachable path).
 *   - `ld [k]` reads the little-endian u32 at byte k of seccomp_data; `ld #len` is 64.
 *   - Arithmetic wraps at 32 bits; shifts by X use X & 31 (what the eBPF interpreter and the
 *     x86 JIT do); division by X == 0 ends the filter with verdict 0 (SECCOMP_RET_KILL_THREAD).
 *
 * Programs are checked once (seccomp rules, ERR_CBPF_INVALID) and flattened into typed arrays.
 */
import { BPF_MEMWORDS, type CInsn } from './insn.js';
import { checkClassic } from './check.js';
import { checkSeccompData } from './data.js';
import { OP } from './opcodes.js';
import {
  BPF_ALU, BPF_K, BPF_X, BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_AND, BPF_OR, BPF_XOR, BPF_LSH, BPF_RSH,
} from '../abi/cbpf.js';
import { SECCOMP_DATA_SIZE } from '../abi/seccomp.js';

/** A checked filter ready to run many times. */
export interface ClassicProgram {
  readonly length: number;
  /** Runs the filter on a 64-byte seccomp_data and returns the u32 verdict. Throws ERR_CBPF_DATA for bad data. */
  run(data: Uint8Array): number;
}

/** Checks `filter` (seccomp rules; ERR_CBPF_INVALID / ERR_CBPF_FIELD) and prepares it to run. */
export function compileClassic(filter: readonly CInsn[]): ClassicProgram {
  checkClassic(filter);
  const n = filter.length;
  const code = new Uint16Array(n), jt = new Uint8Array(n), jf = new Uint8Array(n), k = new Uint32Array(n);
  filter.forEach((ins, i) => { code[i] = ins.code; jt[i] = ins.jt; jf[i] = ins.jf; k[i] = ins.k >>> 0; });
  const mem = new Uint32Array(BPF_MEMWORDS);
  return {
    length: n,
    run(data: Uint8Array): number {
      checkSeccompData(data);
      // M[] is not cleared: the checker proved every read follows a write on its path.
      return exec(code, jt, jf, k, data, mem);
    },
  };
}

/** Checks and runs `filter` once on `data`; see compileClassic. */
export function runClassic(filter: readonly CInsn[], data: Uint8Array): number {
  return compileClassic(filter).run(data);
}

// Module-local opcode values: the switch below is the hot loop.
const ALU_ADD_K = BPF_ALU | BPF_ADD | BPF_K, ALU_ADD_X = BPF_ALU | BPF_ADD | BPF_X;
const ALU_SUB_K = BPF_ALU | BPF_SUB | BPF_K, ALU_SUB_X = BPF_ALU | BPF_SUB | BPF_X;
const ALU_MUL_K = BPF_ALU | BPF_MUL | BPF_K, ALU_MUL_X = BPF_ALU | BPF_MUL | BPF_X;
const ALU_DIV_K = BPF_ALU | BPF_DIV | BPF_K, ALU_DIV_X = BPF_ALU | BPF_DIV | BPF_X;
const ALU_AND_K = BPF_ALU | BPF_AND | BPF_K, ALU_AND_X = BPF_ALU | BPF_AND | BPF_X;
const ALU_OR_K = BPF_ALU | BPF_OR | BPF_K, ALU_OR_X = BPF_ALU | BPF_OR | BPF_X;
const ALU_XOR_K = BPF_ALU | BPF_XOR | BPF_K, ALU_XOR_X = BPF_ALU | BPF_XOR | BPF_X;
const ALU_LSH_K = BPF_ALU | BPF_LSH | BPF_K, ALU_LSH_X = BPF_ALU | BPF_LSH | BPF_X;
const ALU_RSH_K = BPF_ALU | BPF_RSH | BPF_K, ALU_RSH_X = BPF_ALU | BPF_RSH | BPF_X;
const {
  LD_ABS, LD_LEN, LDX_LEN, LD_IMM, LDX_IMM, LD_MEM, LDX_MEM, ST, STX, NEG, TAX, TXA, RET_K, RET_A, JA,
  JEQ_K, JEQ_X, JGT_K, JGT_X, JGE_K, JGE_X, JSET_K, JSET_X,
} = OP;

function exec(code: Uint16Array, jt: Uint8Array, jf: Uint8Array, kk: Uint32Array, d: Uint8Array, mem: Uint32Array): number {
  let a = 0, x = 0, pc = 0;
  for (;;) {
    const k = kk[pc]!;
    switch (code[pc]) {
      case LD_ABS: a = (d[k]! | (d[k + 1]! << 8) | (d[k + 2]! << 16) | (d[k + 3]! << 24)) >>> 0; break;
      case LD_LEN: a = SECCOMP_DATA_SIZE; break;
      case LDX_LEN: x = SECCOMP_DATA_SIZE; break;
      case LD_IMM: a = k; break;
      case LDX_IMM: x = k; break;
      case LD_MEM: a = mem[k]!; break;
      case LDX_MEM: x = mem[k]!; break;
      case ST: mem[k] = a; break;
      case STX: mem[k] = x; break;
      case ALU_ADD_K: a = (a + k) >>> 0; break;
      case ALU_ADD_X: a = (a + x) >>> 0; break;
      case ALU_SUB_K: a = (a - k) >>> 0; break;
      case ALU_SUB_X: a = (a - x) >>> 0; break;
      case ALU_MUL_K: a = Math.imul(a, k) >>> 0; break;
      case ALU_MUL_X: a = Math.imul(a, x) >>> 0; break;
      case ALU_DIV_K: a = Math.floor(a / k); break;
      case ALU_DIV_X:
        if (x === 0) return 0;
        a = Math.floor(a / x);
        break;
      case ALU_AND_K: a = (a & k) >>> 0; break;
      case ALU_AND_X: a = (a & x) >>> 0; break;
      case ALU_OR_K: a = (a | k) >>> 0; break;
      case ALU_OR_X: a = (a | x) >>> 0; break;
      case ALU_XOR_K: a = (a ^ k) >>> 0; break;
      case ALU_XOR_X: a = (a ^ x) >>> 0; break;
      case ALU_LSH_K: a = (a << k) >>> 0; break;
      case ALU_LSH_X: a = (a << (x & 31)) >>> 0; break;
      case ALU_RSH_K: a = a >>> k; break;
      case ALU_RSH_X: a = a >>> (x & 31); break;
      case NEG: a = (-a) >>> 0; break;
      case TAX: x = a; break;
      case TXA: a = x; break;
      case RET_K: return k;
      case RET_A: return a;
      case JA: pc += k; break;
      case JEQ_K: pc += a === k ? jt[pc]! : jf[pc]!; break;
      case JEQ_X: pc += a === x ? jt[pc]! : jf[pc]!; break;
      case JGT_K: pc += a > k ? jt[pc]! : jf[pc]!; break;
      case JGT_X: pc += a > x ? jt[pc]! : jf[pc]!; break;
      case JGE_K: pc += a >= k ? jt[pc]! : jf[pc]!; break;
      case JGE_X: pc += a >= x ? jt[pc]! : jf[pc]!; break;
      case JSET_K: pc += (a & k) !== 0 ? jt[pc]! : jf[pc]!; break;
      case JSET_X: pc += (a & x) !== 0 ? jt[pc]! : jf[pc]!; break;
      default:
        // Unreachable: compileClassic only accepts checked programs.
        throw new RangeError(`cbpf interpreter: opcode 0x${code[pc]!.toString(16)} at ${pc}`);
    }
    pc++;
  }
}
