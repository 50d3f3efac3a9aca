/**
 * @module cbpf/check
 * The kernel's acceptance rules for classic BPF, exactly: net/core/filter.c
 * `bpf_check_basics_ok` + `bpf_check_classic` + `check_load_and_stores`, then (for seccomp)
 * kernel/seccomp.c `seccomp_check_filter`, in that order, and the chain limit of
 * `seccomp_attach_filter`. Every rejection here is an EINVAL from seccomp(2) (the chain limit is
 * ENOMEM); test/cbpf-kernel.test.ts compares these rules with the running kernel.
 */
import { SeccompEbpfError } from '../errors.js';
import { BPF_MAXINSNS, BPF_MEMWORDS, MAX_INSNS_PER_PATH, type CInsn } from './insn.js';
import { checkFields } from './codec.js';
import { CLASSIC_OPS, OP, isCondJump, isReturn } from './opcodes.js';
import {
  BPF_ALU, BPF_DIV, BPF_MOD, BPF_LSH, BPF_RSH, BPF_K, BPF_X, BPF_JSET, BPF_LD, BPF_W, BPF_H, BPF_B, BPF_ABS, SKF_AD_OFF, SKF_AD_MAX,
} from '../abi/cbpf.js';
import { SECCOMP_DATA_SIZE } from '../abi/seccomp.js';

export interface CheckOptions {
  /** Apply seccomp_check_filter's rules too (default true); false checks a socket filter. */
  seccomp?: boolean;
}

/** Which kernel rule a program breaks. */
export type ClassicRule =
  | 'length' // bpf_check_basics_ok: 1..BPF_MAXINSNS instructions
  | 'opcode' // chk_code_allowed
  | 'div-by-zero' // DIV/MOD by constant 0
  | 'shift-range' // LSH/RSH by constant >= 32
  | 'mem-index' // M[k] with k >= BPF_MEMWORDS
  | 'jump-range' // a jump target beyond the last instruction
  | 'ancillary' // LD ABS at SKF_AD_OFF + an unknown ancillary offset
  | 'no-return' // the last instruction is not RET K / RET A
  | 'mem-uninit' // check_load_and_stores: M[k] read before written on some path
  | 'seccomp-opcode' // not in seccomp_check_filter's whitelist
  | 'seccomp-load'; // LD W ABS not 32-bit aligned or beyond struct seccomp_data

export interface ClassicProblem {
  rule: ClassicRule;
  /** Index of the offending instruction (absent for the length rule). */
  insn?: number;
  message: string;
}

