/**
 * @module cbpf/opcodes
 * Every opcode the kernel accepts in a classic BPF program (net/core/filter.c
 * `chk_code_allowed`), how bpf_asm spells it, and whether seccomp allows it
 * (kernel/seccomp.c `seccomp_check_filter`). One table, {@link CLASSIC_OPS}, drives the checker,
 * the interpreter, the disassembler and the assembler.
 */
import {
  BPF_LD, BPF_LDX, BPF_ST, BPF_STX, BPF_ALU, BPF_JMP, BPF_RET, BPF_MISC, BPF_K, BPF_X, BPF_A,
  BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD, BPF_XOR,
  BPF_JA, BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_W, BPF_H, BPF_B, BPF_IMM, BPF_ABS, BPF_IND, BPF_MEM,
  BPF_LEN, BPF_MSH, BPF_TAX, BPF_TXA,
} from '../abi/cbpf.js';

/**
 * How the operand of an instruction is written (bpf_asm addressing modes, see the kernel's
 * Documentation/networking/filter.rst):
 *   abs `[k]`, ind `[x + k]`, msh `4*([k]&0xf)`, mem `M[k]`, imm `#k`, len `#len`, x `x`, a `a`,
 *   cond `#k, Lt, Lf` / `x, Lt, Lf`, ja `L`, none (no operand).
 */
export type OperandForm = 'abs' | 'ind' | 'msh' | 'mem' | 'imm' | 'len' | 'x' | 'a' | 'k' | 'cond' | 'ja' | 'none';

export interface OpInfo {
  code: number;
  /** bpf_asm mnemonic. */
  mnemonic: string;
  operand: OperandForm;
  /** Source of a conditional jump or ALU operation: the constant k or the register X. */
  src?: 'k' | 'x';
  /** Allowed in a seccomp filter (seccomp_check_filter). */
  seccomp: boolean;
}

export const ALU_OPS: ReadonlyArray<[op: number, mnemonic: string]> = [
  [BPF_ADD, 'add'], [BPF_SUB, 'sub'], [BPF_MUL, 'mul'], [BPF_DIV, 'div'], [BPF_MOD, 'mod'],
  [BPF_AND, 'and'], [BPF_OR, 'or'], [BPF_XOR, 'xor'], [BPF_LSH, 'lsh'], [BPF_RSH, 'rsh'],
];
export const JMP_OPS: ReadonlyArray<[op: number, mnemonic: string]> = [
  [BPF_JEQ, 'jeq'], [BPF_JGT, 'jgt'], [BPF_JGE, 'jge'], [BPF_JSET, 'jset'],
];

