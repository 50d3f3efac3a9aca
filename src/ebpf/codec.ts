/**
 * @module ebpf/codec
 * Wire encoding of eBPF instructions (little-endian, as on x86_64 and aarch64).
 */
import { SeccompEbpfError, type ErrorLocation } from '../errors.js';
import { INSN_SIZE, type Insn } from './insn.js';

/** Decodes raw bytes into slots. Throws ERR_INSN_TRUNCATED if the length is not a multiple of 8. */
export function decodeInsns(bytes: Uint8Array, where?: ErrorLocation): Insn[] {
  if (bytes.length % INSN_SIZE !== 0) {
    throw new SeccompEbpfError('ERR_INSN_TRUNCATED',
      `instruction stream of ${bytes.length} bytes is not a multiple of ${INSN_SIZE}`, where);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Insn[] = new Array(bytes.length / INSN_SIZE);
  for (let i = 0; i < out.length; i++) {
    const o = i * INSN_SIZE;
    const regs = dv.getUint8(o + 1);
    out[i] = { code: dv.getUint8(o), dst: regs & 0x0f, src: regs >> 4, off: dv.getInt16(o + 2, true), imm: dv.getInt32(o + 4, true) };
  }
  return out;
}

/** Encodes slots into bytes. Fields are masked to their widths. */
export function encodeInsns(insns: readonly Insn[]): Uint8Array {
  const out = new Uint8Array(insns.length * INSN_SIZE);
  const dv = new DataView(out.buffer);
  insns.forEach((ins, i) => {
    const o = i * INSN_SIZE;
    dv.setUint8(o, ins.code & 0xff);
    dv.setUint8(o + 1, (ins.dst & 0x0f) | ((ins.src & 0x0f) << 4));
    dv.setInt16(o + 2, ins.off << 16 >> 16, true);
    dv.setInt32(o + 4, ins.imm | 0, true);
  });
  return out;
}