/** ERR_CBPF_INVALID: the kernel would refuse the program (seccomp(2) EINVAL). */
export class ClassicCheckError extends SeccompEbpfError {
  readonly rule: ClassicRule;
  constructor(p: ClassicProblem) {
    super('ERR_CBPF_INVALID', `invalid classic BPF program: ${p.message} [${p.rule}]`, p.insn !== undefined ? { insn: p.insn } : undefined);
    this.rule = p.rule;
  }
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/**
 * Returns the first rule the program breaks, in the kernel's checking order, or undefined if
 * seccomp(2) (or SO_ATTACH_FILTER, with `seccomp: false`) would accept it.
 * Throws ERR_CBPF_FIELD if an instruction's fields do not fit struct sock_filter.
 */
export function findClassicProblem(filter: readonly CInsn[], opts: CheckOptions = {}): ClassicProblem | undefined {
  checkOptions(opts);
  checkFields(filter);
  const flen = filter.length;
  if (flen === 0 || flen > BPF_MAXINSNS) {
    return { rule: 'length', message: `program has ${flen} instructions; the kernel takes 1 to ${BPF_MAXINSNS}` };
  }
  for (let pc = 0; pc < flen; pc++) {
    const p = checkInsn(filter[pc]!, pc, flen);
    if (p) return p;
  }
  if (!isReturn(filter[flen - 1]!.code)) {
    return { rule: 'no-return', insn: flen - 1, message: 'last instruction must be a RET code' };
  }
  const uninit = checkLoadAndStores(filter);
  if (uninit) return uninit;
  if (opts.seccomp === false) return undefined;
  for (let pc = 0; pc < flen; pc++) {
    const { code, k } = filter[pc]!;
    const info = CLASSIC_OPS.get(code)!;
    if (!info.seccomp) {
      return { rule: 'seccomp-opcode', insn: pc, message: `opcode ${hex(code)} (${info.mnemonic}) is not allowed in a seccomp filter` };
    }
    if (code === OP.LD_ABS && ((k >>> 0) >= SECCOMP_DATA_SIZE || (k & 3) !== 0)) {
      return { rule: 'seccomp-load', insn: pc, message: `load offset ${k >>> 0} must be 32-bit aligned and inside struct seccomp_data (64 bytes)` };
    }
  }
  return undefined;
}

/**
 * Throws ClassicCheckError (ERR_CBPF_INVALID, with the instruction index and the rule) if the
 * kernel would refuse the program; ERR_CBPF_FIELD for fields that do not fit.
 */
export function checkClassic(filter: readonly CInsn[], opts: CheckOptions = {}): void {
  const p = findClassicProblem(filter, opts);
  if (p) throw new ClassicCheckError(p);
}

/**
 * Length of the eBPF program the kernel makes of a seccomp filter (net/core/filter.c
 * bpf_convert_filter): what seccomp_attach_filter counts against MAX_INSNS_PER_PATH, so the
 * chain limit is not in classic instructions. 3 prologue instructions, then per instruction:
 * 1, except RET K 2; DIV/MOD X 5 (the division-by-zero exit); a conditional jump 1 if jf is 0,
 * or jt is 0 and it is not JSET, otherwise 2, plus 1 when its constant is negative as an s32.
 * Assumes a program checkClassic accepts (and constant blinding off, net.core.bpf_jit_harden).
 */
export function kernelProgramLength(filter: readonly CInsn[]): number {
  let n = 3;
  for (const { code, jt, jf, k } of filter) {
    if (code === OP.RET_K) n += 2;
    else if (code === (BPF_ALU | BPF_DIV | BPF_X) || code === (BPF_ALU | BPF_MOD | BPF_X)) n += 5;
    else if (isCondJump(code)) {
      if ((code & BPF_X) === 0 && (k | 0) < 0) n += 1;
      n += jf === 0 || (jt === 0 && (code & 0xf0) !== BPF_JSET) ? 1 : 2;
    } else n += 1;
  }
  return n;
}

/**
 * What seccomp_attach_filter counts when the last of `filters` is installed on top of the
 * others (installed in order): the new program's length plus, for each filter already attached,
 * its length + 4. Lengths are kernelProgramLength's.
 */
export function chainInstructionCount(filters: readonly (readonly CInsn[])[]): number {
  let total = 0;
  filters.forEach((f, i) => { total += kernelProgramLength(f) + (i === filters.length - 1 ? 0 : 4); });
  return total;
}

/**
 * Checks every filter (as checkClassic with seccomp rules) and that installing them in order
 * stays within MAX_INSNS_PER_PATH (32768, see chainInstructionCount). Throws ERR_CBPF_INVALID
 * (location.insn is the index in that filter; the message names the filter) or
 * ERR_CBPF_CHAIN_TOO_LONG (seccomp(2) ENOMEM).
 */
export function checkChain(filters: readonly (readonly CInsn[])[]): void {
  if (!Array.isArray(filters)) throw new SeccompEbpfError('ERR_CBPF_FIELD', 'a filter chain must be an array of programs');
  filters.forEach((f, i) => {
    const p = findClassicProblem(f);
    if (p) throw new ClassicCheckError({ ...p, message: `filter ${i}: ${p.message}` });
  });
  for (let n = 1; n <= filters.length; n++) {
    const total = chainInstructionCount(filters.slice(0, n));
    if (total > MAX_INSNS_PER_PATH) {
      throw new SeccompEbpfError('ERR_CBPF_CHAIN_TOO_LONG',
        `filter ${n - 1} would make the chain ${total} eBPF instructions long once converted (limit ${MAX_INSNS_PER_PATH}, plus 4 per earlier filter)`);
    }
  }
}

function checkOptions(opts: CheckOptions): void {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('options must be an object');
  for (const key of Object.keys(opts)) if (key !== 'seccomp') throw new TypeError(`unknown option '${key}'`);
}

/** One iteration of bpf_check_classic's loop. */
function checkInsn(ins: CInsn, pc: number, flen: number): ClassicProblem | undefined {
  const { code, jt, jf } = ins;
  const k = ins.k >>> 0;
  if (!CLASSIC_OPS.has(code)) return { rule: 'opcode', insn: pc, message: `unknown opcode ${hex(code)}` };
  switch (code) {
    case BPF_ALU | BPF_DIV | BPF_K:
    case BPF_ALU | BPF_MOD | BPF_K:
      if (k === 0) return { rule: 'div-by-zero', insn: pc, message: 'division by zero' };
      break;
    case BPF_ALU | BPF_LSH | BPF_K:
    case BPF_ALU | BPF_RSH | BPF_K:
      if (k >= 32) return { rule: 'shift-range', insn: pc, message: `shift by ${k} (must be below 32)` };
      break;
    case OP.LD_MEM: case OP.LDX_MEM: case OP.ST: case OP.STX:
      if (k >= BPF_MEMWORDS) return { rule: 'mem-index', insn: pc, message: `invalid memory address M[${k}] (M[0] to M[${BPF_MEMWORDS - 1}])` };
      break;
    case OP.JA:
      // The kernel compares k with flen - pc - 1 unsigned: k is a full u32.
      if (k >= flen - pc - 1) return { rule: 'jump-range', insn: pc, message: `ja +${k} jumps past the last instruction` };
      break;
    case BPF_LD | BPF_W | BPF_ABS:
    case BPF_LD | BPF_H | BPF_ABS:
    case BPF_LD | BPF_B | BPF_ABS:
      if (k >= SKF_AD_OFF && !((k - SKF_AD_OFF) < SKF_AD_MAX && (k - SKF_AD_OFF) % 4 === 0)) {
        return { rule: 'ancillary', insn: pc, message: `ancillary operation ${hex(k)} unknown or unsupported` };
      }
      break;
    default:
      if (isCondJump(code) && (pc + jt + 1 >= flen || pc + jf + 1 >= flen)) {
        return { rule: 'jump-range', insn: pc, message: `conditional jump (jt ${jt}, jf ${jf}) past the last instruction` };
      }
  }
  return undefined;
}

/**
 * check_load_and_stores: a forward pass with one bit per scratch word, "written on every path
 * here". Like the kernel, it does not reset the state after a RET, so code right after a RET
 * that is only reachable by jumps also inherits what the RET's path had stored; that only ever
 * rejects more (or accepts reads in unreachable code), and we mirror it bit for bit.
 */
function checkLoadAndStores(filter: readonly CInsn[]): ClassicProblem | undefined {
  const masks = new Uint16Array(filter.length).fill(0xffff);
  let memvalid = 0;
  for (let pc = 0; pc < filter.length; pc++) {
    memvalid &= masks[pc]!;
    const { code, jt, jf } = filter[pc]!;
    const k = filter[pc]!.k >>> 0;
    switch (code) {
      case OP.ST: case OP.STX:
        memvalid |= 1 << k;
        break;
      case OP.LD_MEM: case OP.LDX_MEM:
        if (!(memvalid & (1 << k))) {
          return { rule: 'mem-uninit', insn: pc, message: `M[${k}] may be read before it is written` };
        }
        break;
      case OP.JA:
        masks[pc + 1 + k] &= memvalid;
        memvalid = 0xffff;
        break;
      default:
        if (isCondJump(code)) {
          masks[pc + 1 + jt] &= memvalid;
          masks[pc + 1 + jf] &= memvalid;
          memvalid = 0xffff;
        }
    }
  }
  return undefined;
}
