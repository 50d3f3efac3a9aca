/**
 * @module cbpf/data
 * Builds and reads `struct seccomp_data` (include/uapi/linux/seccomp.h), the 64 bytes a seccomp
 * filter reads, in native little endian:
 *
 *   | nr s32 | arch u32 | instruction_pointer u64 | args[6] u64 |
 *     0        4          8                         16 + 8*i
 */
import { SeccompEbpfError } from '../errors.js';
import { AUDIT_ARCH_X86_64, SECCOMP_DATA_SIZE } from '../abi/seccomp.js';

export interface SeccompDataFields {
  /** Syscall number (default 0); stored as 32 bits. */
  nr?: number;
  /** AUDIT_ARCH_* (default AUDIT_ARCH_X86_64). */
  arch?: number;
  instructionPointer?: bigint;
  /** Up to six arguments, each taken modulo 2^64 (negative numbers wrap). */
  args?: readonly (bigint | number)[];
}

/** Packs the fields into 64 bytes. Throws ERR_CBPF_DATA for more than six arguments or non-integers. */
export function seccompData(fields: SeccompDataFields = {}): Uint8Array {
  const out = new Uint8Array(SECCOMP_DATA_SIZE);
  const dv = new DataView(out.buffer);
  const int = (v: unknown, what: string): bigint => {
    if (typeof v === 'bigint') return v;
    if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
    throw new SeccompEbpfError('ERR_CBPF_DATA', `${what} must be an integer, got ${String(v)}`);
  };
  dv.setUint32(0, Number(BigInt.asUintN(32, int(fields.nr ?? 0, 'nr'))), true);
  dv.setUint32(4, Number(BigInt.asUintN(32, int(fields.arch ?? AUDIT_ARCH_X86_64, 'arch'))), true);
  dv.setBigUint64(8, BigInt.asUintN(64, int(fields.instructionPointer ?? 0n, 'instructionPointer')), true);
  const args = fields.args ?? [];
  if (args.length > 6) throw new SeccompEbpfError('ERR_CBPF_DATA', `a syscall has at most 6 arguments, got ${args.length}`);
  args.forEach((a, i) => dv.setBigUint64(16 + 8 * i, BigInt.asUintN(64, int(a, `args[${i}]`)), true));
  return out;
}

/** Throws ERR_CBPF_DATA unless `data` is a 64-byte Uint8Array. */
export function checkSeccompData(data: Uint8Array): void {
  if (!(data instanceof Uint8Array) || data.length !== SECCOMP_DATA_SIZE) {
    const what = data instanceof Uint8Array ? `${data.length} bytes` : typeof data;
    throw new SeccompEbpfError('ERR_CBPF_DATA', `seccomp_data must be a Uint8Array of ${SECCOMP_DATA_SIZE} bytes, got ${what}`);
  }
}
