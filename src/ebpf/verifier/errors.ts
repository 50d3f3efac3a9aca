/**
 * @module ebpf/verifier/errors
 * VerifierError: why a program was rejected, with what a user needs to fix it — a stable code,
 * the instruction index, the rule broken (in the words of the kernel's verifier log, e.g.
 * "invalid bpf_context access off=20 size=4"), the register state at that point formatted like
 * the kernel's log ("R0=scalar() R1=ctx() R10=fp0 fp-8=mmmmmmmm") and the verifier log.
 */
import { SeccompEbpfError } from '../../errors.js';

/** Stable error codes of the verifier (docs/errors.md). */
export const VERIFY_CODES = [
  'ERR_VERIFY_CTX_ACCESS',      // context read that is not a whole-field read, any write/atomic
  'ERR_VERIFY_UNINIT_REG',      // read of a register that holds no value (R%d !read_ok)
  'ERR_VERIFY_UNINIT_STACK',    // read of stack bytes never written
  'ERR_VERIFY_MEM_BOUNDS',      // stack / map value / ring buffer access outside its object
  'ERR_VERIFY_MEM_TYPE',        // load/store through a scalar or a pointer that cannot be dereferenced
  'ERR_VERIFY_NULL_DEREF',      // access through a pointer that may be NULL
  'ERR_VERIFY_PTR_ARITH',       // forbidden arithmetic or comparison on pointers
  'ERR_VERIFY_PTR_LEAK',        // pointer value escaping for a loader without pointer-leak rights
  'ERR_VERIFY_HELPER_UNKNOWN',  // helper not granted to this loader, or kfunc
  'ERR_VERIFY_HELPER_ARG',      // helper argument of the wrong type, size or map type
  'ERR_VERIFY_GPL',             // GPL-only helper from a non-GPL-compatible program
  'ERR_VERIFY_MAP_ACCESS',      // map-value access forbidden (restricted mode, .rodata write)
  'ERR_VERIFY_REF_LEAK',        // ring buffer record neither submitted nor discarded
  'ERR_VERIFY_UNREACHABLE',     // instruction no path reaches
  'ERR_VERIFY_CFG',             // bad jump, back-edge, fall-through, calls not allowed
  'ERR_VERIFY_INFINITE_LOOP',   // a path returns to a state it was already in
  'ERR_VERIFY_TOO_COMPLEX',     // 1M processed instructions or 8192 pending branches
  'ERR_VERIFY_TOO_LARGE',       // more than 4096 instructions for a loader without CAP_BPF
  'ERR_VERIFY_STACK',           // call depth or combined stack size
  'ERR_VERIFY_RETURN',          // R0 at exit uninitialised or a pointer
  'ERR_VERIFY_INSN',            // instruction the program type does not allow (LD_ABS, r10 write...)
] as const;
export type VerifyCode = (typeof VERIFY_CODES)[number];

export interface VerifierErrorInfo {
  insn: number;
  rule: string;
  state: string;
  log: string;
  file?: string;
}

/** A rejected program. `message` is `rule`; `.state` and `.log` hold the details. */
export class VerifierError extends SeccompEbpfError {
  /** The rule broken, as the kernel's log says it. */
  readonly rule: string;
  /** Register and stack state of the current frame where it failed ('' when not applicable). */
  readonly state: string;
  /** The verifier log (empty at log level 0, except for the failure lines). */
  readonly log: string;
  readonly insn: number;

  constructor(code: VerifyCode, info: VerifierErrorInfo) {
    const location = info.file !== undefined ? { file: info.file, insn: info.insn } : { insn: info.insn };
    super(code, info.rule, location);
    this.name = 'VerifierError';
    this.rule = info.rule;
    this.state = info.state;
    this.log = info.log;
    this.insn = info.insn;
  }
}

/**
 * Thrown inside the verifier and turned into a VerifierError (with state and log) at the top;
 * carries only what the check knew.
 */
export class Reject extends Error {
  constructor(readonly code: VerifyCode, readonly rule: string, readonly insn?: number) {
    super(rule);
  }
}

/** Throws a Reject. */
export function reject(code: VerifyCode, rule: string, insn?: number): never {
  throw new Reject(code, rule, insn);
}
