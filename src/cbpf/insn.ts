/**
 * @module cbpf/insn
 * Classic BPF instructions (struct sock_filter), as seccomp(2) takes them.
 *
 *   | code u16 | jt u8 | jf u8 | k u32 |   (8 bytes, native endian)
 */

export interface CInsn {
  /** Opcode (class | size/op | mode/src). */
  code: number;
  /** Conditional jump offsets (forward, in instructions) when true / false. */
  jt: number;
  jf: number;
  /** 32-bit constant (unsigned). */
  k: number;
}

export const CINSN_SIZE = 8;
/** The kernel's per-filter limit (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;
/** seccomp's limit on a whole filter chain, counted in converted eBPF instructions (plus 4 per
 *  filter), not classic ones: size filters with kernelProgramLength / checkChain (cbpf/check). */
export const MAX_INSNS_PER_PATH = 32768;
/** Scratch memory words M[0..15]. */
export const BPF_MEMWORDS = 16;

export function cinsn(code: number, k = 0, jt = 0, jf = 0): CInsn {
  return { code, jt, jf, k: k >>> 0 };
}
