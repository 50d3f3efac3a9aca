/**
 * @module ebpf/insn
 * The instruction model shared by every part of the project.
 *
 * A program is an array of 8-byte slots, exactly as the kernel sees it: index i is slot i, a
 * jump offset counts slots, and lddw (BPF_LD|BPF_IMM|BPF_DW) takes two consecutive entries, the
 * second holding the upper 32 bits of the constant in `imm` and zeros elsewhere. This keeps
 * instruction indices identical to the kernel's verifier log and to llvm-objdump's offsets.
 *
 *   slot:  | code u8 | dst u4 (low) src u4 (high) | off s16 | imm s32 |   (little endian)
 */

export interface Insn {
  /** Opcode byte. */
  code: number;
  /** Destination register 0..10. */
  dst: number;
  /** Source register 0..10, or a pseudo source (map fd, map value, bpf-to-bpf call...). */
  src: number;
  /** Signed 16-bit offset. */
  off: number;
  /** Signed 32-bit immediate. */
  imm: number;
}

export const INSN_SIZE = 8;

export function insn(code: number, dst = 0, src = 0, off = 0, imm = 0): Insn {
  return { code, dst, src, off, imm };
}