function buildTable(): Map<number, OpInfo> {
  const t = new Map<number, OpInfo>();
  const add = (code: number, mnemonic: string, operand: OperandForm, seccomp: boolean, src?: 'k' | 'x'): void => {
    t.set(code, src ? { code, mnemonic, operand, src, seccomp } : { code, mnemonic, operand, seccomp });
  };
  // Loads. Seccomp rewrites LD W ABS to a load from struct seccomp_data and the LEN loads to
  // the constant 64; the other packet loads are refused.
  add(BPF_LD | BPF_W | BPF_ABS, 'ld', 'abs', true);
  add(BPF_LD | BPF_H | BPF_ABS, 'ldh', 'abs', false);
  add(BPF_LD | BPF_B | BPF_ABS, 'ldb', 'abs', false);
  add(BPF_LD | BPF_W | BPF_IND, 'ld', 'ind', false);
  add(BPF_LD | BPF_H | BPF_IND, 'ldh', 'ind', false);
  add(BPF_LD | BPF_B | BPF_IND, 'ldb', 'ind', false);
  add(BPF_LD | BPF_W | BPF_LEN, 'ld', 'len', true);
  add(BPF_LD | BPF_IMM, 'ld', 'imm', true);
  add(BPF_LD | BPF_MEM, 'ld', 'mem', true);
  add(BPF_LDX | BPF_W | BPF_LEN, 'ldx', 'len', true);
  add(BPF_LDX | BPF_B | BPF_MSH, 'ldxb', 'msh', false);
  add(BPF_LDX | BPF_IMM, 'ldx', 'imm', true);
  add(BPF_LDX | BPF_MEM, 'ldx', 'mem', true);
  add(BPF_ST, 'st', 'mem', true);
  add(BPF_STX, 'stx', 'mem', true);
  // ALU: seccomp's whitelist has every operation but MOD.
  for (const [op, m] of ALU_OPS) {
    add(BPF_ALU | op | BPF_K, m, 'k', op !== BPF_MOD, 'k');
    add(BPF_ALU | op | BPF_X, m, 'x', op !== BPF_MOD, 'x');
  }
  add(BPF_ALU | BPF_NEG, 'neg', 'none', true);
  add(BPF_MISC | BPF_TAX, 'tax', 'none', true);
  add(BPF_MISC | BPF_TXA, 'txa', 'none', true);
  add(BPF_RET | BPF_K, 'ret', 'imm', true);
  add(BPF_RET | BPF_A, 'ret', 'a', true);
  add(BPF_JMP | BPF_JA, 'ja', 'ja', true);
  for (const [op, m] of JMP_OPS) {
    add(BPF_JMP | op | BPF_K, m, 'cond', true, 'k');
    add(BPF_JMP | op | BPF_X, m, 'cond', true, 'x');
  }
  return t;
}

/** The opcodes of net/core/filter.c chk_code_allowed, keyed by code. */
export const CLASSIC_OPS: ReadonlyMap<number, OpInfo> = buildTable();

/** Codes the kernel's seccomp_check_filter lets through, in increasing order. */
export const SECCOMP_CODES: readonly number[] = [...CLASSIC_OPS.values()].filter((o) => o.seccomp).map((o) => o.code).sort((a, b) => a - b);

/** Conditional jumps (JEQ/JGT/JGE/JSET, K or X). */
export function isCondJump(code: number): boolean {
  return (code & 0x07) === BPF_JMP && (code & 0xf0) !== BPF_JA && CLASSIC_OPS.has(code);
}

/** RET K or RET A. */
export function isReturn(code: number): boolean {
  return code === (BPF_RET | BPF_K) || code === (BPF_RET | BPF_A);
}

/** Named opcodes, for readable code elsewhere. */
export const OP = {
  LD_ABS: BPF_LD | BPF_W | BPF_ABS,
  LD_LEN: BPF_LD | BPF_W | BPF_LEN,
  LDX_LEN: BPF_LDX | BPF_W | BPF_LEN,
  LD_IMM: BPF_LD | BPF_IMM,
  LDX_IMM: BPF_LDX | BPF_IMM,
  LD_MEM: BPF_LD | BPF_MEM,
  LDX_MEM: BPF_LDX | BPF_MEM,
  ST: BPF_ST,
  STX: BPF_STX,
  NEG: BPF_ALU | BPF_NEG,
  TAX: BPF_MISC | BPF_TAX,
  TXA: BPF_MISC | BPF_TXA,
  RET_K: BPF_RET | BPF_K,
  RET_A: BPF_RET | BPF_A,
  JA: BPF_JMP | BPF_JA,
  JEQ_K: BPF_JMP | BPF_JEQ | BPF_K,
  JEQ_X: BPF_JMP | BPF_JEQ | BPF_X,
  JGT_K: BPF_JMP | BPF_JGT | BPF_K,
  JGT_X: BPF_JMP | BPF_JGT | BPF_X,
  JGE_K: BPF_JMP | BPF_JGE | BPF_K,
  JGE_X: BPF_JMP | BPF_JGE | BPF_X,
  JSET_K: BPF_JMP | BPF_JSET | BPF_K,
  JSET_X: BPF_JMP | BPF_JSET | BPF_X,
} as const;
