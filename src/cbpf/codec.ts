/**
 * @module cbpf/codec
 * Wire encoding of classic BPF programs: an array of `struct sock_filter` (8 bytes each,
 * native little endian on x86_64 and aarch64), as `struct sock_fprog.filter` points to.
 *
 *   | code u16 | jt u8 | jf u8 | k u32 |
 */
import { SeccompEbpfError, type ErrorLocation } from '../errors.js';
import { CINSN_SIZE, type CInsn } from './insn.js';

/**
 * Decodes `struct sock_filter` bytes.
 * Throws ERR_CBPF_BYTES if `bytes` is not a Uint8Array whose length is a multiple of 8.
 */
export function decodeClassic(bytes: Uint8Array, where?: ErrorLocation): CInsn[] {
  if (!(bytes instanceof Uint8Array)) throw new SeccompEbpfError('ERR_CBPF_BYTES', 'classic BPF bytes must be a Uint8Array', where);
  if (bytes.length % CINSN_SIZE !== 0) {
    throw new SeccompEbpfError('ERR_CBPF_BYTES', `classic BPF program of ${bytes.length} bytes is not a multiple of ${CINSN_SIZE}`, where);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: CInsn[] = new Array(bytes.length / CINSN_SIZE);
  for (let i = 0; i < out.length; i++) {
    const o = i * CINSN_SIZE;
    out[i] = { code: dv.getUint16(o, true), jt: dv.getUint8(o + 2), jf: dv.getUint8(o + 3), k: dv.getUint32(o + 4, true) };
  }
  return out;
}

/**
 * Encodes instructions as `struct sock_filter` bytes. Fields are never truncated: a code that is
 * not a u16, a jt/jf that is not a u8 or a k outside -2^31 .. 2^32-1 is ERR_CBPF_FIELD.
 */
export function encodeClassic(filter: readonly CInsn[]): Uint8Array {
  checkFields(filter);
  const out = new Uint8Array(filter.length * CINSN_SIZE);
  const dv = new DataView(out.buffer);
  filter.forEach((ins, i) => {
    const o = i * CINSN_SIZE;
    dv.setUint16(o, ins.code, true);
    dv.setUint8(o + 2, ins.jt);
    dv.setUint8(o + 3, ins.jf);
    dv.setUint32(o + 4, ins.k >>> 0, true);
  });
  return out;
}

const isInt = (v: unknown, lo: number, hi: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;

/**
 * Checks that `filter` is an array of instructions whose fields fit `struct sock_filter`
 * (k may be given signed or unsigned). Throws ERR_CBPF_FIELD with the instruction index.
 */
export function checkFields(filter: readonly CInsn[]): void {
  if (!Array.isArray(filter)) throw new SeccompEbpfError('ERR_CBPF_FIELD', 'a classic BPF program must be an array of instructions');
  for (let i = 0; i < filter.length; i++) {
    const ins = filter[i] as Partial<CInsn> | undefined;
    if (typeof ins !== 'object' || ins === null) throw new SeccompEbpfError('ERR_CBPF_FIELD', 'instruction is not an object', { insn: i });
    const bad = !isInt(ins.code, 0, 0xffff) ? `code ${String(ins.code)} is not a u16`
      : !isInt(ins.jt, 0, 0xff) ? `jt ${String(ins.jt)} is not a u8`
        : !isInt(ins.jf, 0, 0xff) ? `jf ${String(ins.jf)} is not a u8`
          : !isInt(ins.k, -0x8000_0000, 0xffff_ffff) ? `k ${String(ins.k)} is not a 32-bit integer` : undefined;
    if (bad) throw new SeccompEbpfError('ERR_CBPF_FIELD', bad, { insn: i });
  }
}
