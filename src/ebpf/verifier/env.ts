/**
 * @module ebpf/verifier/env
 * What every check of the verifier core works on: the options, the analysed program, the state
 * of the path being walked and the current instruction, plus small shared helpers.
 */
import type { MapSpec } from '../maps/types.js';
import type { Program } from './cfg.js';
import { reject } from './errors.js';
import type { Reg } from './regs.js';
import { curFrame, type Frame, type State } from './state.js';
import type { VerifierOptions } from './types.js';

export interface Env {
  readonly opts: VerifierOptions;
  readonly maps: readonly MapSpec[];
  readonly prog: Program;
  /** The kernel's allow_uninit_stack / bypass_spec_v1: both follow CAP_PERFMON, as allowPtrLeaks. */
  readonly allowUninitStack: boolean;
  /** State of the path being walked. */
  st: State;
  /** Index of the instruction being checked. */
  pc: number;
  /** Deepest stack byte (as a positive offset) each subprogram touches. */
  readonly stackDepth: number[];
  /** A fresh id for pointers that may be NULL, linked scalars and references. */
  newId(): number;
  /** Explores `st` from instruction `pc` later (a path split inside one instruction). */
  fork(st: State, pc: number): void;
}

export const frameOf = (env: Env): Frame => curFrame(env.st);
export const regOf = (env: Env, n: number): Reg => curFrame(env.st).regs[n]!;
export function setReg(env: Env, n: number, r: Reg): void {
  curFrame(env.st).regs[n] = r;
}

/** The kernel's check_reg_arg(SRC_OP): the register must hold a value. */
export function readReg(env: Env, n: number): Reg {
  const r = regOf(env, n);
  if (r.kind === 'not_init') reject('ERR_VERIFY_UNINIT_REG', `R${n} !read_ok`);
  return r;
}

/** The kernel's check_reg_arg(DST_OP): r10 is read-only. */
export function checkDst(n: number): void {
  if (n === 10) reject('ERR_VERIFY_INSN', 'frame pointer is read only');
}

/** The kernel's is_pointer_value(): a pointer that this loader may not use as a number. */
export const leaksPointer = (env: Env, r: Reg): boolean =>
  !env.opts.allowPtrLeaks && r.kind !== 'scalar' && r.kind !== 'not_init';

export const BPF_MAX_VAR_OFF = 1 << 29;
export const BPF_MAX_VAR_SIZ = 1 << 29;
export const MAX_BPF_STACK = 512;
